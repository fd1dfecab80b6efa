package relay

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// lo4b is another loopback address (Linux routes all of 127/8 to lo), to play a host other
// than the parties'.
var lo4b = netip.MustParseAddr("127.0.0.2")

func listenOn(t *testing.T, ip netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Skipf("cannot bind %v: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// quiet reports whether nothing arrives on c for a moment: the end of a test that checks
// nothing was forwarded, after a later packet of the same socket came through.
func quiet(c *net.UDPConn) bool {
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err := c.ReadFromUDPAddrPort(make([]byte, 2048))
	return err != nil
}

// TestScanDoesNotCaptureLeg is the media-leg hijack through real sockets, on each engine:
// the agent leg waits to latch (no remote given) and an attacker sends one RTP packet to
// every port of the range. The real agent then latches, the customer's 250 packets all
// reach it and none reaches the attacker; the refused attempts are counted and reported.
func TestScanDoesNotCaptureLeg(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	// A range of its own (8 pairs), so the scan touches no other test's sockets.
	min, max := freeRange(t, 8)
	alloc, err := NewPortAllocator(lo4, min, max)
	if err != nil {
		t.Fatal(err)
	}
	e.alloc = alloc
	reported := make(chan LatchRejectEvent, 64)
	latched := make(chan LatchEvent, 4)
	c := e.start(CallConfig{StrictSource: true, Customer: LegConfig{Remote: e.a.addr()}},
		WithOnLatch(func(ev LatchEvent) { latched <- ev }),
		WithOnLatchReject(func(ev LatchRejectEvent) { reported <- ev }))
	x := listenOn(t, lo4b)
	scan := rtpPacket(t, 8, 1, 160)
	for port := min; port <= max; port++ {
		send(t, x, netip.AddrPortFrom(lo4, uint16(port)), scan)
	}
	for i := range LatchProbation {
		send(t, e.b.s.RTP, c.LocalRTP(Agent), rtpPacket(t, 0, uint16(100+i), 160))
	}
	select {
	case ev := <-latched:
		if ev != (LatchEvent{Agent, false, e.b.addr()}) {
			t.Fatalf("latched %+v, want the agent to %v", ev, e.b.addr())
		}
	case <-time.After(recvTimeout):
		t.Fatal("the real agent did not latch")
	}
	for i := range 250 {
		pa := rtpPacket(t, 8, uint16(1000+i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
		expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
	}
	if !quiet(x) {
		t.Fatal("the attacker received media")
	}
	xa := x.LocalAddr().(*net.UDPAddr).AddrPort()
	got := map[Leg]LatchRejectEvent{}
	for len(got) < 2 {
		select {
		case ev := <-reported:
			got[ev.Leg] = ev
		case <-time.After(recvTimeout):
			t.Fatalf("refusals reported: %v", got)
		}
	}
	if got[Agent] != (LatchRejectEvent{Agent, LatchRejectCompeting, xa, 1}) ||
		got[Customer] != (LatchRejectEvent{Customer, LatchRejectOtherSource, xa, 1}) {
		t.Fatalf("refusals reported %+v, want the scan's packet on each leg", got)
	}
	c.Close()
	if s := c.Stats(Agent); s.LatchRejects[LatchRejectCompeting] != 1 || s.RTPPacketsSent != 250 || s.Drops[DropLatching] != LatchProbation {
		t.Fatalf("agent stats %+v", s)
	}
}

// TestExpectedIPLatch: with an expected IP the leg latches to the first packet from it, on
// any port (a NAT may pick the port), and never to another host however consistently it
// sends.
func TestExpectedIPLatch(t *testing.T) {
	e := newEnv(t, lo4, false, false)
	m, drops := dropCounters()
	latched := make(chan LatchEvent, 4)
	c := e.start(CallConfig{StrictSource: true, Customer: LegConfig{Remote: e.a.addr()}, Agent: LegConfig{ExpectedIP: lo4}},
		WithMetrics(AgentToCustomer, m), WithOnLatch(func(ev LatchEvent) { latched <- ev }))
	x := listenOn(t, lo4b)
	for i := range 2 * LatchProbation {
		send(t, x, c.LocalRTP(Agent), rtpPacket(t, 0, uint16(1+i), 160))
		drops[DropSourceMismatch].wait(t, "source_mismatch drop")
	}
	if r, _ := c.Remote(Agent); r.IsValid() {
		t.Fatalf("the agent latched to %v", r)
	}
	pb := rtpPacket(t, 0, 50, 160)
	send(t, e.b.s.RTP, c.LocalRTP(Agent), pb) // one packet, any port of the expected IP
	select {
	case ev := <-latched:
		if ev != (LatchEvent{Agent, false, e.b.addr()}) {
			t.Fatalf("latched %+v", ev)
		}
	case <-time.After(recvTimeout):
		t.Fatal("the agent did not latch to its first packet from the expected IP")
	}
	pa := rtpPacket(t, 8, 7, 160)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), pa)
	expect(t, e.b.s.RTP, pa, c.LocalRTP(Agent))
	if r, latched := c.Remote(Agent); r != e.b.addr() || !latched {
		t.Fatalf("Remote(agent) = %v %v, want %v latched", r, latched, e.b.addr())
	}
	if !quiet(x) {
		t.Fatal("the other host received media")
	}
	if s := c.Stats(Agent); s.LatchRejects[LatchRejectUnexpectedIP] != 2*LatchProbation {
		t.Fatalf("agent latch rejects %v", s.LatchRejects)
	}
}
