package relay

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/udpio"
)

// staleRig drives one direction's receiver on a simulated clock: sends are
// captured with the simulated time they left at, nothing reaches a socket.
type staleRig struct {
	c    *Call
	r    *receiver
	now  time.Duration // the simulated clock, on c.epoch
	sent map[uint16]time.Duration
	pay  map[uint16][]byte
}

func newStaleRig(t *testing.T, opts ...Option) *staleRig {
	t.Helper()
	useEngine(t, udpio.Portable)
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("127.0.0.1:5000")}, Agent: LegConfig{Remote: ap("127.0.0.1:9")}}, opts...)
	g := &staleRig{c: c, sent: map[uint16]time.Duration{}, pay: map[uint16][]byte{}}
	tx := func(_ udpio.Socket, b []byte, _ netip.AddrPort) error {
		var h rtp.Header
		if _, err := h.Unmarshal(b); err != nil {
			t.Fatalf("sent a packet that is not RTP: %v", err)
		}
		g.sent[h.SequenceNumber] = g.now
		g.pay[h.SequenceNumber] = bytes.Clone(h.Payload(b))
		return nil
	}
	g.r = newReceiver(c, Customer, kindRTP, tx, 0)
	t.Cleanup(g.r.Close)
	return g
}

// read hands the receiver pkt at the simulated now, as received by the
// kernel age earlier.
func (g *staleRig) read(pkt []byte, age time.Duration) {
	buf := make([]byte, MaxPacketSize+1)
	g.r.Packet(buf, copy(buf, pkt), ap("127.0.0.1:5000"), age, g.c.epoch.Add(g.now))
}

// advance moves the clock to t a millisecond at a time, releasing what the
// delay line asks for on the way, as an engine's timer would.
func (g *staleRig) advance(t time.Duration) {
	for g.now < t {
		g.now = min(g.now+time.Millisecond, t)
		at := g.c.epoch.Add(g.now)
		if due, ok := g.r.Due(at); ok && !due.After(at) {
			g.r.Expire(at, true)
		}
	}
}

func (g *staleRig) drops(r DropReason) uint64 { return g.c.Stats(Customer).Drops[r] }

// TestStaleUnmasked: an unmasked packet that waited past the bound is
// dropped as stale; within it, or with the bound off, it is sent.
func TestStaleUnmasked(t *testing.T) {
	pkts := (&g711Stream{pt: 0, ssrc: 5}).all(make([]int16, 4*sFrame))
	g := newStaleRig(t, WithMaxQueueDelay(100*time.Millisecond))
	g.read(pkts[0], 0)
	g.read(pkts[1], 99*time.Millisecond)
	g.read(pkts[2], 101*time.Millisecond)
	g.read(pkts[3], 3*time.Second)
	if len(g.sent) != 2 || g.drops(DropStale) != 2 {
		t.Fatalf("sent %d, %d stale; want 2 and 2", len(g.sent), g.drops(DropStale))
	}
	if _, ok := g.sent[2]; ok {
		t.Fatal("the packet 101 ms old was sent")
	}

	off := newStaleRig(t, WithMaxQueueDelay(0))
	for _, p := range pkts {
		off.read(p, 5*time.Second)
	}
	if len(off.sent) != len(pkts) || off.drops(DropStale) != 0 {
		t.Fatalf("bound off: sent %d of %d, %d stale", len(off.sent), len(pkts), off.drops(DropStale))
	}
}

// TestStaleMaskedBacklog: a masked, recorded direction whose packets sit
// unread for 800 ms (the host was busy) and are then read in one burst.
// Those that waited past look-ahead + bound are dropped as stale, the rest
// leave within it; the key pressed in the backlog is still captured and
// masked, and the recording still gets all of it. With the bound off every
// packet is sent, the backlog's as late as it was read.
func TestStaleMaskedBacklog(t *testing.T) {
	const (
		n       = 60
		bound   = 200 * time.Millisecond
		frame   = 20 * time.Millisecond
		stallAt = 10 // packets stallAt..stallEnd-1 are read together at stallEnd's arrival
		stall   = 50
	)
	sig := make([]float64, n*sFrame)
	tone{key: '5', at: 20 * sFrame, dur: 6 * sFrame, dbm0: -10}.add(sig, rand.New(rand.NewPCG(3, 3)))
	pkts := (&g711Stream{pt: 0, ssrc: 5}).all(toPCM(sig))

	run := func(t *testing.T, bound time.Duration) (*staleRig, []byte, int) {
		var digits []byte
		recorded := 0
		g := newStaleRig(t, WithMaxQueueDelay(bound),
			WithDigits(func(d DigitEvent) { digits = append(digits, d.Digit) }),
			WithRecordTap(RecordTap{Audio: func(_ Direction, _, _ uint32, f *mask.RecordFrame) { recorded += len(f.Codes) }}))
		if err := g.c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone, Capture: true}); err != nil {
			t.Fatal(err)
		}
		for k, p := range pkts {
			arrival := time.Duration(k) * frame
			switch {
			case k < stallAt || k > stall:
				g.advance(arrival)
				g.read(p, 0)
			case k == stall:
				g.advance(arrival)
				for j := stallAt; j <= stall; j++ {
					g.read(pkts[j], g.now-time.Duration(j)*frame)
				}
			}
		}
		g.advance(time.Duration(n)*frame + time.Second)
		g.r.Close()
		return g, digits, recorded
	}

	g, digits, recorded := run(t, bound)
	la := mask.DefaultLookAhead
	stale := g.drops(DropStale)
	if stale == 0 || len(g.sent)+int(stale) != n {
		t.Fatalf("sent %d, %d stale, of %d", len(g.sent), stale, n)
	}
	for k := range n {
		at, ok := g.sent[uint16(k)]
		if !ok {
			continue
		}
		if wait := at - time.Duration(k)*frame; wait > la+bound+releaseSlack {
			t.Errorf("packet %d left %v after it arrived, past look-ahead %v + bound %v", k, wait, la, bound)
		}
	}
	// What waited less than look-ahead + bound is not lost.
	for k := stallAt; k <= stall; k++ {
		if waited := time.Duration(stall-k) * frame; waited < bound && g.sent[uint16(k)] == 0 {
			t.Errorf("packet %d waited %v unread, within the bound, and was not sent", k, waited)
		}
	}
	if string(digits) != "5" {
		t.Errorf("captured %q, want \"5\"", digits)
	}
	if recorded != n*sFrame {
		t.Errorf("recorded %d samples, want %d", recorded, n*sFrame)
	}
	for k := 20; k < 26; k++ {
		if pay, ok := g.pay[uint16(k)]; ok && bytes.Equal(pay, rtpPayload(pkts[k])) {
			t.Errorf("packet %d of the key went out unmasked", k)
		}
	}
	t.Logf("%d of %d dropped as stale", stale, n)

	off, digits, _ := run(t, 0)
	if len(off.sent) != n || off.drops(DropStale) != 0 || string(digits) != "5" {
		t.Fatalf("bound off: sent %d of %d, %d stale, digits %q", len(off.sent), n, off.drops(DropStale), digits)
	}
}

// TestStaleLateTimer: packets read on time whose release the engine's timer
// makes late (the worker was preempted after the read) are dropped as stale
// when the timer fires past look-ahead + bound; within it they are sent
func TestStaleLateTimer(t *testing.T) {
	const bound = DefaultMaxQueueDelay
	pkts := (&g711Stream{pt: 0, ssrc: 5}).all(make([]int16, 10*sFrame))
	for _, tc := range []struct {
		late  time.Duration
		stale bool
	}{{bound - 10*time.Millisecond, false}, {bound + 10*time.Millisecond, true}} {
		g := newStaleRig(t, WithMaxQueueDelay(bound))
		if err := g.c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeSilence}); err != nil {
			t.Fatal(err)
		}
		for k, p := range pkts {
			g.now = time.Duration(k) * 20 * time.Millisecond
			g.read(p, 0)
		}
		// The timer fires late for the oldest packet still queued.
		due, _, ok := g.r.dl.mk.FrontDue()
		if !ok {
			t.Fatal("nothing queued")
		}
		g.now = due + tc.late
		g.r.Expire(g.c.epoch.Add(g.now), true)
		if got := g.drops(DropStale) > 0; got != tc.stale || int(g.drops(DropStale))+len(g.sent) != len(pkts) {
			t.Errorf("timer %v late: sent %d, %d stale", tc.late, len(g.sent), g.drops(DropStale))
		}
	}
}

func rtpPayload(b []byte) []byte {
	var h rtp.Header
	h.Unmarshal(b)
	return h.Payload(b)
}
