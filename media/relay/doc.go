// Package relay moves a call's RTP and RTCP between its two legs, customer
// and agent, on UDP sockets from a configured port range.
//
// # Engine and processing
//
// The code keeps socket I/O (the engine, engine.go) apart from what happens
// to a packet (process.go). The engine here is one goroutine per socket: a
// blocking read into the goroutine's own buffer, process, and the send on
// the same goroutine. There is no queue between receive and send, so the
// relay adds no jitter and needs no buffer pool. Batched engines (recvmmsg,
// io_uring) can replace engine.go and keep process and the stages.
//
// process validates the datagram (RTP, RFC 3550 section 5.1; RTCP, section
// 6.4.1 and appendix A.2; rtcp-mux demultiplexing, RFC 5761 section 4),
// checks or latches its source, runs the direction's Stages (none yet; G.711
// decode, DTMF detection and masking come later) and picks the destination.
// Packets are forwarded byte for byte: header, sequence number, timestamp,
// SSRC and payload untouched.
//
// # Control state
//
// The packet loop never takes a lock or receives from a channel. Each leg's
// remote configuration is an immutable value behind an atomic.Pointer,
// loaded once per packet. SetRemote (a re-INVITE) publishes a new value;
// latching publishes one with compare-and-swap, so a latch racing with
// SetRemote re-evaluates against the newer state. Counters are atomics;
// metrics go to small Counter and Observer interfaces that prometheus types
// satisfy, so this package does not import prometheus.
// The loop reads no clock per packet (a clock read costs more than the rest
// of process): it counts accepted packets, and LastActivity stamps the time
// when a poll sees the count move. Latency is timed on one packet in N.
//
// # Symmetric RTP and latching
//
// Each leg sends from the socket its remote sends to (symmetric RTP, RFC
// 4961), so NAT bindings hold and a remote can be learned from its packets.
// A leg configured without a remote latches to the source of its first valid
// RTP packet; its RTCP remote is configured, learned from its first valid
// RTCP packet, or until then derived from the RTP remote (the same address
// with rtcp-mux, else port+1, RFC 3550 section 11). A leg latches once;
// SetRemote with a zero remote re-arms it. Only valid packets latch, so
// garbage cannot steer a call. With StrictSource, packets from any address
// other than the leg's remote are dropped (DropSourceMismatch); without it
// they are forwarded and the remote stays. A packet towards a leg whose
// remote is not known yet is dropped (DropNoRemote).
//
// # Ports
//
// PortAllocator binds an even port for RTP and the odd port above it for
// RTCP (one port with rtcp-mux), skipping ports other processes hold, and
// rotates through its range so a freed port is not reused at once.
package relay
