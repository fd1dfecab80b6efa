package relay

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/relay/relaytest"
)

// env is a call with a customer peer a and an agent peer b.
type env struct {
	t     *testing.T
	alloc *PortAllocator
	peers *PortAllocator
	c     *Call
	a, b  *peer
}

func newEnv(t *testing.T, ip netip.Addr, amux, bmux bool) *env {
	t.Helper()
	lo, hi := testPorts(t)
	pa, err := NewPortAllocator(ip, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, alloc: newAlloc(t, ip), peers: pa, a: newPeer(t, pa, amux), b: newPeer(t, pa, bmux)}
}

// explicit is a CallConfig with both peers' addresses given.
func (e *env) explicit() CallConfig {
	return CallConfig{
		Customer: LegConfig{Remote: e.a.addr(), RTCPMux: e.a.s.RTCP == nil},
		Agent:    LegConfig{Remote: e.b.addr(), RTCPMux: e.b.s.RTCP == nil},
	}
}

func (e *env) start(cfg CallConfig, opts ...Option) *Call {
	e.c = newCall(e.t, e.alloc, cfg, opts...)
	return e.c
}

func TestForwardBothWays(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit())
	if c.LocalRTP(Customer).Port()%2 != 0 || c.LocalRTCP(Customer).Port() != c.LocalRTP(Customer).Port()+1 {
		t.Fatalf("ports %v %v", c.LocalRTP(Customer), c.LocalRTCP(Customer))
	}
	const n = 50
	var sentBytes uint64
	for i := range n {
		pa := rtpPacket(t, 8, uint16(1000+i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
		expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
		pb := rtpPacket(t, 0, uint16(65530+i), 160) // wraps
		send(t, e.b.s.RTP, c.LocalRTP(Agent), pb)
		expect(t, e.a.s.RTP, pb, c.LocalRTP(Customer))
		sentBytes += uint64(len(pa))
	}
	c.Close() // sent counters trail the send; Close waits for the loops
	cs, as := c.Stats(Customer), c.Stats(Agent)
	if cs.RTPPacketsReceived != n || cs.RTPPacketsSent != n || as.RTPPacketsReceived != n || as.RTPPacketsSent != n ||
		cs.RTPBytesReceived != sentBytes || as.RTPBytesSent != sentBytes || cs.Dropped() != 0 || as.Dropped() != 0 {
		t.Fatalf("stats customer %+v agent %+v", cs, as)
	}
	if r, latched := c.Remote(Customer); r != e.a.addr() || latched {
		t.Fatalf("Remote(customer) = %v %v", r, latched)
	}
}

func TestRTCPBothWays(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit()) // RTCP remotes derived: port+1
	for i := range 5 {
		ra, rb := rtcpRR(byte(i)), rtcpRR(byte(100+i))
		send(t, e.a.s.RTCP, c.LocalRTCP(Customer), ra)
		expect(t, e.b.s.RTCP, ra, c.LocalRTCP(Agent))
		send(t, e.b.s.RTCP, c.LocalRTCP(Agent), rb)
		expect(t, e.a.s.RTCP, rb, c.LocalRTCP(Customer))
	}
	c.Close()
	if s := c.Stats(Customer); s.RTCPPacketsReceived != 5 || s.RTCPPacketsSent != 5 || s.RTPPacketsReceived != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRTCPMux(t *testing.T) {
	for _, tc := range []struct {
		name       string
		amux, bmux bool
	}{{"both", true, true}, {"customer only", true, false}, {"agent only", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, lo4, tc.amux, tc.bmux)
			c := e.start(e.explicit())
			if tc.amux != (c.LocalRTCP(Customer) == c.LocalRTP(Customer)) {
				t.Fatalf("customer local %v %v", c.LocalRTP(Customer), c.LocalRTCP(Customer))
			}
			for i := range 5 {
				pa, ra := rtpPacket(t, 8, uint16(i), 160), rtcpRR(byte(i))
				send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
				expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
				send(t, e.a.rtcp, c.LocalRTCP(Customer), ra)
				expect(t, e.b.rtcp, ra, c.LocalRTCP(Agent))

				pb, rb := rtpPacket(t, 0, uint16(i), 80), rtcpRR(byte(50+i))
				send(t, e.b.rtcp, c.LocalRTCP(Agent), rb)
				expect(t, e.a.rtcp, rb, c.LocalRTCP(Customer))
				send(t, e.b.s.RTP, c.LocalRTP(Agent), pb)
				expect(t, e.a.s.RTP, pb, c.LocalRTP(Customer))
			}
			c.Close()
			for _, l := range []Leg{Customer, Agent} {
				if s := c.Stats(l); s.RTPPacketsSent != 5 || s.RTCPPacketsSent != 5 || s.RTCPPacketsReceived != 5 || s.Dropped() != 0 {
					t.Fatalf("%v stats %+v", l, s)
				}
			}
		})
	}
}

func TestLatching(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	var mu sync.Mutex
	var events []LatchEvent
	m, drops := dropCounters()
	c := e.start(CallConfig{}, WithMetrics(AgentToCustomer, m), WithOnLatch(func(ev LatchEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	if r, _ := c.Remote(Customer); r.IsValid() {
		t.Fatalf("remote before latching: %v", r)
	}

	// The agent speaks first: it latches after LatchProbation packets, but the customer
	// is unknown.
	var pb []byte
	for i := range LatchProbation {
		pb = rtpPacket(t, 8, uint16(1+i), 160)
		send(t, e.b.s.RTP, c.LocalRTP(Agent), pb)
		drops[DropNoRemote].wait(t, "no_remote drop")
	}
	// Loose source: the customer's packets in probation are forwarded.
	for i := range LatchProbation {
		pa := rtpPacket(t, 8, uint16(2+i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
		expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
	}
	send(t, e.b.s.RTP, c.LocalRTP(Agent), pb)
	expect(t, e.a.s.RTP, pb, c.LocalRTP(Customer))

	for l, want := range map[Leg]netip.AddrPort{Customer: e.a.addr(), Agent: e.b.addr()} {
		if r, latched := c.Remote(l); r != want || !latched {
			t.Fatalf("Remote(%v) = %v %v, want %v latched", l, r, latched, want)
		}
		// RTCP remote derived from the latched RTP: port+1.
		if r, latched := c.RemoteRTCP(l); r.Port() != want.Port()+1 || latched {
			t.Fatalf("RemoteRTCP(%v) = %v %v", l, r, latched)
		}
	}

	// Latching happens once: a third party (not strict) is forwarded, but
	// the customer's remote stays.
	x := newPeer(t, e.peers, true)
	px := rtpPacket(t, 8, 3, 160)
	send(t, x.s.RTP, c.LocalRTP(Customer), px)
	expect(t, e.b.s.RTP, px, c.LocalRTP(Agent))
	send(t, e.b.s.RTP, c.LocalRTP(Agent), pb)
	expect(t, e.a.s.RTP, pb, c.LocalRTP(Customer))
	if r, _ := c.Remote(Customer); r != e.a.addr() {
		t.Fatalf("remote moved to %v", r)
	}

	// RTCP: derived until the first RTCP, then latched to its source.
	rb := rtcpRR(9)
	send(t, e.b.s.RTCP, c.LocalRTCP(Agent), rb)
	expect(t, e.a.s.RTCP, rb, c.LocalRTCP(Customer))
	if r, latched := c.RemoteRTCP(Agent); r != e.b.rtcpAddr() || !latched {
		t.Fatalf("RemoteRTCP(agent) = %v %v", r, latched)
	}

	mu.Lock()
	defer mu.Unlock()
	want := []LatchEvent{{Agent, false, e.b.addr()}, {Customer, false, e.a.addr()}, {Agent, true, e.b.rtcpAddr()}}
	if len(events) != len(want) {
		t.Fatalf("latch events %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("latch events %v, want %v", events, want)
		}
	}
	if s := c.Stats(Agent); s.Drops[DropNoRemote] != LatchProbation {
		t.Fatalf("agent drops %v", s.Drops)
	}
	if s := c.Stats(Customer); s.LatchRejects[LatchRejectOtherSource] != 1 {
		t.Fatalf("customer latch rejects %v, want the third party's packet", s.LatchRejects)
	}
}

func TestStrictSource(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	m, drops := dropCounters()
	cfg := e.explicit()
	cfg.Customer.Remote = netip.AddrPort{} // customer latches
	cfg.StrictSource = true
	c := e.start(cfg, WithMetrics(CustomerToAgent, m))

	// The customer latches after its probation (those packets wait: strict source).
	var pa []byte
	for i := range LatchProbation {
		pa = rtpPacket(t, 8, uint16(1+i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
		if i+1 < LatchProbation {
			drops[DropLatching].wait(t, "latching drop")
		}
	}
	expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
	// The customer's RTCP latches from its own socket.
	ra := rtcpRR(7)
	send(t, e.a.s.RTCP, c.LocalRTCP(Customer), ra)
	expect(t, e.b.s.RTCP, ra, c.LocalRTCP(Agent))

	x := newPeer(t, e.peers, false)
	for i := range 3 {
		send(t, x.s.RTP, c.LocalRTP(Customer), rtpPacket(t, 8, uint16(100+i), 160))
		drops[DropSourceMismatch].wait(t, "source_mismatch drop")
		send(t, x.s.RTCP, c.LocalRTCP(Customer), rtcpRR(1))
		drops[DropSourceMismatch].wait(t, "source_mismatch drop (RTCP)")
		// The real customer still flows, and nothing of x's came first.
		pa = rtpPacket(t, 8, uint16(LatchProbation+1+i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
		expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
		send(t, e.a.s.RTCP, c.LocalRTCP(Customer), ra)
		expect(t, e.b.s.RTCP, ra, c.LocalRTCP(Agent))
	}
	c.Close()
	if s := c.Stats(Customer); s.Drops[DropSourceMismatch] != 6 || s.RTPPacketsSent != 0 || s.RTCPPacketsReceived != 7 ||
		s.LatchRejects != [NumLatchRejects]uint64{LatchRejectOtherSource: 6} {
		t.Fatalf("customer stats %+v", s)
	}
	if s := c.Stats(Agent); s.RTPPacketsSent != 4 || s.RTCPPacketsSent != 4 {
		t.Fatalf("agent stats %+v", s)
	}
	if r, _ := c.Remote(Customer); r != e.a.addr() {
		t.Fatalf("remote moved to %v", r)
	}
}

func TestSetRemote(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit())
	pa := rtpPacket(t, 8, 1, 160)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
	expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))

	// re-INVITE: the agent moves to b2, with rtcp-mux.
	b2 := newPeer(t, e.peers, true)
	if err := c.SetRemote(Agent, LegConfig{Remote: b2.addr(), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	pa = rtpPacket(t, 8, 2, 160)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
	expect(t, b2.s.RTP, pa, c.LocalRTP(Agent))
	ra := rtcpRR(3)
	send(t, e.a.s.RTCP, c.LocalRTCP(Customer), ra)
	expect(t, b2.s.RTP, ra, c.LocalRTP(Agent)) // muxed on the agent's RTP socket
	pb := rtpPacket(t, 0, 3, 160)
	send(t, b2.s.RTP, c.LocalRTP(Agent), pb)
	expect(t, e.a.s.RTP, pb, c.LocalRTP(Customer))

	// A zero remote latches again.
	if err := c.SetRemote(Agent, LegConfig{}); err != nil {
		t.Fatal(err)
	}
	b3 := newPeer(t, e.peers, false)
	for i := range LatchProbation {
		pb = rtpPacket(t, 0, uint16(4+i), 160)
		send(t, b3.s.RTP, c.LocalRTP(Agent), pb)
		expect(t, e.a.s.RTP, pb, c.LocalRTP(Customer))
	}
	if r, ok := c.Remote(Agent); r != b3.addr() || !ok {
		t.Fatalf("Remote(agent) = %v %v", r, ok)
	}
	send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
	expect(t, b3.s.RTP, pa, c.LocalRTP(Agent))

	if err := c.SetRemote(Leg(7), LegConfig{}); !errors.Is(err, ErrInvalidLeg) {
		t.Fatalf("bad leg: %v", err)
	}
	if err := c.SetRemote(Agent, LegConfig{Remote: netip.MustParseAddrPort("[::1]:4000")}); !errors.Is(err, ErrInvalidRemote) {
		t.Fatalf("v6 remote on v4 call: %v", err)
	}
}

func TestSetRemoteMuxOnlyLeg(t *testing.T) {
	e := newEnv(t, lo4, true, false)
	c := e.start(e.explicit())
	if err := c.SetRemote(Customer, LegConfig{Remote: e.a.addr()}); !errors.Is(err, ErrNoRTCPPort) {
		t.Fatalf("err = %v, want ErrNoRTCPPort", err)
	}
	// A non-mux leg may switch to mux: its RTP socket then demuxes.
	if err := c.SetRemote(Agent, LegConfig{Remote: e.b.addr(), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	rb := rtcpRR(4)
	send(t, e.b.s.RTP, c.LocalRTP(Agent), rb)
	expect(t, e.a.s.RTP, rb, c.LocalRTP(Customer))
}

func TestMalformedDropped(t *testing.T) {
	e := newEnv(t, lo4, true, false)
	m, drops := dropCounters()
	c := e.start(e.explicit(), WithMetrics(CustomerToAgent, m))
	good := rtpPacket(t, 8, 1, 160)
	bad := [][]byte{
		{},
		{0x80, 0x08, 0, 1},                          // short
		append([]byte{0x40}, good[1:]...),           // version 1
		append([]byte{0x8f}, good[1:20]...),         // CSRC list past end
		append([]byte{0xa0}, good[1:12]...),         // padding bit, no room
		{0x80, 201, 0x00, 0x09, 0, 0, 0, 0},         // mux RTCP, length past end
		append(rtcpRR(1), 0x80, 201, 0x00, 0x00, 0), // trailing garbage
	}
	for i, b := range bad {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), b)
		drops[DropMalformed].wait(t, "malformed drop")
		g := rtpPacket(t, 8, uint16(10+i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), g)
		expect(t, e.b.s.RTP, g, c.LocalRTP(Agent))
	}
	send(t, e.a.s.RTP, c.LocalRTP(Customer), make([]byte, MaxPacketSize+1))
	drops[DropOversize].wait(t, "oversize drop")
	big := rtpPacket(t, 8, 99, MaxPacketSize-12) // exactly the limit passes
	send(t, e.a.s.RTP, c.LocalRTP(Customer), big)
	expect(t, e.b.s.RTP, big, c.LocalRTP(Agent))

	s := c.Stats(Customer)
	if s.Drops[DropMalformed] != uint64(len(bad)) || s.Drops[DropOversize] != 1 || s.Dropped() != uint64(len(bad))+1 {
		t.Fatalf("drops %v", s.Drops)
	}
	if s.RTPPacketsReceived+s.RTCPPacketsReceived != uint64(2*len(bad)+2) {
		t.Fatalf("received %+v", s)
	}
	if got := drops[DropMalformed].sum.Load(); got != int64(len(bad)) {
		t.Fatalf("metric malformed = %d", got)
	}
}

func TestMetricsAndActivity(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	pk, by, rpk, rby := newEventCounter(), newEventCounter(), newEventCounter(), newEventCounter()
	lat := &latencyRecorder{}
	c := e.start(e.explicit(), WithClock(clock), WithLatencySampling(2),
		WithMetrics(CustomerToAgent, DirectionMetrics{Packets: pk, Bytes: by, RTCPPackets: rpk, RTCPBytes: rby, Latency: lat}))
	start := now
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	advance(10 * time.Second)
	if got := c.LastActivity(); !got.IsZero() {
		t.Fatalf("LastActivity before packets = %v, want the zero time", got)
	}
	advance(20 * time.Second)
	p := rtpPacket(t, 8, 1, 160)
	for range 4 {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
	}
	r := rtcpRR(1)
	send(t, e.a.s.RTCP, c.LocalRTCP(Customer), r)
	expect(t, e.b.s.RTCP, r, c.LocalRTCP(Agent))
	if got := c.LastActivity(); !got.Equal(start.Add(30 * time.Second)) {
		t.Fatalf("LastActivity = %v, want %v", got, now)
	}
	// No packets since: the stamp stays while the clock runs on.
	advance(time.Minute)
	if got := c.LastActivity(); !got.Equal(start.Add(30 * time.Second)) {
		t.Fatalf("LastActivity without packets moved to %v", got)
	}
	// Counters and Observe run after the send returns, so they may trail
	// the receipt; Close waits for the loops.
	c.Close()
	if pk.sum.Load() != 4 || by.sum.Load() != int64(4*len(p)) || rpk.sum.Load() != 1 || rby.sum.Load() != int64(len(r)) {
		t.Fatalf("metrics %d %d %d %d", pk.sum.Load(), by.sum.Load(), rpk.sum.Load(), rby.sum.Load())
	}
	if n, maxv := lat.get(); n != 2 || maxv <= 0 || maxv > 1 {
		t.Fatalf("latency observations %d, max %v s (sampling every 2nd of 4 RTP)", n, maxv)
	}
}

type latencyRecorder struct {
	mu   sync.Mutex
	n    int
	maxv float64
}

func (l *latencyRecorder) Observe(v float64) {
	l.mu.Lock()
	l.n++
	l.maxv = max(l.maxv, v)
	l.mu.Unlock()
}

func (l *latencyRecorder) get() (int, float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.maxv
}

func TestCloseReleasesPorts(t *testing.T) {
	lo, hi := testPorts(t)
	a, err := NewPortAllocator(lo4, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCall(a, CallConfig{Agent: LegConfig{RTCPMux: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if a.InUse() != 2 {
		t.Fatalf("in use %d", a.InUse())
	}
	locals := []netip.AddrPort{c.LocalRTP(Customer), c.LocalRTCP(Customer), c.LocalRTP(Agent)}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if a.InUse() != 0 {
		t.Fatalf("in use after close %d", a.InUse())
	}
	for _, l := range locals {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(l))
		if err != nil {
			t.Fatalf("port %v not free after Close: %v", l, err)
		}
		conn.Close()
	}
	if err := c.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := c.SetRemote(Customer, LegConfig{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetRemote after Close: %v", err)
	}
	// Close without Start releases too.
	c2, err := NewCall(a, CallConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil || a.InUse() != 0 {
		t.Fatalf("close unstarted: %v, in use %d", err, a.InUse())
	}
}

func TestNewCallErrors(t *testing.T) {
	lo, hi := relaytest.Ports(t, 4)
	a, err := NewPortAllocator(lo4, lo, hi) // two pairs
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCall(a, CallConfig{Customer: LegConfig{Remote: netip.MustParseAddrPort("127.0.0.1:0")}}); !errors.Is(err, ErrInvalidRemote) {
		t.Fatalf("port 0: %v", err)
	}
	for _, bad := range []string{"0.0.0.0:4000", "224.0.0.1:4000", "[::1]:4000"} {
		if _, err := NewCall(a, CallConfig{Agent: LegConfig{RemoteRTCP: netip.MustParseAddrPort(bad)}}); !errors.Is(err, ErrInvalidRemote) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	if a.InUse() != 0 {
		t.Fatalf("leaked %d", a.InUse())
	}
	c, err := NewCall(a, CallConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := NewCall(a, CallConfig{}); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("third pair: %v", err)
	}
	if a.InUse() != 2 {
		t.Fatalf("failed NewCall leaked a leg: in use %d", a.InUse())
	}
}

func TestIPv6(t *testing.T) {
	if conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("::1 unavailable: %v", err)
	} else {
		conn.Close()
	}
	e := newEnv(t, lo6, false, true)
	latched := make(chan LatchEvent, 4)
	c := e.start(CallConfig{Agent: LegConfig{RTCPMux: true}}, // both latch
		WithOnLatch(func(ev LatchEvent) { latched <- ev }))
	if !c.LocalRTP(Customer).Addr().Is6() {
		t.Fatalf("local %v", c.LocalRTP(Customer))
	}
	var pb []byte
	for i := range LatchProbation { // latches the agent; customer unknown
		pb = rtpPacket(t, 0, uint16(1+i), 160)
		send(t, e.b.s.RTP, c.LocalRTP(Agent), pb)
	}
	select {
	case ev := <-latched:
		if ev != (LatchEvent{Agent, false, e.b.addr()}) {
			t.Fatalf("latch %+v", ev)
		}
	case <-time.After(recvTimeout):
		t.Fatal("agent did not latch")
	}
	for i := range 10 {
		pa := rtpPacket(t, 8, uint16(i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
		expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
		if i+1 < LatchProbation {
			continue // the customer is not latched yet
		}
		send(t, e.b.s.RTP, c.LocalRTP(Agent), pb)
		expect(t, e.a.s.RTP, pb, c.LocalRTP(Customer))
	}
	r := rtcpRR(2)
	send(t, e.b.s.RTP, c.LocalRTP(Agent), r) // mux leg
	expect(t, e.a.s.RTCP, r, c.LocalRTCP(Customer))
	if got, ok := c.Remote(Agent); got != e.b.addr() || !ok {
		t.Fatalf("Remote(agent) = %v %v", got, ok)
	}
}
