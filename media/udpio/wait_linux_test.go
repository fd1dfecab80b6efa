//go:build linux

package udpio

import (
	"runtime"
	"testing"
	"time"
)

func TestSpinBudget(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct{ busy, timeout, want time.Duration }{
		{0, -1, 0}, // off
		{0, ms, 0},
		{-ms, -1, 0},
		{ms, -1, ms}, // nothing due: poll busy, then sleep
		{ms, 5 * ms, ms},
		{ms, ms / 4, ms / 4}, // due within it: polled until due
		{ms, 0, 0},
	} {
		if got := spinBudget(tc.busy, tc.timeout); got != tc.want {
			t.Errorf("spinBudget(%v, %v) = %v, want %v", tc.busy, tc.timeout, got, tc.want)
		}
	}
}

func TestRawWait(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer func() { runtime.GOMAXPROCS(prev); noteProcs() }()
	noteProcs()
	for _, tc := range []struct {
		timeout time.Duration
		want    bool
	}{
		{-1, false}, // unbounded: through the runtime
		{0, true},
		{DefaultLinger, true},
		{rawWaitMax, true},
		{rawWaitMax + 1, false},
		{time.Second, false},
	} {
		if got := rawWait(tc.timeout); got != tc.want {
			t.Errorf("rawWait(%v) = %v, want %v", tc.timeout, got, tc.want)
		}
	}
	// One processor: a raw wait would stall every other goroutine.
	runtime.GOMAXPROCS(1)
	noteProcs()
	if rawWait(DefaultLinger) {
		t.Error("raw wait with GOMAXPROCS=1")
	}
}
