package relay

import "time"

// releaseTimers tracks the receivers of one engine worker whose delay lines hold packets,
// for the engines that drive release times themselves (epoll, io_uring): the earliest due
// time bounds the worker's wait, and expire releases what is due. The portable engine
// uses a read deadline per socket instead (engine.go).
type releaseTimers struct {
	rs []*receiver
}

// watch adds r if its delay line now holds packets (once: r.timed marks it).
func (t *releaseTimers) watch(r *receiver) {
	if r == nil || r.dl == nil || r.timed || r.closed {
		return
	}
	if _, ok := r.dl.due(); ok {
		r.timed = true
		t.rs = append(t.rs, r)
	}
}

func (t *releaseTimers) empty() bool { return len(t.rs) == 0 }

// timeout is how long a worker may wait from now: until the earliest release, or -1
// (forever) when nothing is queued.
func (t *releaseTimers) timeout(now time.Time) time.Duration {
	best := time.Duration(-1)
	for _, r := range t.rs {
		if r.closed {
			continue
		}
		if at, ok := r.dl.due(); ok {
			d := max(r.c.epoch.Add(at).Sub(now), 0)
			if best < 0 || d < best {
				best = d
			}
		}
	}
	return best
}

// expire releases what is due by now and forgets the receivers whose lines emptied or
// that closed. around, when set, runs each release (io_uring notes whose sends follow).
func (t *releaseTimers) expire(now time.Time, around func(r *receiver, release func())) {
	keep := t.rs[:0]
	for _, r := range t.rs {
		if r.closed {
			continue
		}
		dl := r.dl
		if at, ok := dl.due(); ok && !now.Before(dl.c.epoch.Add(at)) {
			if around != nil {
				around(r, dl.expire)
			} else {
				dl.expire()
			}
		}
		if _, ok := dl.due(); ok {
			keep = append(keep, r)
			continue
		}
		r.timed = false
	}
	clear(t.rs[len(keep):])
	t.rs = keep
}
