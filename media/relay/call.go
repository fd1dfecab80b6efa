package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/udpio"
)

// Call relays one call's media between its customer and agent legs.
type Call struct {
	legs        [numLegs]leg
	strict      bool
	lockSSRC    bool
	rateLimit   uint32 // packets per second per socket; 0: no cap
	metrics     [NumDirections]DirectionMetrics
	onLatch     func(LatchEvent)
	onReject    func(LatchRejectEvent)
	onDigit     func(DigitEvent)
	tap         *RecordTap
	now         func() time.Time
	sampleEvery uint32
	eng         udpio.Engine
	// maxQueue is WithMaxQueueDelay's bound (0: none).
	maxQueue time.Duration
	// group is the call's sockets as the engine serves them (Start, Close:
	// under mu).
	group udpio.Group
	// lines are the legs' RTP delay lines, made by Start on the control
	// path and handed to the receivers the engine makes: with a recording
	// tap each holds a masker, and making one (and taking the page faults
	// of its buffers, media/internal/prefault) on the worker that serves
	// every call would stall them all.
	lines [numLegs]*delayLine

	// policy is each direction's masking policy, immutable values published
	// by SetMaskPolicy and loaded once per packet; nil: not masked.
	policy [NumDirections]atomic.Pointer[mask.Policy]
	keys   [NumDirections]atomic.Bool // WatchKeys
	// out is each direction's egress stage: flow and keys played (egress.go).
	out [NumDirections]egress
	// rtpSeal[d] is where RTP leaving in direction d is encrypted toward an SRTP leg:
	// only direction d's RTP socket goroutine sends that RTP (forwarding and delay
	// line), so it owns the buffer; allocated at its first use.
	rtpSeal [NumDirections][]byte
	// epoch anchors the monotonic time the delay lines run on.
	epoch time.Time

	// LastActivity state: the packet loop only counts admitted packets
	// (reading the clock per packet costs more than the rest of process);
	// LastActivity stamps the time when it first sees the count move.
	actMu   sync.Mutex
	actSeen uint64
	actAt   time.Time

	closing atomic.Bool // read by the loops to tell close from failure
	mu      sync.Mutex  // serializes Start, Close and SetRemote
	started bool
	closed  bool
	err     error
}

type leg struct {
	id    Leg
	socks *LegSockets
	state atomic.Pointer[legState]
	stats legCounters
	// Valid packets from an acceptable source, RTP and RTCP sockets apart
	// (each has one writer: see legCounters).
	admitted [2]atomic.Uint64
	// cand is the source a leg without a remote watches in probation. RTP
	// latches only on the leg's RTP socket, which one goroutine serves in
	// every engine: only that goroutine touches cand.
	cand latchCandidate
}

// NewCall allocates both legs' ports and prepares the call; Start begins
// forwarding. Close releases the ports, also when Start was never called.
func NewCall(alloc *PortAllocator, cfg CallConfig, opts ...Option) (*Call, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Call{
		strict:      cfg.StrictSource,
		lockSSRC:    cfg.LockSSRC,
		rateLimit:   o.rateLimit,
		onLatch:     o.onLatch,
		onReject:    o.onReject,
		onDigit:     o.onDigit,
		tap:         o.tap,
		now:         o.now,
		epoch:       time.Now(),
		sampleEvery: o.sampleEvery,
		eng:         o.engine,
		maxQueue:    o.maxQueue,
	}
	if c.eng == nil {
		c.eng, _ = udpio.New(udpio.Portable, udpio.Options{})
	}
	for d := range c.metrics {
		c.metrics[d] = o.metrics[d].filled()
	}
	var cfgs [numLegs]LegConfig
	var crypto [numLegs]*legCrypto
	for l := range numLegs {
		lc, err := normalize(alloc.ip, cfg.leg(l))
		if err != nil {
			return nil, fmt.Errorf("%v leg: %w", l, err)
		}
		cfgs[l] = lc
		if crypto[l], err = newLegCrypto(lc.SRTP, nil); err != nil {
			return nil, fmt.Errorf("%v leg: %w", l, err)
		}
	}
	for l := range numLegs {
		var socks *LegSockets
		var err error
		if port := cfg.LocalPorts[l]; port != 0 {
			socks, err = alloc.allocateAt(int(port), cfgs[l].RTCPMux, c.eng.Raw())
		} else {
			socks, err = alloc.allocate(cfgs[l].RTCPMux, c.eng.Raw())
		}
		if err != nil {
			if l > 0 {
				c.legs[0].socks.Close()
			}
			return nil, fmt.Errorf("%v leg: %w", l, err)
		}
		c.legs[l].id = l
		c.legs[l].socks = socks
		st := newLegState(cfgs[l])
		st.srtp = crypto[l]
		c.legs[l].state.Store(st)
	}
	return c, nil
}

// normalize checks a LegConfig's addresses (port set, a unicast address of
// the local address family) and unmaps
// IPv4-mapped ones, so comparisons with packet sources are exact.
func normalize(local netip.Addr, cfg LegConfig) (LegConfig, error) {
	if cfg.ExpectedIP.IsValid() {
		a := cfg.ExpectedIP.Unmap()
		if a.Is4() != local.Is4() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			return cfg, fmt.Errorf("%w: expected IP %v (local %v)", ErrInvalidRemote, cfg.ExpectedIP, local)
		}
		cfg.ExpectedIP = a
	}
	for _, ap := range []*netip.AddrPort{&cfg.Remote, &cfg.RemoteRTCP} {
		if !ap.IsValid() {
			*ap = netip.AddrPort{}
			continue
		}
		a := ap.Addr().Unmap()
		// 0.0.0.0 (SDP hold) and multicast are no place to send a call's
		// media: on Linux the former even reaches this host.
		if ap.Port() == 0 || a.Is4() != local.Is4() || a.IsUnspecified() || a.IsMulticast() {
			return cfg, fmt.Errorf("%w: %v (local %v)", ErrInvalidRemote, *ap, local)
		}
		*ap = netip.AddrPortFrom(a, ap.Port())
	}
	return cfg, nil
}

// Start begins forwarding: the engine starts serving the call's sockets.
// Packets that arrived before Start wait in the socket buffers. Start is
// idempotent.
func (c *Call) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return nil
	}
	for l := range numLegs {
		c.lines[l] = newDelayLine(c, l, nil, 0)
	}
	c.group = udpio.Group{Endpoints: c.endpoints(), Unblock: c.closeConns}
	if err := c.eng.Attach(&c.group); err != nil {
		return err
	}
	c.started = true
	return nil
}

// Close stops forwarding, waits until the engine no longer serves the call
// and releases the ports. It is idempotent; later calls return the first result.
func (c *Call) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.err
	}
	c.closed = true
	c.closing.Store(true)
	if c.started {
		c.eng.Detach(&c.group)
	}
	var errs []error
	for l := range c.legs {
		errs = append(errs, c.legs[l].socks.closeConns())
		c.legs[l].socks.alloc.release(c.legs[l].socks.idx)
	}
	c.err = errors.Join(errs...)
	return c.err
}

// SetRemote replaces a leg's remote configuration, as after a re-INVITE. A
// zero Remote latches again (see LegConfig.ExpectedIP). A leg allocated with
// rtcp-mux cannot drop it (ErrNoRTCPPort). Packets in flight finish with the
// old state; the next packet sees the new one.
func (c *Call) SetRemote(l Leg, cfg LegConfig) error {
	if !validLeg(l) {
		return ErrInvalidLeg
	}
	cfg, err := normalize(c.legs[l].socks.alloc.ip, cfg)
	if err != nil {
		return err
	}
	if !cfg.RTCPMux && c.legs[l].socks.mux {
		return fmt.Errorf("%v leg: %w", l, ErrNoRTCPPort)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	st := newLegState(cfg)
	if st.srtp, err = newLegCrypto(cfg.SRTP, c.legs[l].state.Load().srtp); err != nil {
		return fmt.Errorf("%v leg: %w", l, err)
	}
	// A plain store: a latch racing with it loses its compare-and-swap and
	// re-evaluates against this state.
	c.legs[l].state.Store(st)
	return nil
}

// LocalRTP is the address a leg's remote sends RTP to (and RTCP, with
// rtcp-mux).
func (c *Call) LocalRTP(l Leg) netip.AddrPort {
	if !validLeg(l) {
		return netip.AddrPort{}
	}
	return c.legs[l].socks.LocalRTP()
}

// LocalRTCP is the address a leg's remote sends RTCP to: LocalRTP when the
// leg was allocated with rtcp-mux.
func (c *Call) LocalRTCP(l Leg) netip.AddrPort {
	if !validLeg(l) {
		return netip.AddrPort{}
	}
	return c.legs[l].socks.LocalRTCP()
}

// Remote is a leg's RTP remote, zero while not known, and whether it was
// learned from a packet rather than configured.
func (c *Call) Remote(l Leg) (addr netip.AddrPort, latched bool) {
	if !validLeg(l) {
		return netip.AddrPort{}, false
	}
	st := c.legs[l].state.Load()
	return st.rtp, st.rtpLatched
}

// RemoteRTCP is where a leg's RTCP goes (zero while not known), and whether
// it was learned from an RTCP packet.
func (c *Call) RemoteRTCP(l Leg) (addr netip.AddrPort, latched bool) {
	if !validLeg(l) {
		return netip.AddrPort{}, false
	}
	st := c.legs[l].state.Load()
	return st.rtcp, st.rtcpLatched
}

// LastActivity reports when packets were last accepted on either leg
// (valid, and from an acceptable source); before any, the zero time, so a
// caller can tell a call whose media never started (and time it out on its
// own terms) from one whose media stopped. Its resolution is the interval between calls: it returns the
// time of the first call that saw new packets, so a caller polling every P
// for an idle timeout T detects idleness between T and T+P after the last
// packet. With the default clock the time carries a monotonic reading, so
// time.Since(LastActivity()) is safe against wall-clock jumps.
func (c *Call) LastActivity() time.Time {
	var n uint64
	for i := range c.legs {
		for j := range c.legs[i].admitted {
			n += c.legs[i].admitted[j].Load()
		}
	}
	c.actMu.Lock()
	defer c.actMu.Unlock()
	if n != c.actSeen { // n == 0 == actSeen before any packet: actAt stays zero
		c.actSeen, c.actAt = n, c.now()
	}
	return c.actAt
}

// Stats returns a snapshot of a leg's counters.
func (c *Call) Stats(l Leg) LegStats {
	if !validLeg(l) {
		return LegStats{}
	}
	return c.legs[l].stats.snapshot()
}

// SetMaskPolicy sets a direction's masking policy; it applies from the next
// packet. A masked policy (mask.Policy.Masked) sends the direction's RTP
// through a look-ahead delay line: DTMF replaced, RFC 4733 events withheld,
// undecodable payloads dropped, captured digits delivered to WithDigits
// while Capture is on. Switching a direction to masked starts the delay (a
// one-time gap of the look-ahead); switching it off flushes the queue at
// once (masked as far as known) and returns to the zero-delay path. An
// invalid policy returns an error wrapping a mask sentinel and changes
// nothing.
func (c *Call) SetMaskPolicy(dir Direction, p mask.Policy) error {
	if int(dir) >= NumDirections {
		return ErrInvalidLeg
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%v: %w", dir, err)
	}
	if !p.Masked() {
		c.policy[dir].Store(nil)
		return nil
	}
	c.policy[dir].Store(&p)
	return nil
}

// WatchKeys makes a direction deliver its key presses (in-band and RFC 4733) to the
// WithDigits callback whatever its masking, for keypad triggers on the agent's side. The
// detector then runs on that direction's audio even when it is not masked (about 1 µs per
// packet); forwarding is not delayed by it.
func (c *Call) WatchKeys(dir Direction) error {
	if int(dir) >= NumDirections {
		return ErrInvalidLeg
	}
	c.keys[dir].Store(true)
	return nil
}

// MaskPolicy returns a direction's masking policy (the zero Policy when not
// masked).
func (c *Call) MaskPolicy(dir Direction) mask.Policy {
	if int(dir) >= NumDirections {
		return mask.Policy{}
	}
	if p := c.policy[dir].Load(); p != nil {
		return *p
	}
	return mask.Policy{}
}

// endpoints are the call's sockets for the engine, each with its receiver
// (pipeline.go) as handler.
func (c *Call) endpoints() []udpio.Endpoint {
	var eps []udpio.Endpoint
	for l := range numLegs {
		s := c.legs[l].socks
		eps = append(eps, udpio.Endpoint{Socket: s.rtp, New: c.handler(l, kindRTP)})
		if !s.mux {
			eps = append(eps, udpio.Endpoint{Socket: s.rtcp, New: c.handler(l, kindRTCP)})
		}
	}
	return eps
}

// handler makes the receiver of leg in's socket of kind: its delay line
// releases late (releaseSlack) unless the engine drives release times
// exactly.
func (c *Call) handler(in Leg, kind sockKind) func(udpio.SendFunc, bool) udpio.Handler {
	return func(send udpio.SendFunc, exact bool) udpio.Handler {
		late := releaseSlack
		if exact {
			late = 0
		}
		return newReceiver(c, in, kind, send, late)
	}
}

// closeConns closes the call's sockets: the portable engine's blocked reads
// return (udpio.Group.Unblock).
func (c *Call) closeConns() {
	for l := range c.legs {
		c.legs[l].socks.closeConns() // the error is Close's to report (closeConns runs once)
	}
}
