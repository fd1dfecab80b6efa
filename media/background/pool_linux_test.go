package background

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadSched reads a thread's nice value and scheduling policy from
// /proc/self/task/TID/stat (fields 19 and 41, proc(5)).
func threadSched(t *testing.T, tid int) (nice, policy int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // f[0] is field 3
	nice, err1 := strconv.Atoi(f[19-3])
	policy, err2 := strconv.Atoi(f[41-3])
	if err1 != nil || err2 != nil {
		t.Fatalf("stat %q: %v %v", s, err1, err2)
	}
	return nice, policy
}

// TestPoolThreadPriority: work handed to the pool runs on threads at the configured
// nice value under SCHED_BATCH, as the kernel reports them; the submitting thread keeps
// its own priority; no privilege is needed.
func TestPoolThreadPriority(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	callerNice, callerPolicy := threadSched(t, unix.Gettid())
	const nice = 7
	p, err := New(2, nice)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if len(p.TIDs()) != 2 {
		t.Fatalf("TIDs %v, want 2", p.TIDs())
	}
	done := make(chan struct{}, 1)
	for range 20 {
		var tid int
		p.Run(func() { tid = unix.Gettid() }, done)
		n, pol := threadSched(t, tid)
		if n != nice || pol != unix.SCHED_BATCH {
			t.Fatalf("work ran on thread %d at nice %d policy %d, want nice %d policy %d (SCHED_BATCH)", tid, n, pol, nice, unix.SCHED_BATCH)
		}
	}
	for _, tid := range p.TIDs() {
		if n, pol := threadSched(t, tid); n != nice || pol != unix.SCHED_BATCH {
			t.Fatalf("pool thread %d at nice %d policy %d", tid, n, pol)
		}
	}
	if n, pol := threadSched(t, unix.Gettid()); n != callerNice || pol != callerPolicy {
		t.Fatalf("caller's thread changed: nice %d policy %d, was %d %d", n, pol, callerNice, callerPolicy)
	}
}

// TestPoolOff: nice 0 is no pool: work runs on the caller's own thread.
func TestPoolOff(t *testing.T) {
	p, err := New(4, 0)
	if err != nil || p != nil {
		t.Fatalf("New(4, 0) = %v, %v; want nil, nil", p, err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var tid int
	p.Run(func() { tid = unix.Gettid() }, nil)
	if tid != unix.Gettid() {
		t.Fatalf("ran on thread %d, not the caller's %d", tid, unix.Gettid())
	}
	p.Close()
}

func TestPoolBadNice(t *testing.T) {
	for _, n := range []int{-1, 20} {
		if _, err := New(1, n); !errors.Is(err, ErrBadNice) {
			t.Errorf("New(1, %d): %v, want ErrBadNice", n, err)
		}
	}
}

// TestPoolRunAllocs: handing work over allocates nothing (a writer does it every drain).
func TestPoolRunAllocs(t *testing.T) {
	p, err := New(1, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan struct{}, 1)
	n := 0
	f := func() { n++ }
	if a := testing.AllocsPerRun(100, func() { p.Run(f, done) }); a != 0 {
		t.Fatalf("%v allocations per Run", a)
	}
}

// TestPoolFullRunsInline: when the threads are held up and the queue is full, work runs
// on its caller instead of waiting: a stalled disk never stalls more than the queue.
func TestPoolFullRunsInline(t *testing.T) {
	p, err := New(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	hold, held := make(chan struct{}), make(chan struct{})
	go p.Run(func() { close(held); <-hold }, make(chan struct{}, 1))
	<-held
	// Fill the queue with jobs that wait behind the held one.
	var wg sync.WaitGroup
	for range queueLen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(func() {}, make(chan struct{}, 1))
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); len(p.jobs) < queueLen; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d of %d jobs after 10 s", len(p.jobs), queueLen)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var tid int
	p.Run(func() { tid = unix.Gettid() }, make(chan struct{}, 1))
	if tid != unix.Gettid() || p.Inline() != 1 {
		t.Fatalf("with a full queue the job ran on thread %d (caller %d), inline count %d", tid, unix.Gettid(), p.Inline())
	}
	close(hold)
	wg.Wait()
}
