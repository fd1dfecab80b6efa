package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// malformed makes a datagram no RTP or RTCP parser may accept: truncated, wrong version,
// or a CSRC list or extension that does not fit.
func malformed(r *rand.Rand) []byte {
	b := make([]byte, 12+r.IntN(40))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	switch r.IntN(4) {
	case 0:
		b = b[:r.IntN(12)]
		if len(b) > 0 {
			b[0] = 0x80
		}
	case 1:
		b[0] = byte(r.IntN(2)) << 6 // version 0 or 1
	case 2:
		b[0] = 0x80 | 0x0f // 15 CSRCs, at most 51 bytes present
		b[1] &= 0x7f
	case 3:
		b[0] = 0x90 // extension claiming 0xffff words
		b[1] &= 0x7f
		if len(b) < 16 {
			b = append(b, 0, 0, 0, 0)
		}
		binary.BigEndian.PutUint16(b[14:], 0xffff)
	}
	return b
}

// junk makes one hostile datagram: random bytes, or RTP/RTCP broken in one of the ways a
// parser must survive.
func junk(r *rand.Rand) []byte {
	n := r.IntN(300)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if n >= 12 {
		switch r.IntN(6) {
		case 0:
			b[0] = 0x80 | 0x0f // version 2, 15 CSRCs that do not fit
		case 1:
			b[0] = 0xa0 // padding bit with a random (likely bad) count at the end
			b[n-1] = 0xff
		case 2:
			b[0] = 0x90 // extension header claiming more words than present
			if n >= 16 {
				binary.BigEndian.PutUint16(b[14:], 0xffff)
			}
		case 3:
			b[0] = 0x40 // version 1
		case 4:
			b[0], b[1] = 0x80, 200 // RTCP SR with a lying length
			binary.BigEndian.PutUint16(b[2:], 0x7fff)
		}
	}
	return b
}

// TestHostileTrafficDoesNotDisturbRealStream floods a session's ports with malformed and
// foreign packets while a real stream flows: the real stream arrives intact and in order,
// drops are counted, nothing crashes and memory stays bounded.
func TestHostileTrafficDoesNotDisturbRealStream(t *testing.T) {
	d := startDaemon(t)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	attacker := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-hostile",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
		// Unmasked: this is about forwarding (a masked direction holds each lockstep packet
		// for the look-ahead).
		Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}},
	})
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{s.Customer.LocalAddr, s.Customer.LocalRtcpAddr, s.Agent.LocalAddr, s.Agent.LocalRtcpAddr}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	r := rand.New(rand.NewPCG(7, 11))
	st := newStream(8)
	const real, perReal = 300, 40
	for i := 0; i < real; i++ {
		for j := 0; j < perReal; j++ {
			// From the customer's own address too: malformed packets from the right source
			// are still dropped, and must not latch or disturb anything.
			if j%4 == 0 {
				cust.send(s.Customer.LocalAddr, malformed(r))
				continue
			}
			attacker.send(targets[r.IntN(len(targets))], junk(r))
		}
		pkt := st.next(t)
		cust.send(s.Customer.LocalAddr, pkt)
		for {
			got, src := agent.recv()
			if src.String() == s.Agent.LocalRtcpAddr {
				t.Fatalf("junk forwarded as RTCP to the agent")
			}
			if bytes.Equal(got, pkt) {
				break
			}
			t.Fatalf("real packet %d: agent got something else (%d bytes)", i, len(got))
		}
	}
	if agent.pending() || cust.pending() {
		t.Fatal("junk reached an endpoint")
	}

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 16<<20 {
		t.Fatalf("heap grew by %d bytes under junk", grow)
	}

	var dropped float64
	for _, dir := range []string{"customer_to_agent", "agent_to_customer"} {
		for _, reason := range []string{"malformed", "source_mismatch"} {
			if v := d.metric(`hush_packets_dropped_total{direction="` + dir + `",reason="` + reason + `"}`); v > 0 {
				dropped += v
			}
		}
	}
	if dropped < real*perReal*9/10 {
		t.Fatalf("only %v of %d junk packets counted as dropped", dropped, real*perReal)
	}
	settle(t, cust, agent, s.Customer.LocalAddr, st.next(t))
	if v := d.metric(`hush_rtp_packets_total{direction="customer_to_agent"}`); !counted(v, real) {
		t.Fatalf("forwarded %v real packets, want %d", v, real)
	}
	got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if err != nil || got.Customer.Latched || got.Agent.Latched {
		t.Fatalf("junk changed the session: %v %v", got, err)
	}
	t.Logf("%d junk packets dropped and counted while %d real packets forwarded intact", int(dropped), real)
}

// TestRateCapDropsFlood: with the per-socket cap on, a flood from a leg's own remote is
// dropped and counted as rate_limit once the cap's bucket (one second's worth, at least 64
// packets) is spent, while the daemon stays healthy.
func TestRateCapDropsFlood(t *testing.T) {
	d := startDaemon(t, "--media-rate-limit-pps", "1", "--auth-rate-limit", "0") // the test polls GetSession
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-flood",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := newStream(12)
	// Chunks small enough for the kernel's socket buffer, each read by hushd before the
	// next is sent, so every packet reaches the read loop.
	const chunk, chunks = 50, 6
	deadline := time.Now().Add(2 * wait)
	for c := 1; c <= chunks; c++ {
		for i := 0; i < chunk; i++ {
			cust.send(s.Customer.LocalAddr, st.next(t))
		}
		for {
			got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
			if err != nil {
				t.Fatal(err)
			}
			if got.Customer.Stats.RtpPacketsReceived >= uint64(c*chunk) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hushd read %d of %d packets", got.Customer.Stats.RtpPacketsReceived, c*chunk)
			}
		}
	}
	const flood = chunk * chunks
	v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="rate_limit"}`)
	if v < flood-3*32-1 { // the bucket lets about three windows through
		t.Fatalf("rate_limit drops %v of a %d-packet flood at a 1 pps cap", v, flood)
	}
	t.Logf("flood of %d packets at a 1 pps cap: %v dropped as rate_limit", flood, v)
}
