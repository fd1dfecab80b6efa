package relay

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// TestAllocateAtBadPorts: AllocateAt refuses every port that is not an even port of the
// range, or that is held, with ErrPortUnavailable, and changes nothing.
func TestAllocateAtBadPorts(t *testing.T) { forEngines(t, testAllocateAtBadPortsOnEngine) }

func testAllocateAtBadPortsOnEngine(t *testing.T) {
	min, max := freeRange(t, 4)
	a, err := NewPortAllocator(lo4, min, max)
	if err != nil {
		t.Fatal(err)
	}
	held, err := a.AllocateAt(min+2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// Another process holds the pair at min+4 (its RTCP port).
	other, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo4, uint16(min+5))))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, tt := range []struct {
		name string
		port int
	}{
		{"below the range", min - 2},
		{"above the range", max + 1},
		{"zero", 0},
		{"negative", -2},
		{"odd", min + 1},
		{"held here", min + 2},
		{"held by another process", min + 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := a.AllocateAt(tt.port, false); !errors.Is(err, ErrPortUnavailable) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("AllocateAt(%d) = %v, want ErrPortUnavailable", tt.port, err)
			}
		})
	}
	if a.InUse() != 1 {
		t.Fatalf("in use %d after refusals, want 1", a.InUse())
	}
}

// TestAllocateAtTakesPairOutOfRotation: a pair bound by AllocateAt, whether free or
// cooling, is never handed out by Allocate while held, and returns to the pool on Close.
func TestAllocateAtTakesPairOutOfRotation(t *testing.T) {
	forEngines(t, testAllocateAtTakesPairOutOfRotationOnEngine)
}

func testAllocateAtTakesPairOutOfRotationOnEngine(t *testing.T) {
	min, max := freeRange(t, 8)
	a, err := NewPortAllocator(lo4, min, max)
	if err != nil {
		t.Fatal(err)
	}
	// A pair that was allocated and released is cooling; AllocateAt takes it from there.
	first, err := a.Allocate(false)
	if err != nil {
		t.Fatal(err)
	}
	cooling := int(first.LocalRTP().Port())
	first.Close()
	at, err := a.AllocateAt(cooling, false)
	if err != nil {
		t.Fatalf("AllocateAt a cooling pair: %v", err)
	}
	if at.LocalRTP().Port() != uint16(cooling) || at.LocalRTCP().Port() != uint16(cooling+1) {
		t.Fatalf("bound %v/%v, want %d/%d", at.LocalRTP(), at.LocalRTCP(), cooling, cooling+1)
	}
	freePort := min
	if freePort == cooling {
		freePort += 2 // Allocate picked the lowest pair: it is held as at now
	}
	free, err := a.AllocateAt(freePort, true)
	if err != nil {
		t.Fatalf("AllocateAt a free pair with rtcp-mux: %v", err)
	}
	var rest []*LegSockets
	for {
		s, err := a.Allocate(false)
		if errors.Is(err, ErrPortsExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p := int(s.LocalRTP().Port()); p == cooling || p == freePort {
			t.Fatalf("Allocate handed out %d, held by AllocateAt", p)
		}
		rest = append(rest, s)
	}
	if len(rest) != 6 {
		t.Fatalf("Allocate found %d pairs beside the two held, want 6", len(rest))
	}
	at.Close()
	free.Close()
	for _, s := range rest {
		s.Close()
	}
	if a.InUse() != 0 {
		t.Fatalf("in use %d", a.InUse())
	}
}

// TestCallTakenOver: a call built on the ports and latched remotes another node recorded
// (CallConfig.LocalPorts, LegConfig.Latched) binds those ports, reports its remotes as
// latched, and relays to them at once, without latching again.
func TestCallTakenOver(t *testing.T) { forEngines(t, testCallTakenOverOnEngine) }

func testCallTakenOverOnEngine(t *testing.T) {
	a := newAlloc(t, lo4)
	cust, agent := newPeer(t, a, false), newPeer(t, a, false)
	first := newCall(t, a, CallConfig{StrictSource: true})
	ports := [2]uint16{first.LocalRTP(Customer).Port(), first.LocalRTP(Agent).Port()}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	c := newCall(t, a, CallConfig{
		StrictSource: true, LocalPorts: ports,
		Customer: LegConfig{Remote: cust.addr(), Latched: true},
		Agent:    LegConfig{Remote: agent.addr(), RemoteRTCP: agent.rtcpAddr(), Latched: true},
	})
	for l, want := range ports {
		if got := c.LocalRTP(Leg(l)).Port(); got != want {
			t.Fatalf("%v leg bound %d, want %d", Leg(l), got, want)
		}
		if _, latched := c.Remote(Leg(l)); !latched {
			t.Errorf("%v leg's remote not reported latched", Leg(l))
		}
	}
	if _, latched := c.RemoteRTCP(Customer); latched {
		t.Error("customer RTCP remote reported latched though only RTP was recorded")
	}
	if _, latched := c.RemoteRTCP(Agent); !latched {
		t.Error("agent RTCP remote not reported latched")
	}
	pkt := rtpPacket(t, 0, 1, 160)
	send(t, cust.s.RTP, c.LocalRTP(Customer), pkt)
	expect(t, agent.s.RTP, pkt, c.LocalRTP(Agent))
	back := rtpPacket(t, 8, 2, 160)
	send(t, agent.s.RTP, c.LocalRTP(Agent), back)
	expect(t, cust.s.RTP, back, c.LocalRTP(Customer))
}

// TestCallLocalPortHeld: a takeover whose port is still held (the previous owner has not
// let go yet) fails with ErrPortUnavailable and leaves nothing bound.
func TestCallLocalPortHeld(t *testing.T) { forEngines(t, testCallLocalPortHeldOnEngine) }

func testCallLocalPortHeldOnEngine(t *testing.T) {
	a := newAlloc(t, lo4)
	held := newCall(t, a, CallConfig{})
	free, err := a.Allocate(false)
	if err != nil {
		t.Fatal(err)
	}
	freePort := free.LocalRTP().Port()
	free.Close()
	before := a.InUse()
	_, err = NewCall(a, CallConfig{LocalPorts: [2]uint16{freePort, held.LocalRTP(Agent).Port()}}, withTestEngine(nil)...)
	if !errors.Is(err, ErrPortUnavailable) {
		t.Fatalf("NewCall on a held port: %v, want ErrPortUnavailable", err)
	}
	if a.InUse() != before {
		t.Fatalf("in use %d after the failed call, want %d", a.InUse(), before)
	}
}
