//go:build linux

package udpio

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Short waits as raw system calls. A worker under load waits for at most
// Linger (250 µs) at a time, thousands of times a second. Made the usual
// way (entersyscall), each wait longer than 20 µs while the other
// processors are busy lets the runtime's monitor thread (sysmon) take the
// worker's processor away and hand it to another thread, and keeps sysmon
// itself polling every 20 µs: measured at 500 calls, sysmon alone was 11%
// of hushd's CPU and plain forwarding cost 6.0 CPU-s per million packets
// against 4.8 with raw waits. A raw wait keeps the processor for at most
// rawWaitMax; the runtime can still preempt the worker (a signal ends the
// wait with EINTR), and waits that may be long (idle, or far timers) go
// through the runtime so an idle relay does not hold a processor.
const rawWaitMax = time.Millisecond

// rawEngineSetup is what the epoll and io_uring engines share at start: their worker
// count (Options.Workers, default GOMAXPROCS/2, at least 1) and linger (0 means
// DefaultLinger, negative none), and noting GOMAXPROCS for rawWait.
func rawEngineSetup(opts Options) (workers int, linger time.Duration) {
	workers = opts.Workers
	if workers <= 0 {
		workers = max(runtime.GOMAXPROCS(0)/2, 1)
	}
	noteProcs()
	linger = opts.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	return workers, max(linger, 0)
}

// realtime puts the calling thread, which must be locked to its goroutine and
// end with it, under SCHED_RR at prio (Options.Priority); 0 does nothing.
func realtime(prio int) error {
	if prio == 0 {
		return nil
	}
	if prio < 1 || prio > 99 {
		return fmt.Errorf("%w: priority %d outside 1..99", ErrRealtime, prio)
	}
	attr := unix.SchedAttr{Policy: unix.SCHED_RR, Priority: uint32(prio)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("%w: SCHED_RR %d: %v (needs CAP_SYS_NICE or RLIMIT_RTPRIO)", ErrRealtime, prio, err)
	}
	return nil
}

// multiProc: GOMAXPROCS > 1 when the last engine started (runtime.GOMAXPROCS
// takes the scheduler's lock, too dear per wait).
var multiProc atomic.Bool

func noteProcs() { multiProc.Store(runtime.GOMAXPROCS(0) > 1) }

// spinBudget is how long a worker polls without sleeping (Options.BusyPoll)
// before a wait of timeout (-1: unbounded): busy, cut to the timeout, so a
// due time within it is met by polling too.
func spinBudget(busy, timeout time.Duration) time.Duration {
	if busy <= 0 {
		return 0
	}
	if timeout >= 0 && timeout < busy {
		return timeout
	}
	return busy
}

// busyPoll runs poll, which must not sleep, until it reports true or the
// spin budget (spinBudget) has passed; it reports whether poll did, and
// what is left of timeout for the wait that follows.
func busyPoll(busy, timeout time.Duration, poll func() bool) (bool, time.Duration) {
	spin := spinBudget(busy, timeout)
	if spin <= 0 {
		return false, timeout
	}
	start := time.Now()
	for !poll() {
		if el := time.Since(start); el >= spin {
			if timeout >= 0 {
				timeout = max(timeout-el, 0)
			}
			return false, timeout
		}
	}
	return true, timeout
}

// rawWait reports whether a wait of timeout (-1: unbounded) may be raw:
// bounded and short, and another processor left for every other goroutine.
func rawWait(timeout time.Duration) bool {
	return timeout >= 0 && timeout <= rawWaitMax && multiProc.Load()
}
