package relay

import (
	"math/bits"
	"net/netip"
	"slices"
	"testing"

	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/udpio"
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

func TestProcessLatchRules(t *testing.T) { forEngines(t, testProcessLatchRulesOnEngine) }

func testProcessLatchRulesOnEngine(t *testing.T) {
	rr := rtcpRR(1)
	type step struct {
		in   Leg
		kind sockKind
		rtcp bool   // packet is RTCP (for mux sockets)
		seq  uint16 // RTP sequence number (payload type 8, so one SSRC); 0xf000+: payload type 0 (another SSRC)
		src  string
		want DropReason
		dst  string // expected destination when forwarded
	}
	tests := []struct {
		name    string
		cfg     CallConfig
		steps   []step
		rejects [NumLatchRejects]uint64 // the customer leg's
	}{
		{"strict: RTP latches after probation, RTCP from the RTP host only", CallConfig{StrictSource: true, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}}, []step{
			{Customer, kindRTCP, true, 0, "10.0.0.1:5001", DropLatching, ""}, // RTCP never latches first
			{Customer, kindRTP, false, 1, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 2, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 3, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Customer, kindRTCP, true, 0, "10.0.0.2:5001", DropSourceMismatch, ""},
			{Customer, kindRTCP, true, 0, "10.0.0.1:7003", DropNone, "10.9.9.9:6001"},
			{Customer, kindRTCP, true, 0, "10.0.0.1:5001", DropSourceMismatch, ""},
			{Customer, kindRTP, false, 4, "10.0.0.1:5002", DropSourceMismatch, ""},
			{Agent, kindRTP, false, 1, "10.9.9.9:6000", DropNone, "10.0.0.1:5000"},
			{Agent, kindRTCP, true, 0, "10.9.9.9:6001", DropNone, "10.0.0.1:7003"},
			{Agent, kindRTP, false, 2, "10.9.9.8:6000", DropSourceMismatch, ""},
		}, [NumLatchRejects]uint64{LatchRejectOtherSource: 3}},
		{"strict: another source, SSRC or a sequence jump restarts probation", CallConfig{StrictSource: true, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}}, []step{
			{Customer, kindRTP, false, 1, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 2, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 3, "10.6.6.6:1", DropLatching, ""},    // displaces 10.0.0.1:5000
			{Customer, kindRTP, false, 3, "10.0.0.1:5000", DropLatching, ""}, // displaces 10.6.6.6:1
			{Customer, kindRTP, false, 4, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 30, "10.0.0.1:5000", DropLatching, ""}, // a jump
			{Customer, kindRTP, false, 31, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 0xf005, "10.0.0.1:5000", DropLatching, ""}, // another SSRC
			{Customer, kindRTP, false, 0xf006, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 0xf006, "10.0.0.1:5000", DropLatching, ""},          // a duplicate
			{Customer, kindRTP, false, 0xf00a, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"}, // 3 lost: still plausible
			{Customer, kindRTP, false, 0xf00b, "10.6.6.6:1", DropSourceMismatch, ""},
		}, [NumLatchRejects]uint64{LatchRejectCompeting: 2, LatchRejectOtherSource: 1}},
		{"strict: expected IP latches at once, on any port, and nothing else", CallConfig{StrictSource: true,
			Customer: LegConfig{ExpectedIP: netip.MustParseAddr("10.0.0.1")}, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}}, []step{
			{Customer, kindRTP, false, 1, "10.6.6.6:5000", DropSourceMismatch, ""},
			{Customer, kindRTP, false, 2, "10.6.6.6:5000", DropSourceMismatch, ""},
			{Customer, kindRTP, false, 3, "10.6.6.6:5000", DropSourceMismatch, ""},
			{Customer, kindRTCP, true, 0, "10.0.0.1:40001", DropLatching, ""},
			{Customer, kindRTP, false, 7, "10.0.0.1:40000", DropNone, "10.9.9.9:6000"},
			{Customer, kindRTP, false, 8, "10.0.0.1:5000", DropSourceMismatch, ""},
			{Agent, kindRTP, false, 1, "10.9.9.9:6000", DropNone, "10.0.0.1:40000"},
		}, [NumLatchRejects]uint64{LatchRejectUnexpectedIP: 3, LatchRejectOtherSource: 1}},
		{"loose: other sources forwarded, remote kept", CallConfig{Agent: LegConfig{Remote: ap("10.9.9.9:6000")}}, []step{
			{Customer, kindRTCP, true, 0, "10.0.0.3:9", DropNone, "10.9.9.9:6001"}, // forwarded, latches nothing
			{Agent, kindRTCP, true, 0, "10.9.9.9:6001", DropNoRemote, ""},
			{Agent, kindRTP, false, 1, "10.9.9.9:6000", DropNoRemote, ""},
			{Customer, kindRTP, false, 1, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Customer, kindRTP, false, 2, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Agent, kindRTP, false, 2, "10.9.9.9:6000", DropNoRemote, ""}, // still in probation
			{Customer, kindRTP, false, 3, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Customer, kindRTP, false, 4, "10.0.0.2:5000", DropNone, "10.9.9.9:6000"},
			{Agent, kindRTP, false, 3, "10.9.9.7:1", DropNone, "10.0.0.1:5000"},
			{Agent, kindRTCP, true, 0, "10.9.9.9:6001", DropNone, "10.0.0.1:5001"},
		}, [NumLatchRejects]uint64{LatchRejectOtherSource: 1}},
		{"mux legs", CallConfig{StrictSource: true, Customer: LegConfig{RTCPMux: true}, Agent: LegConfig{Remote: ap("10.9.9.9:6000"), RTCPMux: true}}, []step{
			{Customer, kindRTP, true, 0, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 1, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 2, "10.0.0.1:5000", DropLatching, ""},
			{Customer, kindRTP, false, 3, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Customer, kindRTP, true, 0, "10.0.0.1:5000", DropNone, "10.9.9.9:6000"},
			{Agent, kindRTP, true, 0, "10.9.9.9:6000", DropNone, "10.0.0.1:5000"},
			{Agent, kindRTP, false, 1, "10.9.9.9:6000", DropNone, "10.0.0.1:5000"},
		}, [NumLatchRejects]uint64{}},
		{"explicit RTCP remote", CallConfig{StrictSource: true,
			Customer: LegConfig{Remote: ap("10.0.0.1:5000"), RemoteRTCP: ap("10.0.0.1:5999")},
			Agent:    LegConfig{Remote: ap("10.9.9.9:6000"), RemoteRTCP: ap("10.9.9.9:7000")}}, []step{
			{Customer, kindRTCP, true, 0, "10.0.0.1:5001", DropSourceMismatch, ""},
			{Customer, kindRTCP, true, 0, "10.0.0.1:5999", DropNone, "10.9.9.9:7000"},
			{Agent, kindRTCP, true, 0, "10.9.9.9:7000", DropNone, "10.0.0.1:5999"},
		}, [NumLatchRejects]uint64{LatchRejectOtherSource: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []LatchRejectEvent
			c := unstartedCall(t, tt.cfg, WithOnLatchReject(func(e LatchRejectEvent) { events = append(events, e) }))
			for i, s := range tt.steps {
				p := &Packet{Buf: rtpPacket(t, 8, s.seq, 160), Src: ap(s.src)}
				if s.seq >= 0xf000 {
					p.Buf = rtpPacket(t, 0, s.seq, 160)
				}
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
				if conn.Conn() != wantConn {
					t.Fatalf("step %d: sent from %v, want %v", i, conn.Conn().LocalAddr(), wantConn.LocalAddr())
				}
			}
			st := c.Stats(Customer)
			if st.LatchRejects != tt.rejects {
				t.Errorf("customer latch rejects %v, want %v", st.LatchRejects, tt.rejects)
			}
			// Reported at the leg's 1st, 2nd, 4th... refusal.
			var got []uint64
			for _, e := range events {
				if e.Leg == Customer {
					got = append(got, e.Count)
				}
			}
			for n := uint64(1); n <= st.LatchRejected(); n *= 2 {
				if !slices.Contains(got, n) {
					t.Errorf("customer refusal %d not reported: %v", n, events)
				}
			}
			if len(got) != bits.Len64(st.LatchRejected()) {
				t.Errorf("customer refusals reported %v, want at 1, 2, 4... of %d", got, st.LatchRejected())
			}
		})
	}
}

// TestLatchRejectEvents: the refused source is the one reported (for a
// competing source, the one displaced), with the reason and the running count.
func TestLatchRejectEvents(t *testing.T) { forEngines(t, testLatchRejectEventsOnEngine) }

func testLatchRejectEventsOnEngine(t *testing.T) {
	var events []LatchRejectEvent
	c := unstartedCall(t, CallConfig{StrictSource: true, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}},
		WithOnLatchReject(func(e LatchRejectEvent) { events = append(events, e) }))
	send := func(seq uint16, src string) {
		c.process(Customer, kindRTP, &Packet{Buf: rtpPacket(t, 8, seq, 160), Src: ap(src)})
	}
	send(1, "10.6.6.6:1") // a scan's one packet
	for i := range uint16(LatchProbation) {
		send(10+i, "10.0.0.1:5000") // the real party displaces it, then latches
	}
	for i := range uint16(10) {
		send(20+i, "10.6.6.6:1")
	}
	want := []LatchRejectEvent{
		{Customer, LatchRejectCompeting, ap("10.6.6.6:1"), 1},
		{Customer, LatchRejectOtherSource, ap("10.6.6.6:1"), 2},
		{Customer, LatchRejectOtherSource, ap("10.6.6.6:1"), 4},
		{Customer, LatchRejectOtherSource, ap("10.6.6.6:1"), 8},
	}
	if !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	if r, latched := c.Remote(Customer); r != ap("10.0.0.1:5000") || !latched {
		t.Fatalf("remote %v %v", r, latched)
	}
	if st := c.Stats(Customer); st.LatchRejected() != 11 || st.Drops[DropSourceMismatch] != 0 {
		// process counts no drops; the receiver does.
		t.Fatalf("stats %+v", st)
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
	if DropSourceMismatch.String() != "source_mismatch" || DropNoRemote.String() != "no_remote" || NumDropReasons.String() != "drop(19)" || DropStale.String() != "stale" || DropLatching.String() != "latching" || DropSSRCMismatch.String() != "ssrc_mismatch" || DropRateLimit.String() != "rate_limit" || DropUndecodable.String() != "undecodable" ||
		DropBlocked.String() != "blocked" || DropSRTPAuth.String() != "srtp_auth" || DropSRTPReplay.String() != "srtp_replay" || DropSRTPNoKey.String() != "srtp_no_key" || DropSRTPProtect.String() != "srtp_protect" {
		t.Fatal("label values changed")
	}
	if LatchRejectOtherSource.String() != "other_source" || LatchRejectUnexpectedIP.String() != "unexpected_ip" ||
		LatchRejectCompeting.String() != "competing_source" || NumLatchRejects.String() != "latch_reject(3)" {
		t.Fatal("latch reject label values changed")
	}
	if CustomerToAgent.From() != Customer || CustomerToAgent.To() != Agent || AgentToCustomer.String() != "agent_to_customer" || Agent.Other() != Customer {
		t.Fatal("direction helpers")
	}
}

// processFixture is a call with both remotes known and packets for each
// path, for the allocation test and the benchmark.
func processFixture(t testing.TB) (*Call, *Packet) {
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("10.0.0.1:5000")}, Agent: LegConfig{Remote: ap("10.9.9.9:6000")}})
	return c, &Packet{Buf: rtpPacket(t, 8, 1, 160), Src: ap("10.0.0.1:5000")}
}

func TestProcessAllocs(t *testing.T) { forEngines(t, testProcessAllocsOnEngine) }

func testProcessAllocsOnEngine(t *testing.T) {
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
	// A leg waiting to latch, under a flood of competing and unexpected sources: probation
	// and refusals (counted and reported) allocate nothing either.
	var reported int
	w := unstartedCall(t, CallConfig{StrictSource: true, Agent: LegConfig{Remote: ap("10.9.9.9:6000"), ExpectedIP: netip.MustParseAddr("10.9.9.9")}},
		WithOnLatchReject(func(LatchRejectEvent) { reported++ }))
	a := &Packet{Buf: p.Buf, Src: ap("10.6.6.6:1")}
	b := &Packet{Buf: p.Buf, Src: ap("10.6.6.7:1")}
	exp := &Packet{Buf: p.Buf, Src: ap("10.6.6.8:1")}
	allocs = testing.AllocsPerRun(1000, func() {
		w.process(Customer, kindRTP, a)
		w.process(Customer, kindRTP, b)
		w.process(Agent, kindRTP, exp)
	})
	if allocs != 0 || reported == 0 || w.Stats(Customer).LatchRejects[LatchRejectCompeting] < 1000 {
		t.Fatalf("%v allocations per probation and refusal set (%d reported, stats %v)", allocs, reported, w.Stats(Customer).LatchRejects)
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
	useEngine(f, udpio.Portable) // process does no I/O: any engine will do
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
