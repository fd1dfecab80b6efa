// Package relay moves a call's RTP and RTCP between its two legs, customer
// and agent, on UDP sockets from a configured port range.
//
// # Engines and processing
//
// The code keeps socket I/O (the Engine) apart from what happens to a
// packet (pipeline.go and process.go), so engines swap without touching the
// stages. Every engine hands each datagram to the same per-socket receiver
// (process, rate gate, delay line or send) on the goroutine that received
// it: there is no queue between receive and send, so the relay adds no
// jitter and needs no buffer pool.
//
//   - portable (engine.go, any OS): one goroutine per socket, blocking
//     reads through Go's netpoller into the goroutine's own buffer. Each
//     datagram wakes its goroutine.
//   - epoll (engine_epoll.go, Linux): W worker goroutines (GOMAXPROCS/2),
//     each with its own epoll instance and a call's sockets all on one
//     worker (so a direction stays on one goroutine: order and the delay
//     line's single owner hold). The sockets are raw non-blocking
//     descriptors that Go's netpoller never sees (one poller per datagram,
//     not two). A worker waits in epoll_pwait2 with the earliest
//     delay-line release as timeout, drains each readable socket with
//     recvmmsg (32 a call) into preallocated buffers and sends with
//     sendto; both never block, so they are raw system calls the Go
//     scheduler does not see. At telephony rates most relay CPU is the
//     kernel's per-datagram and per-wake-up work, so under load a worker
//     lingers (EngineOptions.Linger, 250 us) before polling again and one
//     wake-up collects many sockets' datagrams; it lingers only when its
//     recent rate brings at least one more datagram per wait, so a quiet
//     relay adds no latency.
//   - io_uring (engine_uring.go over raw system calls, uring_linux.go;
//     Linux 6.1 for the full effect): the epoll engine's layout, but each
//     worker owns a ring, created on the worker's locked thread with
//     IORING_SETUP_SINGLE_ISSUER and DEFER_TASKRUN. Every socket has one
//     multishot IORING_OP_RECVMSG outstanding that takes buffers from the
//     worker's provided buffer ring (IORING_REGISTER_PBUF_RING), so
//     receiving costs no system call per socket; sends are queued as
//     IORING_OP_SENDMSG (the datagram copied into a send slot) and go out
//     with the next io_uring_enter, which also waits: for one completion
//     when quiet, or under load for as many as Linger should bring,
//     bounded by Linger and the next delay-line release
//     (IORING_ENTER_EXT_ARG). With deferred task work the kernel wakes the
//     worker once when that many are ready, not once per datagram (without
//     it the io_uring engine cost as much as epoll). Its send errors arrive
//     as completions, after the packet was counted as sent; they are
//     counted as DropSendError too. Detaching a call cancels its receives
//     and waits for their last completions (the kernel holds the sockets
//     until then).
//
// NewEngine fails with ErrEngineUnavailable when the kernel or a sandbox
// refuses an engine (containers often block io_uring_setup); EngineAuto
// (hushd's default) takes io_uring, else epoll, else portable. Tests run
// the whole suite once per engine that works and skip, with a message, the
// ones that do not. A Call without WithEngine uses the portable engine.
//
// A daemon makes one Engine (NewEngine) and passes it to each Call with
// WithEngine; it closes the engine after its calls.
//
// Measured with cmd/hushload (500 calls, G.711 20 ms both ways, 50,000
// packets/s, loopback, 2 shared cores), relay CPU-seconds per million
// packets. Alternating runs, medians of three: portable 7.7, epoll 5.9,
// io_uring 6.4 before deferred task work. With it, in one -compare run:
// io_uring 5.3, rtpengine 8.7 (ratio 0.60), latency p99 2.2 ms for both
// (the no-relay floor 0.3 ms on this loaded box), p50 0.40 vs 0.33 ms,
// added transit jitter 0.18 vs 0.33 ms. Scaling 100/250/500/1000 calls
// falls for every engine: io_uring 16.2/7.4/5.6/5.0, epoll
// 10.2/7.2/6.2/4.3, portable 12.4/9.9/8.4/6.3. 0 packets lost in all.
// epoll's median latency is about 0.9 ms (its fixed linger) against
// 0.4-0.5 ms for portable and io_uring. Per packet, the Go code (process
// and the receiver) is about 5% of relay CPU; the rest is the kernel's UDP
// send and receive path (sendto alone, which runs the loopback receive, is
// half) and wake-ups. BenchmarkEngineForward: 0 allocs/op for every
// engine.
//
// Left to do: epoll's linger is a fixed sleep (a period would halve its
// added latency); io_uring at 100 calls costs more per packet than the
// others: a lightly loaded worker waits in io_uring_enter for few
// completions, and a goroutine that is always in a system call keeps the
// runtime's sysmon polling (a quarter of the relay's CPU there; waiting in
// a raw system call that keeps the P halved that cost but stalled the
// process under CPU starvation, so it was not kept);
// io_uring sends copy the datagram and use sendmsg, where IORING_OP_SEND
// with a destination address and registered buffers would not.
//
// process validates the datagram (RTP, RFC 3550 section 5.1; RTCP, section
// 6.4.1 and appendix A.2; rtcp-mux demultiplexing, RFC 5761 section 4),
// checks or latches its source, runs the direction's Stages and picks the
// destination. An unmasked direction forwards packets byte for byte:
// header, sequence number, timestamp, SSRC and payload untouched, no delay.
//
// # Masking
//
// Call.SetMaskPolicy publishes a direction's mask.Policy (an immutable value
// behind an atomic.Pointer, loaded once per packet). A masked direction's
// RTP goes through a mask.Masker (delay.go) owned by the receiving socket's
// goroutine, which both receives and releases: while packets are queued the
// engine's timer is the next release time (the portable engine's read
// deadline, a runtime timer; the epoll or io_uring worker's wait
// timeout), and on
// timeout or on the next arrival it sends what is due.
// So a masked direction stays on one goroutine, with no lock, channel or
// extra thread; the detector (about 1 us per packet) runs only there. The
// masker delays each packet by the look-ahead L (default 60 ms) and
// replaces DTMF in it, keeping sequence number, timestamp, SSRC and count;
// RFC 4733 events are withheld (DropMaskedEvent; in tone mode a tone packet
// stands in where the phone sent no audio), payload types hush cannot
// decode dropped (DropUndecodable, fail closed), and a packet that finds
// the queue full is dropped unanalysed (DropMaskOverflow), never sent.
// Switching masking on starts the delay (a one-time gap of L); switching it
// off flushes the queue at the next arrival or release time. RTCP is not
// delayed. Secure capture (Policy.Capture) delivers digits to WithDigits.
//
// WithRecordTap gives the recording each direction's audio (G.711 codes)
// with DTMF always marked for silence (in-band and RFC 4733, whatever the
// forwarding policy), delayed on the sample timeline by L_rec (80 ms), and
// the masked stretches for the sidecar; with a tap the detector runs on
// every audio packet of both directions, masked or not, and Close delivers
// the frames still queued. Each frame comes with the time its first sample
// arrived: the last frames of a talk spurt wait for what follows (the next
// spurt, or Close), and the recording places them by it. The tap's Sink is
// called through no closure (each delay line holds its direction's), a Sink
// that is a RecordPrefetcher has its state prefetched with the packet's in
// the io_uring engine, and one that is an UndecodableRecorder hears of each
// packet in a codec hush cannot decode (silence in the recording).
//
// In the epoll and io_uring engines L counts from the packet's arrival at
// the socket (the kernel's SO_TIMESTAMPNS receive stamp), so time spent
// waiting for the engine's batch is part of L, not added to it; the
// portable engine counts from when it reads the packet. A release rides on
// an arrival when one falls up to 0.5 ms before its due time; otherwise a
// timer releases it: at the due time in the epoll and io_uring engines
// (a min-heap of release times bounds each wait, timers.go; due releases
// go before a new batch of receives), 0.5 ms after it in the portable
// engine, where a later arrival can still carry it. In the portable engine Go's net
// package wraps each read timeout in a new *net.OpError (80 bytes), the one
// allocation of its masked path (epoll and io_uring have none) (TestMaskedDelayRealTime: about 0.3 per packet on
// loopback at 200 packets/s; the packet work itself allocates nothing).
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
// Whoever can reach a media port can send to it, so latching is guarded:
//
//   - A leg configured with an ExpectedIP latches to the first valid RTP
//     packet from that IP, on any port (a NAT picks the port), and to
//     nothing else.
//   - Without one, it latches only after LatchProbation consistent valid RTP
//     packets: one source, one SSRC, sequence numbers each a few ahead. A
//     packet from another source restarts the probation with that source
//     (the displaced one is refused as LatchRejectCompeting), so a scan of
//     one packet per port never takes a leg; with StrictSource the packets
//     in probation wait (DropLatching).
//   - RTCP latches only once the RTP remote is known, from its IP; until
//     then RTCP goes to the RTP remote's address (the same with rtcp-mux,
//     else port+1, RFC 3550 section 11).
//   - A leg latches once; only SetRemote moves it (a zero remote re-arms
//     latching).
//
// Only valid packets latch, so garbage cannot steer a call. Packets refused
// as a leg's remote are counted by LatchReject (LegStats.LatchRejects,
// DirectionMetrics.LatchRejects) and reported at a leg's 1st, 2nd, 4th...
// refusal (WithOnLatchReject); with StrictSource they are dropped
// (DropSourceMismatch), without it forwarded while the remote stays. A
// packet towards a leg whose remote is not known yet is dropped
// (DropNoRemote). The probation state belongs to the goroutine of the leg's
// RTP socket, so the loop needs no lock for it and allocates nothing.
//
// With SRTP, a leg must latch only on packets that authenticate: the
// probation proves only that a source sends consistently, not that it holds
// the keys.
//
// # Ports
//
// PortAllocator binds an even port for RTP and the odd port above it for
// RTCP (one port with rtcp-mux), skipping ports other processes hold. It
// picks pairs at random (ChaCha8 seeded from crypto/rand), so the ports of a
// leg waiting to latch cannot be guessed from the order calls came in, and
// a freed pair cools (a quarter of the range is released after it) before
// it is picked again.
package relay
