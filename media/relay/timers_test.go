package relay

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The heap must hand entries back in time order whatever the order of pushes, with pops
// interleaved, as a worker does.
func TestTimerHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	var want []int64
	for i := range 5000 {
		if len(h) > 0 && i%3 == 0 {
			slices.Sort(want)
			got := h.popMin()
			if got.at != want[0] {
				t.Fatalf("pop %d: got %d, want %d", i, got.at, want[0])
			}
			want = want[1:]
			continue
		}
		at := rng.Int64N(1000) // duplicates on purpose
		h.push(timerEntry{at: at})
		want = append(want, at)
	}
	slices.Sort(want)
	for _, w := range want {
		if got := h.popMin(); got.at != w {
			t.Fatalf("drain: got %d, want %d", got.at, w)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d entries left", len(h))
	}
}

// Entries whose receiver moved on (another time, no longer timed, closed) are skipped.
func TestReleaseTimersStaleEntries(t *testing.T) {
	var rt releaseTimers
	a, b, c := &receiver{}, &receiver{}, &receiver{}
	a.timed, a.timerAt = true, 30
	b.timed, b.timerAt = true, 20
	c.timed, c.timerAt, c.closed = true, 5, true
	rt.h.push(timerEntry{at: 10, r: a}) // stale: a is now at 30
	rt.h.push(timerEntry{at: 30, r: a})
	rt.h.push(timerEntry{at: 20, r: b})
	rt.h.push(timerEntry{at: 5, r: c}) // closed
	e, ok := rt.top()
	if !ok || e.r != b || e.at != 20 {
		t.Fatalf("top = %v %v, want b at 20", e, ok)
	}
	b.timed = false
	if e, ok = rt.top(); !ok || e.r != a || e.at != 30 {
		t.Fatalf("top = %v %v, want a at 30", e, ok)
	}
	a.closed = true
	if _, ok = rt.top(); ok || !rt.empty() {
		t.Fatalf("entries left after every receiver moved on: %d", len(rt.h))
	}
}

func TestTimerHeapAllocs(t *testing.T) {
	var h timerHeap
	for i := range 64 {
		h.push(timerEntry{at: int64(i)})
	}
	i := int64(0)
	if n := testing.AllocsPerRun(1000, func() {
		h.push(timerEntry{at: i % 97})
		h.popMin()
		i++
	}); n != 0 {
		t.Fatalf("%v allocs per push+pop", n)
	}
}

// expire hands over every live due receiver once, in time order, across more
// than one batch, and leaves stale entries, closed receivers and later times alone.
func TestReleaseTimersExpireBatches(t *testing.T) {
	var rt releaseTimers
	rt.epoch = time.Unix(1000, 0)
	c := &Call{}
	var rs []*receiver
	for i := range 300 {
		r := &receiver{c: c, dl: &delayLine{c: c}}
		r.timed, r.timerAt = true, int64(i*10)
		rt.h.push(timerEntry{at: r.timerAt, r: r})
		if i%7 == 0 {
			rt.h.push(timerEntry{at: r.timerAt - 5, r: r}) // stale: r moved on
		}
		r.closed = i%11 == 0
		rs = append(rs, r)
	}
	var got []*receiver
	rt.expire(rt.epoch.Add(1500), true, func(r *receiver) { got = append(got, r) })
	var want []*receiver
	for i, r := range rs[:151] {
		if i%11 != 0 {
			want = append(want, r)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("released %d receivers, want %d in time order", len(got), len(want))
	}
	if e, ok := rt.top(); !ok || e.r != rs[151] {
		t.Fatalf("next entry = %v %v, want receiver 151", e, ok)
	}
}

// A masked line in steady state keeps one timer entry: each packet's release
// comes due as the packet that decides about the next one arrives, and the
// line is asked for at that packet's due time whichever comes first. (When
// the undecided packet was asked for at the end of its stall grace, the
// deciding packet a moment later pushed a second, earlier entry, and the
// stale one stayed in the heap for the grace: five times the live entries
// at 500 calls.)
func TestReleaseTimersOneEntryPerLine(t *testing.T) {
	forEngines(t, testReleaseTimersOneEntryPerLineOnEngine)
}

func testReleaseTimersOneEntryPerLineOnEngine(t *testing.T) {
	c, _, p, _ := maskedFixture(t)
	dl := newDelayLine(c, Customer, sock.write, 0)
	r := &receiver{c: c, dir: CustomerToAgent, dl: dl}
	rt := releaseTimers{epoch: c.epoch}
	st := &g711Stream{pt: 0, ssrc: 5}
	sig := make([]float64, 100*sFrame)
	tone{key: '7', at: 30 * sFrame, dur: 10 * sFrame, dbm0: -10}.add(sig, rand.New(rand.NewPCG(2, 2)))
	pkts := st.all(toPCM(sig))
	released := 0
	for k, b := range pkts {
		at := c.epoch.Add(time.Duration(k) * 20 * time.Millisecond)
		// The release due now goes first, then the packet arriving now.
		rt.expire(at, true, func(r *receiver) {
			n := dl.mk.Len()
			r.dl.expire(at, true)
			released += n - dl.mk.Len()
		})
		p.Buf = b
		if _, _, res := c.process(Customer, kindRTP, p); res != DropNone {
			t.Fatal(res)
		}
		p.at = at
		dl.handle(p)
		rt.watch(r, at)
		if len(rt.h) > 1 {
			t.Fatalf("packet %d: %d timer entries for one line", k, len(rt.h))
		}
	}
	if released < len(pkts)-5 {
		t.Fatalf("%d of %d packets released", released, len(pkts))
	}
}
