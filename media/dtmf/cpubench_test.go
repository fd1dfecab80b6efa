package dtmf

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCPUBench(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	srcs := map[string][]int16{
		"speech": quantise(dtmftest.Speech(t, 120*SampleRate, 0), ulaw),
		"noise":  benchSignal("noise"),
		"tone":   benchSignal("tone"),
	}
	for _, name := range []string{"speech", "noise", "tone"} {
		pcm := srcs[name]
		best := time.Hour
		for rep := 0; rep < 5; rep++ {
			d := NewDetector()
			evs := make([]Event, 0, 8)
			const n = 20000
			i := 0
			c0 := cpuNow()
			for k := 0; k < n; k++ {
				if i+160 > len(pcm) {
					i = 0
				}
				evs = d.Process(pcm[i:i+160], evs[:0])
				i += 160
			}
			best = min(best, (cpuNow()-c0)/n)
		}
		t.Logf("%s: %v CPU per 20 ms frame", name, best)
	}
}
