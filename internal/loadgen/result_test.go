package loadgen

import (
	"testing"
	"time"
)

// TestClean: a ramp step is clean when nothing was lost and the latency the relay added
// stayed within the limit at p99; in a masked run the look-ahead itself is not added
// latency, but a packet that skipped it is a fault.
func TestClean(t *testing.T) {
	masked := func(beyond, unmaskedP99 float64, early uint64) *Result {
		return &Result{Sent: 100, Received: 100, LatencyP99: 61000, LookAhead: 60000,
			BeyondP99: beyond, Early: early,
			Directions: []DirectionLatency{
				{Direction: "customer->agent", Masked: true, P99: 61000},
				{Direction: "agent->customer", P99: unmaskedP99},
			}}
	}
	for _, c := range []struct {
		name string
		r    *Result
		want bool
	}{
		{"plain within", &Result{Sent: 100, Received: 100, LatencyP99: 900}, true},
		{"plain over", &Result{Sent: 100, Received: 100, LatencyP99: 5100}, false},
		{"plain lost", &Result{Sent: 100, Received: 99, Lost: 1, LatencyP99: 900}, false},
		{"plain short without a loss count", &Result{Sent: 100, Received: 99, LatencyP99: 900}, false},
		{"masked within beyond the look-ahead", masked(900, 800, 0), true},
		{"masked over beyond the look-ahead", masked(5100, 800, 0), false},
		{"masked, unmasked direction over", masked(900, 5100, 0), false},
		{"masked, a packet before its look-ahead", masked(900, 800, 1), false},
	} {
		if got := c.r.Clean(5 * time.Millisecond); got != c.want {
			t.Errorf("%s: Clean = %v, want %v", c.name, got, c.want)
		}
	}
}
