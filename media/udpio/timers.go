package udpio

import (
	"time"
	"unsafe"

	"github.com/hushmedia/hush/media/internal/cpucache"
)

// releaseTimers tracks the handlers of one engine worker that wait for a time (Due), for
// the engines that drive release times themselves (epoll, io_uring): the earliest due
// time bounds the worker's wait, and expire runs what is due. The portable engine uses a
// read deadline per socket instead (portable.go).
//
// It is a min-heap of times with lazy deletion: a handler's current entry is the one
// whose time equals its Timer's at; older entries for it are dropped when they surface. A
// worker wakes thousands of times a second and holds a handler per masked direction (1000
// at 500 calls), so scanning every one on each wake-up cost a third of the relay's CPU;
// the heap touches only what is due. A masked direction's due time changes only when its
// oldest packet leaves or the detector decides about it, so most packets push nothing.
type releaseTimers struct {
	epoch  time.Time // the heap's clock: times are nanoseconds since epoch
	h      timerHeap
	batch  [warmMax]timerEntry // expire's
	warmed warmSet             // expire's live handlers
}

type timerEntry struct {
	at int64 // release time, ns since releaseTimers.epoch
	t  *Timer
}

// timerHeap is a binary min-heap on at. Its own sift functions, not container/heap:
// that boxes every pushed entry in an interface (an allocation per push).
type timerHeap []timerEntry

func (h *timerHeap) push(e timerEntry) {
	s := append(*h, e)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].at <= s[i].at {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *timerHeap) popMin() timerEntry {
	s := *h
	e := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = timerEntry{} // let a closed handler go
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].at < s[l].at {
			m = r
		}
		if s[i].at <= s[m].at {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return e
}

// watch (re)schedules t's handler after it handled something: a new entry when its due
// time differs from the scheduled one, nothing when it is the same or nothing is due.
func (rt *releaseTimers) watch(t *Timer, now time.Time) {
	if t == nil || t.closed {
		return
	}
	at, ok := t.h.Due(now)
	if !ok {
		t.timed = false // any entry left is stale
		return
	}
	if rt.epoch.IsZero() {
		rt.epoch = time.Now()
	}
	abs := int64(at.Sub(rt.epoch))
	if t.timed && t.at == abs {
		return
	}
	t.timed, t.at = true, abs
	rt.h.push(timerEntry{at: abs, t: t})
}

// current reports whether e is its handler's live entry.
func current(e timerEntry) bool {
	return e.t.timed && !e.t.closed && e.t.at == e.at
}

// top drops stale entries and returns the earliest live one.
func (rt *releaseTimers) top() (timerEntry, bool) {
	for len(rt.h) > 0 {
		if e := rt.h[0]; current(e) {
			return e, true
		}
		rt.h.popMin()
	}
	return timerEntry{}, false
}

func (rt *releaseTimers) empty() bool { return len(rt.h) == 0 }

// graceDue reports whether a handler due by now needs its socket read first
// (Handler.GraceDue): the worker must read what has reached its sockets first. It visits
// only the heap's entries due by now.
func (t *releaseTimers) graceDue(now time.Time) bool {
	if len(t.h) == 0 || t.epoch.IsZero() {
		return false
	}
	nowNs := int64(now.Sub(t.epoch))
	var stack [64]int
	sp := 0
	stack[sp], sp = 0, 1
	for range len(t.h) {
		if sp == 0 {
			return false
		}
		sp--
		i := stack[sp]
		e := t.h[i]
		if e.at > nowNs {
			continue // nor anything below it
		}
		if current(e) && e.t.h.GraceDue(now) {
			return true
		}
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(t.h) && sp < len(stack) {
				stack[sp], sp = c, sp+1
			}
		}
	}
	return false
}

// timeout is how long a worker may wait from now: until the earliest release, or -1
// (forever) when nothing is queued.
func (t *releaseTimers) timeout(now time.Time) time.Duration {
	e, ok := t.top()
	if !ok {
		return -1
	}
	return max(time.Duration(e.at)-now.Sub(t.epoch), 0)
}

// expire runs what is due by now; caughtUp: see Handler.Expire. around, when set, runs
// each expiry in its place and must call t.h.Expire(now, caughtUp) (io_uring notes whose
// sends follow, epoll reads the socket first when GraceDue). Bounded by the entries
// present on entry: a handler whose next time is also due by now waits for the next call
// rather than looping here.
//
// Under load a wake-up finds tens of handlers due, each out of cache (a thousand in turn):
// running them one by one waited on each of their loads in sequence. The batch is warmed
// first, level by level (warm.go), so the loads overlap.
func (rt *releaseTimers) expire(now time.Time, caughtUp bool, around func(t *Timer)) {
	if len(rt.h) == 0 {
		return
	}
	nowNs := int64(now.Sub(rt.epoch))
	for range len(rt.h)/len(rt.batch) + 1 {
		// Due entries, stale ones too: telling them apart reads the Timer.
		n := 0
		for n < len(rt.batch) && len(rt.h) > 0 && rt.h[0].at <= nowNs {
			e := rt.h.popMin()
			cpucache.Prefetch(unsafe.Pointer(e.t))
			rt.batch[n] = e
			n++
		}
		live := rt.batch[:0]
		for _, e := range rt.batch[:n] {
			if current(e) {
				e.t.timed = false
				live = append(live, e)
				rt.warmed.add(e.t.h, e.t.levels)
			}
		}
		rt.warmed.run(WarmRelease)
		for _, e := range live {
			if around != nil {
				around(e.t)
			} else {
				e.t.h.Expire(now, caughtUp)
			}
			rt.watch(e.t, now)
		}
		clear(rt.batch[:n]) // let closed handlers go
		if n < len(rt.batch) {
			return
		}
	}
}
