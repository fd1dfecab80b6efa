package background

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool runs functions on its threads. A nil *Pool runs them on the caller's goroutine,
// at the caller's priority.
type Pool struct {
	jobs   chan job
	wg     sync.WaitGroup
	tids   []int
	inline atomic.Uint64
}

type job struct {
	f    func()
	done chan<- struct{}
}

// queueLen bounds the jobs waiting for a thread. Beyond it a job runs on its caller:
// threads held up (a disk that stalls a write for seconds) never hold up more than this
// many callers, each of which would otherwise have done its own work.
const queueLen = 64

// New starts threads OS threads at nice (1..19) under SCHED_BATCH. nice 0 returns a nil
// Pool: the work runs where it is submitted. threads below 1 count as 1.
func New(threads, nice int) (*Pool, error) {
	if nice < 0 || nice > 19 {
		return nil, fmt.Errorf("%w: %d", ErrBadNice, nice)
	}
	if nice == 0 {
		return nil, nil
	}
	p := &Pool{jobs: make(chan job, queueLen)}
	started := make(chan error, max(threads, 1))
	var mu sync.Mutex
	for range max(threads, 1) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			// Locked for good and never unlocked: the thread's priority dies with it
			// (the goroutine exits locked, so the runtime ends the thread).
			runtime.LockOSThread()
			tid, err := lower(nice)
			if err == nil {
				mu.Lock()
				p.tids = append(p.tids, tid)
				mu.Unlock()
			}
			started <- err
			if err != nil {
				return
			}
			for j := range p.jobs {
				j.f()
				j.done <- struct{}{}
			}
		}()
	}
	var first error
	for range max(threads, 1) {
		if err := <-started; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		p.Close()
		return nil, first
	}
	return p, nil
}

// Run runs f on one of the pool's threads and returns when it has; done must be a
// channel with a buffer of one that only this caller uses (kept by the caller, so a
// run allocates nothing). On a nil Pool, or when queueLen jobs already wait, f runs
// here.
func (p *Pool) Run(f func(), done chan struct{}) {
	if p == nil {
		f()
		return
	}
	select {
	case p.jobs <- job{f: f, done: done}:
		<-done
	default:
		p.inline.Add(1)
		f()
	}
}

// Inline is how many jobs ran on their callers because the queue was full.
func (p *Pool) Inline() uint64 {
	if p == nil {
		return 0
	}
	return p.inline.Load()
}

// Close ends the threads once the queued work is done; Run must not be called after.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	close(p.jobs)
	p.wg.Wait()
}

// TIDs returns the pool's thread ids.
func (p *Pool) TIDs() []int {
	if p == nil {
		return nil
	}
	return append([]int(nil), p.tids...)
}
