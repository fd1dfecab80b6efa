// Package relay moves a call's RTP and RTCP between its two legs, customer
// and agent, on UDP sockets from a configured port range, masking DTMF
// toward a listener and handing each direction's audio to a recording on
// the way.
//
// # Using it
//
// A daemon makes one I/O engine (media/udpio) and one PortAllocator, then a
// Call per call:
//
//	eng, err := udpio.New(udpio.Auto, udpio.Options{})
//	alloc, err := relay.NewPortAllocator(ip, 10000, 19999)
//	c, err := relay.NewCall(alloc, relay.CallConfig{Customer: cust, Agent: agent},
//		relay.WithEngine(eng), relay.WithMetrics(relay.CustomerToAgent, m))
//	err = c.Start()
//	...
//	err = c.SetMaskPolicy(relay.CustomerToAgent, mask.Policy{Mode: mask.ModeTone})
//	...
//	c.Close() // before eng.Close()
//
// LocalRTP and LocalRTCP give the ports to put in SDP. A leg's remote is
// given in its LegConfig or learned from its packets (latching, below);
// SetRemote changes it (a re-INVITE). SetMaskPolicy, SetFlow (forward,
// block or silence a direction) and PlayDTMF change a direction while
// packets flow; Stats, LastActivity and the DirectionMetrics instruments
// report on it. A Call without WithEngine uses the portable engine.
//
// # The path of a packet
//
// An engine (media/udpio) receives a datagram and hands it, on the
// goroutine that received it, to that socket's receiver (pipeline.go, the
// socket's udpio.Handler), which runs it to the send with no queue in
// between:
//
//  1. process (process.go) validates it (RTP, RFC 3550 section 5.1; RTCP,
//     section 6.4.1 and appendix A.2; rtcp-mux demultiplexing, RFC 5761
//     section 4), decrypts and authenticates SRTP (srtp.go), checks or
//     latches the source (state.go) and picks the destination;
//  2. the receiver's rate gate (pipeline.go) caps a socket's packet rate;
//  3. the direction's delay line (delay.go) takes its RTP: a masked
//     packet is held in a mask.Masker for the look-ahead and leaves later,
//     from a timer or a later arrival, through steps 4 and 5; an unmasked
//     one is only observed (DTMF detection for a RecordTap or WatchKeys,
//     the recording's audio) and goes on at once;
//  4. egress (egress.go) blocks or silences the direction and plays keys
//     (tone.go) into it;
//  5. the packet is encrypted toward an SRTP leg (srtp.go) and sent from
//     the destination leg's socket, and counted (stats.go, metrics.go).
//
// An unmasked direction forwards packets byte for byte: header, sequence
// number, timestamp, SSRC and payload untouched, no delay. None of these
// steps does I/O of its own, takes a lock or allocates.
//
// # Engines
//
// Socket I/O is media/udpio's: the portable, epoll and io_uring engines
// serve a Call's sockets as one udpio.Group, and what happens to a packet
// is the same for all of them. A Call makes its sockets as the engine wants
// them (udpio.Engine.Raw) and its receivers when the engine attaches it
// (Start). Before handling a batch the engines warm the receivers in levels
// (warm.go): the receiver's own memory, then its masker's and its recording
// sink's, each layer warming its own.
//
// # Masking and recording
//
// SetMaskPolicy publishes a direction's mask.Policy. A masked direction's
// RTP goes through a mask.Masker owned by the receiving socket's goroutine,
// which both receives and releases: while packets are queued the engine's
// timer is the next release time (the receiver's Due and Expire; udpio's
// release timers for epoll and io_uring, the read deadline for portable). The masker delays each packet by the
// look-ahead L and replaces DTMF in it, keeping sequence number,
// timestamp, SSRC and count; RFC 4733 events are withheld
// (DropMaskedEvent), payload types hush cannot decode dropped
// (DropUndecodable: fail closed), and a packet that finds the queue full
// is dropped unanalysed (DropMaskOverflow), never sent, unless the oldest
// queued packet may leave early to make room (mask.Masker.PopFull: the
// detector is done with it, as after a burst). Switching masking
// on starts the delay (a one-time gap of L); switching it off flushes the
// queue. RTCP is not delayed. Secure capture (Policy.Capture) delivers
// digits to WithDigits.
//
// In the epoll and io_uring engines L counts from the packet's arrival at
// the socket (the kernel's receive timestamp, which the engine reads), so time
// spent waiting for the engine's batch is part of L, not added to it.
//
// WithRecordTap gives the recording each direction's audio (G.711 codes)
// with DTMF always marked for silence, in-band and RFC 4733 alike, whatever
// the forwarding policy, and the masked stretches for the sidecar; with a
// tap the detector runs on every audio packet of both directions. The tap's
// RecordSink gets the frames directly: media/record's Recorder is one, and
// SwitchSink one whose recording starts during the call.
//
// # Control state
//
// The packet path never takes a lock or receives from a channel. Each
// leg's configuration and each direction's policy is an immutable value
// behind an atomic.Pointer, loaded once per packet; SetRemote publishes a
// new value, and latching publishes one with compare-and-swap, so a latch
// racing with SetRemote re-evaluates against the newer state. Counters are
// atomics; metrics go to mask.Counter and Observer, which prometheus types
// satisfy, so this package does not import prometheus. No clock is read per
// packet: the path counts accepted packets and LastActivity stamps the
// time when it sees the count move.
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
//   - An SRTP leg latches only on packets that authenticate.
//
// Only valid packets latch, so garbage cannot steer a call. Packets refused
// as a leg's remote are counted by LatchReject (LegStats.LatchRejects,
// DirectionMetrics.LatchRejects) and reported at a leg's 1st, 2nd, 4th...
// refusal (WithOnLatchReject); with StrictSource they are dropped
// (DropSourceMismatch), without it forwarded while the remote stays. A
// packet towards a leg whose remote is not known yet is dropped
// (DropNoRemote).
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
