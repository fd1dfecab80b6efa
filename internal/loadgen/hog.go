package loadgen

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// Hog is a competing CPU load for part of a run (Config.Hog): Threads busy threads in a
// process of their own, in a session of their own (as another service's process would
// be: the scheduler's autogroups weigh sessions, not threads), at the harness's own nice
// level, so the relay under test and the generator compete with it at the same priority.
// It starts After into the measurement window and runs For (0: to the end of the
// window). Latency is also reported for the packets received while it ran (Result.Hog*),
// so the effect of a busy host is measured in every round rather than waited for.
type Hog struct {
	Threads int
	After   time.Duration
	For     time.Duration
	// Bin is an executable that calls Spin when HogEnv is set in its environment
	// (hushload itself).
	Bin string
}

// HogEnv is the environment variable a hog process finds its thread count in.
const HogEnv = "HUSHLOAD_HOG"

// hogSink keeps the spin loops' work observable, so it is not optimised away.
var hogSink atomic.Uint64

// Spin busies n threads until the process is killed: the body of a hog process.
func Spin(n int) {
	n = max(n, 1)
	runtime.GOMAXPROCS(n)
	for range n {
		go func() {
			runtime.LockOSThread()
			x := uint64(n)
			for {
				x = x*6364136223846793005 + 1442695040888963407
				if x == 0 {
					hogSink.Store(x)
				}
			}
		}()
	}
	select {}
}

// HogThreads parses a hog's thread count from its environment value.
func HogThreads(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1024 {
		return 0, fmt.Errorf("%w: %s=%q: want a thread count 1..1024", ErrConfig, HogEnv, v)
	}
	return n, nil
}

// startHog starts h's process; stop kills it and waits for it.
func startHog(h *Hog) (stop func(), err error) {
	cmd := exec.Command(h.Bin)
	cmd.Env = append(os.Environ(), HogEnv+"="+strconv.Itoa(h.Threads))
	cmd.SysProcAttr = hogAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: hog: start %s: %v", ErrConfig, h.Bin, err)
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}, nil
}

// runHog runs h within the window that starts now: it sets on while the hog runs, and
// returns when the hog has ended or done closed, with how long it ran.
func runHog(h *Hog, on *atomic.Bool, done <-chan struct{}, logf func(string, ...any)) time.Duration {
	select {
	case <-time.After(h.After):
	case <-done:
		return 0
	}
	stop, err := startHog(h)
	if err != nil {
		logf("%v", err)
		return 0
	}
	t0 := time.Now()
	on.Store(true)
	var until <-chan time.Time
	if h.For > 0 {
		until = time.After(h.For)
	}
	select {
	case <-until:
	case <-done:
	}
	on.Store(false)
	ran := time.Since(t0)
	stop()
	return ran
}
