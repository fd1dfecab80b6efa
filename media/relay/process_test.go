package relay

import (
	"net/netip"
	"testing"

	"github.com/hushmedia/hush/media/rtp"
)

// These tests drive process directly with made-up source addresses, which
// loopback sockets cannot produce (every peer there is 127.0.0.1).

func unstartedCall(t testing.TB, cfg CallConfig, opts ...Option) *Call {
	t.Helper()
	c, err := NewCall(newAlloc(t, lo4), cfg, withTestEngine(opts)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestProcessLatchRules(t *testing.T) {
	rtpPkt := rtpPacket(t, 8, 1, 160)
	rr := rtcpRR(1)
	type step struct {
		in   Leg
		kind sockKind
		rtcp bool // packet is RTCP (for mux sockets)
		src  string
		want DropReason
		dst  string // expected destination when forwarded
	}
	tests := []struct {
		name  string
		cfg   CallConfig
		steps []step
	}{
		{"strict: RTCP latches from the RTP host only", CallConfig{StrictSource: true, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}}, []step{
			{Customer, kindRTP, false, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Customer, kindRTCP, true, "10.0.0.2:5001", DropSourceMismatch, ""},
			{Customer, kindRTCP, true, "10.0.0.1:7003", DropNone, "10.9.9.9:6001"},
			{Customer, kindRTCP, true, "10.0.0.1:5001", DropSourceMismatch, ""},
			{Customer, kindRTP, false, "10.0.0.1:5002", DropSourceMismatch, ""},
			{Agent, kindRTP, false, "10.9.9.9:6000", DropNone, "10.0.0.1:5000"},
			{Agent, kindRTCP, true, "10.9.9.9:6001", DropNone, "10.0.0.1:7003"},
			{Agent, kindRTP, false, "10.9.9.8:6000", DropSourceMismatch, ""},
		}},
		{"loose: other sources forwarded, remote kept", CallConfig{Agent: LegConfig{Remote: ap("10.9.9.9:6000")}}, []step{
			{Customer, kindRTCP, true, "10.0.0.3:9", DropNone, "10.9.9.9:6001"}, // RTCP latches first
			{Agent, kindRTCP, true, "10.9.9.9:6001", DropNone, "10.0.0.3:9"},
			{Agent, kindRTP, false, "10.9.9.9:6000", DropNoRemote, ""},
			{Customer, kindRTP, false, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Customer, kindRTP, false, "10.0.0.2:5000", DropNone, "10.9.9.9:6000"},
			{Agent, kindRTP, false, "10.9.9.7:1", DropNone, "10.0.0.1:5000"},
		}},
		{"mux legs", CallConfig{Customer: LegConfig{RTCPMux: true}, Agent: LegConfig{Remote: ap("10.9.9.9:6000"), RTCPMux: true}}, []step{
			{Customer, kindRTP, true, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Agent, kindRTP, true, "10.9.9.9:6000", DropNone, "10.0.0.1:5000"},
			{Agent, kindRTP, false, "10.9.9.9:6000", DropNoRemote, ""},
		}},
		{"explicit RTCP remote", CallConfig{StrictSource: true,
			Customer: LegConfig{Remote: ap("10.0.0.1:5000"), RemoteRTCP: ap("10.0.0.1:5999")},
			Agent:    LegConfig{Remote: ap("10.9.9.9:6000"), RemoteRTCP: ap("10.9.9.9:7000")}}, []step{
			{Customer, kindRTCP, true, "10.0.0.1:5001", DropSourceMismatch, ""},
			{Customer, kindRTCP, true, "10.0.0.1:5999", DropNone, "10.9.9.9:7000"},
			{Agent, kindRTCP, true, "10.9.9.9:7000", DropNone, "10.0.0.1:5999"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := unstartedCall(t, tt.cfg)
			for i, s := range tt.steps {
				p := &Packet{Buf: rtpPkt, Src: ap(s.src)}
				if s.rtcp {
					p.Buf = rr
				}
				conn, dst, r := c.process(s.in, s.kind, p)
				if r != s.want || p.RTCP != s.rtcp {
					t.Fatalf("step %d: drop %v rtcp %v, want %v %v", i, r, p.RTCP, s.want, s.rtcp)
				}
				if r != DropNone {
					continue
				}
				if dst != ap(s.dst) {
					t.Fatalf("step %d: dst %v, want %v", i, dst, s.dst)
				}
				out := &c.legs[s.in.Other()]
				wantConn := out.socks.RTP
				if s.rtcp && !out.state.Load().mux {
					wantConn = out.socks.RTCP
				}
				if conn.conn != wantConn {
					t.Fatalf("step %d: sent from %v, want %v", i, conn.conn.LocalAddr(), wantConn.LocalAddr())
				}
			}
		})
	}
}

func TestStagesRun(t *testing.T) {
	var seen [NumDirections]int
	count := StageFunc(func(dir Direction, p *Packet) DropReason {
		seen[dir]++
		if !p.RTCP && p.Header.PayloadType == 13 { // e.g. a stage that drops CN
			return DropStage
		}
		return DropNone
	})
	c := unstartedCall(t, CallConfig{Customer: LegConfig{Remote: ap("10.0.0.1:5000")}, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}},
		WithStages(AgentToCustomer, count))
	p := &Packet{Buf: rtpPacket(t, 8, 1, 160), Src: ap("10.9.9.9:6000")}
	if _, _, r := c.process(Agent, kindRTP, p); r != DropNone {
		t.Fatal(r)
	}
	p.Buf = rtpPacket(t, 13, 2, 1)
	if _, _, r := c.process(Agent, kindRTP, p); r != DropStage {
		t.Fatalf("stage drop: %v", r)
	}
	p.Src = ap("10.0.0.1:5000")
	if _, _, r := c.process(Customer, kindRTP, p); r != DropNone {
		t.Fatal(r)
	}
	if seen != [NumDirections]int{0, 2} {
		t.Fatalf("stage saw %v", seen)
	}
}

func TestDropReasonStrings(t *testing.T) {
	seen := map[string]bool{}
	for r := DropNone + 1; r < NumDropReasons; r++ {
		s := r.String()
		if s == "" || seen[s] || s == DropNone.String() {
			t.Fatalf("reason %d: %q", r, s)
		}
		seen[s] = true
	}
	if DropSourceMismatch.String() != "source_mismatch" || DropNoRemote.String() != "no_remote" || NumDropReasons.String() != "drop(12)" || DropSSRCMismatch.String() != "ssrc_mismatch" || DropRateLimit.String() != "rate_limit" || DropUndecodable.String() != "undecodable" {
		t.Fatal("label values changed")
	}
	if CustomerToAgent.From() != Customer || CustomerToAgent.To() != Agent || AgentToCustomer.String() != "agent_to_customer" || Agent.Other() != Customer {
		t.Fatal("direction helpers")
	}
}

// processFixture is a call with both remotes known and packets for each
// path, for the allocation test and the benchmark.
func processFixture(t testing.TB) (*Call, *Packet) {
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("10.0.0.1:5000")}, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}},
		WithStages(CustomerToAgent, StageFunc(func(Direction, *Packet) DropReason { return DropNone })))
	return c, &Packet{Buf: rtpPacket(t, 8, 1, 160), Src: ap("10.0.0.1:5000")}
}

func TestProcessAllocs(t *testing.T) {
	c, p := processFixture(t)
	rr := &Packet{Buf: rtcpRR(1), Src: ap("10.0.0.1:5001")}
	bad := &Packet{Buf: []byte{0x80, 1, 2}, Src: ap("10.0.0.1:5000")}
	stranger := &Packet{Buf: p.Buf, Src: ap("10.6.6.6:1")}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, q := range []*Packet{p, rr, bad, stranger} {
			c.process(Customer, kindRTP, q)
		}
		c.process(Customer, kindRTCP, rr)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per processed packet set", allocs)
	}
}

func BenchmarkProcess(b *testing.B) {
	c, p := processFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, r := c.process(Customer, kindRTP, p); r != DropNone {
			b.Fatal(r)
		}
	}
}

// FuzzProcess feeds arbitrary datagrams from arbitrary sources to both legs
// and socket kinds: process must never panic, and a forwarded packet must
// have passed the parser its path applies.
func FuzzProcess(f *testing.F) {
	f.Add(rtpPacket(f, 8, 1, 20), uint16(5000), uint8(0))
	f.Add(rtcpRR(1), uint16(5001), uint8(1))
	f.Add(rtcpRR(2), uint16(6000), uint8(3))
	f.Add([]byte{0x80, 200, 0, 0}, uint16(1), uint8(2))
	f.Add([]byte{0xbf, 0xff}, uint16(0), uint8(1))
	c := unstartedCall(f, CallConfig{StrictSource: true, Agent: LegConfig{Remote: ap("10.9.9.9:6000"), RTCPMux: true}})
	f.Fuzz(func(t *testing.T, buf []byte, port uint16, sel uint8) {
		in, kind := Leg(sel&1), sockKind(sel>>1&1)
		p := &Packet{Buf: buf, Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, sel >> 2 & 1}), port)}
		_, dst, r := c.process(in, kind, p)
		if r != DropNone {
			return
		}
		if !dst.IsValid() {
			t.Fatal("forwarded without destination")
		}
		var h rtp.Header
		if p.RTCP && rtp.ValidateRTCP(buf) != nil {
			t.Fatalf("invalid RTCP forwarded: % x", buf)
		}
		if _, err := h.Unmarshal(buf); !p.RTCP && err != nil {
			t.Fatalf("invalid RTP forwarded: % x", buf)
		}
	})
}
