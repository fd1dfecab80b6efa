package relay

import "time"

// releaseTimers tracks the receivers of one engine worker whose delay lines hold packets,
// for the engines that drive release times themselves (epoll, io_uring): the earliest due
// time bounds the worker's wait, and expire releases what is due. The portable engine
// uses a read deadline per socket instead (engine.go).
//
// It is a min-heap of release times with lazy deletion: a receiver's current entry is the
// one whose time equals r.timerAt; older entries for it are dropped when they surface. A
// worker wakes thousands of times a second and holds a line per masked direction (1000 at
// 500 calls), so scanning every line on each wake-up cost a third of the relay's CPU; the
// heap touches only what is due. A line's due time changes only when its head leaves or
// the detector catches up with it, so most packets push nothing.
type releaseTimers struct {
	epoch  time.Time // the heap's clock: times are nanoseconds since epoch
	h      timerHeap
	batch  [warmMax]timerEntry // expire's
	warmed warmSet             // expire's live receivers
}

type timerEntry struct {
	at int64 // release time, ns since releaseTimers.epoch
	r  *receiver
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
	s[n] = timerEntry{} // let a closed receiver go
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

// watch (re)schedules r after its delay line changed: a new entry when its due time
// differs from the scheduled one, nothing when it is the same or the line is empty.
func (t *releaseTimers) watch(r *receiver, now time.Time) {
	if r == nil || r.dl == nil || r.closed {
		return
	}
	at, ok := r.dl.due(now.Sub(r.c.epoch))
	if !ok {
		r.timed = false // any entry left is stale
		return
	}
	if t.epoch.IsZero() {
		t.epoch = time.Now()
	}
	abs := int64(r.c.epoch.Sub(t.epoch) + at)
	if r.timed && r.timerAt == abs {
		return
	}
	r.timed, r.timerAt = true, abs
	t.h.push(timerEntry{at: abs, r: r})
}

// current reports whether e is its receiver's live entry.
func current(e timerEntry) bool {
	return e.r.timed && !e.r.closed && e.r.timerAt == e.at
}

// top drops stale entries and returns the earliest live one.
func (t *releaseTimers) top() (timerEntry, bool) {
	for len(t.h) > 0 {
		if e := t.h[0]; current(e) {
			return e, true
		}
		t.h.popMin()
	}
	return timerEntry{}, false
}

func (t *releaseTimers) empty() bool { return len(t.h) == 0 }

// graceDue reports whether a line due by now would let a packet the detector has not
// decided about go at its stall grace (delayLine.graceDue): the worker must read what has
// reached its sockets first. It visits only the heap's entries due by now.
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
		if current(e) && e.r.dl.graceDue(now.Sub(e.r.c.epoch)) {
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

// expire releases what is due by now; caughtUp: see delayLine.expire (before the worker
// has read what its wake-up brought, only packets the detector has decided about leave).
// around, when set, runs each release in its place and must call r.dl.expire(now,
// caughtUp) (io_uring notes whose sends follow). Bounded by the
// entries present on entry: a line whose next release is also due by now (it cannot be,
// Pop takes everything due) waits for the next call rather than looping here.
//
// Under load a wake-up finds tens of lines due, and each line's state is out of cache (a
// thousand lines in turn): releasing them one by one waited on each of their loads in
// sequence. The batch is warmed first, level by level (warm.go), so the loads overlap.
func (t *releaseTimers) expire(now time.Time, caughtUp bool, around func(r *receiver)) {
	if len(t.h) == 0 {
		return
	}
	nowNs := int64(now.Sub(t.epoch))
	for range len(t.h)/len(t.batch) + 1 {
		// Due entries, stale ones too: telling them apart reads the receiver.
		n := 0
		for n < len(t.batch) && len(t.h) > 0 && t.h[0].at <= nowNs {
			e := t.h.popMin()
			e.r.warm(warmRelease, 0)
			t.batch[n] = e
			n++
		}
		live := t.batch[:0]
		for _, e := range t.batch[:n] {
			if current(e) {
				e.r.timed = false
				live = append(live, e)
				t.warmed.add(e.r, e.r.levels)
			}
		}
		t.warmed.run(1, warmRelease) // level 0 ran as they were popped
		for _, e := range live {
			r := e.r
			if around != nil {
				around(r)
			} else {
				r.dl.expire(now, caughtUp)
			}
			t.watch(r, now)
		}
		clear(t.batch[:n]) // let closed receivers go
		if n < len(t.batch) {
			return
		}
	}
}
