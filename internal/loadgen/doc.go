// Package loadgen is hush's load generator and comparison harness: it sets up N calls on a
// relay under test (hushd over gRPC, or Sipwise rtpengine over its ng control protocol),
// sends G.711 RTP at 20 ms on both legs of every call with real pacing, receives everything
// and reports loss, reordering, added latency and jitter, and the relay's CPU and memory.
//
// # Measurement
//
// Every packet carries its stream, extended sequence number and send time (monotonic
// nanoseconds since the run started) in the first bytes of its payload, so the receiver
// computes the latency a relay adds without clock synchronisation: both ends are this
// process. Relays under test forward payloads byte for byte (hush with masking off,
// rtpengine without transcoding); a packet whose payload fails its check is counted by its
// RTP header and left out of latency.
//
// Jitter follows RFC 3550 section 6.4.1 (J += (|D| - J)/16). Three are kept per stream:
// at the receiver against the RTP timestamp (what a phone would see), the same on the send
// times (the generator's own pacing jitter), and on transit times (receive minus send: the
// jitter the relay adds, independent of the generator's pacing).
//
// CPU is read from /proc/PID/stat (utime + stime, clock ticks of 10 ms) at the start and
// end of the measurement window and divided by the packets the relay forwarded in it
// (packets received by the generator in the window). The generator measures its own CPU
// (getrusage) the same way, so a report shows when the generator, not the relay, is the
// limit. RSS is VmRSS from /proc/PID/status.
//
// # Cost of the generator
//
// Calls share a few sockets per side (the relay sends each leg to its remote address, and
// many legs may have the same remote), a few sender goroutines pace all streams, each stream
// at a fixed phase within the 20 ms period so sends are spread evenly instead of bursting
// on a tick, and one receive goroutine per socket reads with no allocation per packet.
package loadgen
