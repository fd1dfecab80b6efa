package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary be its own hog process (Hog.Bin), as hushload is.
func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(HogEnv); ok {
		n, err := HogThreads(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		Spin(n)
	}
	os.Exit(m.Run())
}

func TestHogThreads(t *testing.T) {
	if n, err := HogThreads("3"); n != 3 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	for _, bad := range []string{"", "0", "-1", "x", "1025", "2.5", " 2"} {
		if _, err := HogThreads(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestRunDirectWithHog: a hog starts into the window, runs for its time and ends; the
// packets received meanwhile are measured apart, a subset of the window's.
func TestRunDirectWithHog(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, Direct{}, Config{Calls: 2, Duration: 2 * time.Second, Warmup: 200 * time.Millisecond,
		Sockets: 2, IdleSettle: time.Millisecond,
		Hog: &Hog{Threads: 1, After: 300 * time.Millisecond, For: 500 * time.Millisecond, Bin: self}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.HogThreads != 1 {
		t.Fatalf("lost %d, hog threads %d", res.Lost, res.HogThreads)
	}
	// It ran its 500 ms (a busy host may start or stop it late, never early).
	if res.HogSeconds < 0.5 || res.HogSeconds > 1.4 {
		t.Fatalf("hog ran %.2f s, want 0.5 s", res.HogSeconds)
	}
	if res.HogSamples == 0 || res.HogSamples >= res.LatencySamples || res.HogP50 <= 0 ||
		res.HogP50 > res.HogP99 || res.HogP99 > res.HogP999 || res.HogP999 > res.HogMax || res.HogMax > res.LatencyMax {
		t.Fatalf("hog samples %d of %d, p50 %v p99 %v p999 %v max %v (window max %v)", res.HogSamples,
			res.LatencySamples, res.HogP50, res.HogP99, res.HogP999, res.HogMax, res.LatencyMax)
	}
	if res.HogBeyondP99 != 0 {
		t.Fatalf("beyond look-ahead %v without a masked direction", res.HogBeyondP99)
	}
}

func TestRunBadHog(t *testing.T) {
	for _, h := range []*Hog{{}, {Threads: 1}, {Threads: 1, Bin: "x", After: -1}, {Threads: 1, Bin: "x", For: -1}} {
		_, err := Run(context.Background(), Direct{}, Config{Calls: 1, Duration: time.Second, Hog: h})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", h, err)
		}
	}
}
