package relay

import (
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
)

func rtpWithSSRC(t *testing.T, seq uint16, ssrc uint32) []byte {
	t.Helper()
	b, err := (&pionrtp.Packet{
		Header:  pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc},
		Payload: make([]byte, 160),
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLockSSRC(t *testing.T) { forEngines(t, testLockSSRCOnEngine) }

func testLockSSRCOnEngine(t *testing.T) {
	a := newAlloc(t, lo4)
	cust, agent := newPeer(t, a, false), newPeer(t, a, false)
	m, drops := dropCounters()
	c := newCall(t, a, CallConfig{
		Customer: LegConfig{Remote: cust.addr()}, Agent: LegConfig{Remote: agent.addr()},
		StrictSource: true, LockSSRC: true,
	}, WithMetrics(CustomerToAgent, m))
	in, out := c.LocalRTP(Customer), c.LocalRTP(Agent)

	first := rtpWithSSRC(t, 1, 0xaaaa)
	send(t, cust.s.RTP, in, first)
	expect(t, agent.s.RTP, first, out)

	// Another SSRC from the right address: dropped and counted.
	send(t, cust.s.RTP, in, rtpWithSSRC(t, 2, 0xbbbb))
	drops[DropSSRCMismatch].wait(t, "ssrc_mismatch drop")
	again := rtpWithSSRC(t, 3, 0xaaaa)
	send(t, cust.s.RTP, in, again)
	expect(t, agent.s.RTP, again, out)

	// RTCP is not subject to the lock.
	rr := rtcpRR(9)
	send(t, cust.rtcp, c.LocalRTCP(Customer), rr)
	expect(t, agent.rtcp, rr, c.LocalRTCP(Agent))

	// A re-INVITE (SetRemote) learns the SSRC again.
	if err := c.SetRemote(Customer, LegConfig{Remote: cust.addr()}); err != nil {
		t.Fatal(err)
	}
	fresh := rtpWithSSRC(t, 4, 0xbbbb)
	send(t, cust.s.RTP, in, fresh)
	expect(t, agent.s.RTP, fresh, out)
	if got := c.Stats(Customer).Drops[DropSSRCMismatch]; got != 1 {
		t.Fatalf("ssrc_mismatch stat %d", got)
	}
}

func TestSSRCChangesAllowedByDefault(t *testing.T) {
	forEngines(t, testSSRCChangesAllowedByDefaultOnEngine)
}

func testSSRCChangesAllowedByDefaultOnEngine(t *testing.T) {
	a := newAlloc(t, lo4)
	cust, agent := newPeer(t, a, false), newPeer(t, a, false)
	c := newCall(t, a, CallConfig{Customer: LegConfig{Remote: cust.addr()}, Agent: LegConfig{Remote: agent.addr()}, StrictSource: true})
	for i, ssrc := range []uint32{1, 2, 3} {
		p := rtpWithSSRC(t, uint16(i), ssrc)
		send(t, cust.s.RTP, c.LocalRTP(Customer), p)
		expect(t, agent.s.RTP, p, c.LocalRTP(Agent))
	}
}

// TestRateGate drives the gate with a fake clock: a flood is dropped once the bucket is
// empty and passes again once time refilled it; a backlog read in a burst after a stall
// (a phone's packets queued while hushd was descheduled) is not taken for a flood.
func TestRateGate(t *testing.T) {
	now := time.Unix(0, 0)
	g := rateGate{limit: 100, now: func() time.Time { return now }} // bucket: 100 packets
	window := func(span time.Duration) (dropped int) {
		for i := 0; i < rateWindow; i++ {
			now = now.Add(span / rateWindow)
			if g.over() {
				dropped++
			}
		}
		return dropped
	}
	if d := window(640 * time.Millisecond); d != 0 { // 50 pps
		t.Fatalf("50 pps window dropped %d", d)
	}
	// A flood at 1000 pps: the bucket (100 - 32 after the first window) lasts two more
	// windows; the window that empties it is dropped from its last packet, the next whole.
	for i, want := range []int{0, 0, 1, rateWindow, rateWindow} {
		if d := window(32 * time.Millisecond); d != want {
			t.Fatalf("flood window %d dropped %d, want %d", i, d, want)
		}
	}
	// The flood stops; two seconds of quiet refill the bucket.
	now = now.Add(2 * time.Second)
	if d := window(640 * time.Millisecond); d != rateWindow-1 {
		t.Fatalf("first window after the flood dropped %d (decided at its end)", d)
	}
	if d := window(640 * time.Millisecond); d != 0 {
		t.Fatalf("traffic did not recover: %d dropped", d)
	}

	// A 50 pps phone whose socket queued 1.5 s of packets during a stall: read in a
	// burst, then steady. Nothing is dropped.
	g = rateGate{limit: 100, now: func() time.Time { return now }}
	window(640 * time.Millisecond)
	now = now.Add(1500 * time.Millisecond)
	for i := 0; i < 3; i++ { // 96 backlog packets read in 30 ms
		if d := window(10 * time.Millisecond); d != 0 {
			t.Fatalf("backlog window %d dropped %d", i, d)
		}
	}
	for i := 0; i < 10; i++ {
		if d := window(640 * time.Millisecond); d != 0 {
			t.Fatalf("steady window %d after the backlog dropped %d", i, d)
		}
	}

	off := rateGate{}
	for i := 0; i < 1000; i++ {
		if off.over() {
			t.Fatal("a gate without a limit dropped")
		}
	}
}

// TestRateLimitFlood: a flood from the leg's own remote is capped and counted; the call
// survives it.
func TestRateLimitFlood(t *testing.T) { forEngines(t, testRateLimitFloodOnEngine) }

func testRateLimitFloodOnEngine(t *testing.T) {
	a := newAlloc(t, lo4)
	cust, agent := newPeer(t, a, false), newPeer(t, a, false)
	m, drops := dropCounters()
	c := newCall(t, a, CallConfig{Customer: LegConfig{Remote: cust.addr()}, Agent: LegConfig{Remote: agent.addr()}, StrictSource: true},
		WithMetrics(CustomerToAgent, m), WithRateLimit(50))
	for i := 0; i < 2000; i++ {
		send(t, cust.s.RTP, c.LocalRTP(Customer), rtpWithSSRC(t, uint16(i), 7))
	}
	drops[DropRateLimit].wait(t, "rate_limit drop")
	st := c.Stats(Customer)
	if st.Drops[DropRateLimit] == 0 {
		t.Fatal("no rate-limit drops")
	}
	t.Logf("2000 packets as fast as possible at a 50 pps cap: %d forwarded, %d dropped (rate_limit)",
		c.Stats(Agent).RTPPacketsSent, st.Drops[DropRateLimit])
}
