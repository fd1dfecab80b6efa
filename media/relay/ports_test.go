package relay

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/hushmedia/hush/media/relay/relaytest"
)

func TestNewPortAllocatorInvalid(t *testing.T) {
	tests := []struct {
		name     string
		ip       netip.Addr
		min, max int
	}{
		{"zero ip", netip.Addr{}, 40000, 40010},
		{"zoned ip", netip.MustParseAddr("fe80::1%lo"), 40000, 40010},
		{"min 0", lo4, 0, 10},
		{"max too big", lo4, 65530, 65536},
		{"reversed", lo4, 40010, 40000},
		{"one port", lo4, 40000, 40000},
		{"odd-even only", lo4, 40001, 40002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPortAllocator(tt.ip, tt.min, tt.max); !errors.Is(err, ErrInvalidRange) {
				t.Fatalf("err = %v, want ErrInvalidRange", err)
			}
		})
	}
	a, err := NewPortAllocator(lo4, 40001, 40004) // only 40002/40003 fits
	if err != nil || a.Capacity() != 1 {
		t.Fatalf("capacity %v, err %v", a, err)
	}
	if a, err := NewPortAllocator(netip.MustParseAddr("::ffff:127.0.0.1"), 40000, 40001); err != nil || !a.Addr().Is4() {
		t.Fatalf("mapped address not unmapped: %v %v", a, err)
	}
}

// freeRange leases a range of exactly n pairs, every port free: exhaustion tests count
// only their own allocations.
func freeRange(t *testing.T, pairs int) (int, int) { return relaytest.Ports(t, 2*pairs) }

func TestAllocateExhaustionAndRelease(t *testing.T) {
	min, max := freeRange(t, 3)
	a, err := NewPortAllocator(lo4, min, max)
	if err != nil {
		t.Fatal(err)
	}
	var got []*LegSockets
	for i := range 3 {
		s, err := a.Allocate(i == 1)
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if p := s.LocalRTP().Port(); p%2 != 0 || int(p) < min || int(p)+1 > max {
			t.Fatalf("port %d outside %d-%d or odd", p, min, max)
		}
		if (s.RTCP == nil) != (i == 1) || (i != 1 && s.LocalRTCP().Port() != s.LocalRTP().Port()+1) {
			t.Fatalf("allocation %d: RTCP %v", i, s.LocalRTCP())
		}
		got = append(got, s)
	}
	if _, err := a.Allocate(false); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("err = %v, want ErrPortsExhausted", err)
	}
	if a.InUse() != 3 {
		t.Fatalf("in use %d", a.InUse())
	}
	freed := got[1].LocalRTP()
	if err := got[1].Close(); err != nil {
		t.Fatal(err)
	}
	if err := got[1].Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	s, err := a.Allocate(false)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if s.LocalRTP() != freed {
		t.Fatalf("got %v, want the only free pair %v", s.LocalRTP(), freed)
	}
	for _, s := range append(got, s) {
		s.Close()
	}
	if a.InUse() != 0 {
		t.Fatalf("in use %d after closing all", a.InUse())
	}
}

// TestAllocateRandom: ports come at random from the range (a scan cannot find the live legs
// as the lowest ports), still even with RTCP above, all distinct, and two allocators (two
// hushd processes) do not hand out the same sequence.
func TestAllocateRandom(t *testing.T) {
	min, max := freeRange(t, 200)
	seqs := [2][]int{}
	for k := range seqs {
		a, err := NewPortAllocator(lo4, min, max)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		var held []*LegSockets
		for range 40 {
			s, err := a.Allocate(false)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, s)
			p := int(s.LocalRTP().Port())
			if p%2 != 0 || p < min || p+1 > max || int(s.LocalRTCP().Port()) != p+1 || seen[p] {
				t.Fatalf("port %d: odd, outside %d-%d, RTCP %v, or handed out twice", p, min, max, s.LocalRTCP())
			}
			seen[p] = true
			seqs[k] = append(seqs[k], p)
		}
		for _, s := range held {
			s.Close()
		}
	}
	// Handed out in order, 39 of 39 steps go up; at random about half do. The
	// chance that 35 or more of 39 go up at random is below 1e-7.
	for k, seq := range seqs {
		up := 0
		for i := 1; i < len(seq); i++ {
			if seq[i] > seq[i-1] {
				up++
			}
		}
		if up >= 35 {
			t.Errorf("allocator %d: %d of 39 steps go up: %v", k, up, seq)
		}
	}
	same := 0
	for i := range seqs[0] {
		if seqs[0][i] == seqs[1][i] {
			same++
		}
	}
	if same > 5 {
		t.Errorf("two allocators handed out %d of 40 ports alike: %v %v", same, seqs[0], seqs[1])
	}
}

// TestAllocateCools: a freed pair is not handed out again until a quarter of the range was
// released after it, so a late packet of an ended call does not land in a new one; with
// nothing else free, the longest-cooled pair is used.
func TestAllocateCools(t *testing.T) {
	min, max := freeRange(t, 8) // 8 pairs: 2 cool
	a, err := NewPortAllocator(lo4, min, max)
	if err != nil {
		t.Fatal(err)
	}
	var recent []uint16
	for i := range 200 {
		s, err := a.Allocate(false)
		if err != nil {
			t.Fatal(err)
		}
		p := s.LocalRTP().Port()
		for _, r := range recent {
			if p == r {
				t.Fatalf("allocation %d: port %d reused among the last %d freed %v", i, p, len(recent), recent)
			}
		}
		recent = append(recent, p)
		if len(recent) > 2 {
			recent = recent[1:]
		}
		s.Close()
	}
	// Everything taken but the cooling pairs: they are used, oldest first.
	var held []*LegSockets
	defer func() {
		for _, s := range held {
			s.Close()
		}
	}()
	for range 6 {
		s, err := a.Allocate(false)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, s)
	}
	for _, want := range recent {
		s, err := a.Allocate(false)
		if err != nil || s.LocalRTP().Port() != want {
			t.Fatalf("with only cooling pairs left: %v %v, want port %d", s, err, want)
		}
		held = append(held, s)
	}
	if _, err := a.Allocate(false); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("err = %v, want ErrPortsExhausted", err)
	}
}

func TestAllocateSkipsPortsHeldElsewhere(t *testing.T) {
	min, max := freeRange(t, 3)
	// Another process holds the first RTP port and the second RTCP port.
	for _, p := range []int{min, min + 3} {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo4, uint16(p))))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	a, err := NewPortAllocator(lo4, min, max)
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.Allocate(false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if int(s.LocalRTP().Port()) != min+4 {
		t.Fatalf("got %v, want port %d", s.LocalRTP(), min+4)
	}
	// With mux only the even port matters, so min+2 is usable.
	m, err := a.Allocate(true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if int(m.LocalRTP().Port()) != min+2 {
		t.Fatalf("mux got %v, want port %d", m.LocalRTP(), min+2)
	}
	if _, err := a.Allocate(true); !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("err = %v, want ErrPortsExhausted", err)
	}
}

func TestAllocateIPv6(t *testing.T) {
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("::1 unavailable: %v", err)
	} else {
		c.Close()
	}
	a := newAlloc(t, lo6)
	s, err := a.Allocate(false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.LocalRTP().Addr() != lo6 || s.RTP.LocalAddr().(*net.UDPAddr).AddrPort() != s.LocalRTP() ||
		s.RTCP.LocalAddr().(*net.UDPAddr).AddrPort() != s.LocalRTCP() {
		t.Fatalf("local %v %v, sockets %v %v", s.LocalRTP(), s.LocalRTCP(), s.RTP.LocalAddr(), s.RTCP.LocalAddr())
	}
}
