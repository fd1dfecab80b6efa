package udpio

import (
	"math/rand/v2"
	"net/netip"
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

// fakeHandler is a Handler for the engine's own tests: it records what it
// is handed.
type fakeHandler struct {
	tm       Timer
	due      time.Time
	dueOK    bool
	packets  int
	expired  int
	closed   bool
	sendErrs int
}

func newFake() *fakeHandler {
	h := &fakeHandler{}
	h.tm.h = h
	return h
}

func (h *fakeHandler) Packet([]byte, int, netip.AddrPort, time.Duration, time.Time) bool {
	h.packets++
	return true
}
func (h *fakeHandler) Due(time.Time) (time.Time, bool) { return h.due, h.dueOK }
func (h *fakeHandler) Expire(time.Time, bool)          { h.expired++ }
func (h *fakeHandler) GraceDue(time.Time) bool         { return false }
func (h *fakeHandler) SendFailed()                     { h.sendErrs++ }
func (h *fakeHandler) WarmLevels() int                 { return 0 }
func (h *fakeHandler) Warm(Work, int)                  {}
func (h *fakeHandler) Timer() *Timer                   { return &h.tm }
func (h *fakeHandler) Close()                          { h.closed = true }

// Entries whose handler moved on (another time, no longer timed, closed) are skipped.
func TestReleaseTimersStaleEntries(t *testing.T) {
	var rt releaseTimers
	a, b, c := newFake(), newFake(), newFake()
	a.tm.timed, a.tm.at = true, 30
	b.tm.timed, b.tm.at = true, 20
	c.tm.timed, c.tm.at, c.tm.closed = true, 5, true
	rt.h.push(timerEntry{at: 10, t: &a.tm}) // stale: a is now at 30
	rt.h.push(timerEntry{at: 30, t: &a.tm})
	rt.h.push(timerEntry{at: 20, t: &b.tm})
	rt.h.push(timerEntry{at: 5, t: &c.tm}) // closed
	e, ok := rt.top()
	if !ok || e.t != &b.tm || e.at != 20 {
		t.Fatalf("top = %v %v, want b at 20", e, ok)
	}
	b.tm.timed = false
	if e, ok = rt.top(); !ok || e.t != &a.tm || e.at != 30 {
		t.Fatalf("top = %v %v, want a at 30", e, ok)
	}
	a.tm.closed = true
	if _, ok = rt.top(); ok || !rt.empty() {
		t.Fatalf("entries left after every handler moved on: %d", len(rt.h))
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

// expire hands over every live due handler once, in time order, across more
// than one batch, and leaves stale entries, closed handlers and later times alone.
func TestReleaseTimersExpireBatches(t *testing.T) {
	var rt releaseTimers
	rt.epoch = time.Unix(1000, 0)
	var hs []*fakeHandler
	for i := range 300 {
		h := newFake()
		h.tm.timed, h.tm.at = true, int64(i*10)
		rt.h.push(timerEntry{at: h.tm.at, t: &h.tm})
		if i%7 == 0 {
			rt.h.push(timerEntry{at: h.tm.at - 5, t: &h.tm}) // stale: h moved on
		}
		h.tm.closed = i%11 == 0
		hs = append(hs, h)
	}
	var got []*Timer
	rt.expire(rt.epoch.Add(1500), true, func(t *Timer) { got = append(got, t) })
	var want []*Timer
	for i, h := range hs[:151] {
		if i%11 != 0 {
			want = append(want, &h.tm)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("expired %d handlers, want %d in time order", len(got), len(want))
	}
	if e, ok := rt.top(); !ok || e.t != &hs[151].tm {
		t.Fatalf("next entry = %v %v, want handler 151", e, ok)
	}
	// Without around, expire calls each handler's Expire; watch then finds
	// nothing due and leaves no entry.
	rt.expire(rt.epoch.Add(1500+10*20), true, nil)
	if n := hs[160].expired; n != 1 {
		t.Fatalf("handler 160 expired %d times, want 1", n)
	}
	if hs[160].tm.timed {
		t.Fatal("a handler with nothing due is still timed")
	}
}

// watch pushes an entry only when the handler's due time changes.
func TestReleaseTimersWatch(t *testing.T) {
	var rt releaseTimers
	h := newFake()
	now := time.Now()
	rt.watch(&h.tm, now)
	if len(rt.h) != 0 || h.tm.timed {
		t.Fatal("an entry for a handler with nothing due")
	}
	h.due, h.dueOK = now.Add(time.Millisecond), true
	rt.watch(&h.tm, now)
	rt.watch(&h.tm, now)
	if len(rt.h) != 1 {
		t.Fatalf("%d entries for one due time, want 1", len(rt.h))
	}
	h.due = now.Add(2 * time.Millisecond)
	rt.watch(&h.tm, now)
	if len(rt.h) != 2 {
		t.Fatalf("%d entries after the due time moved, want 2 (one stale)", len(rt.h))
	}
	if e, ok := rt.top(); !ok || len(rt.h) != 1 || e.at != int64(h.due.Sub(rt.epoch)) {
		t.Fatalf("top %v %v of %d entries, want the new time alone", e, ok, len(rt.h))
	}
}
