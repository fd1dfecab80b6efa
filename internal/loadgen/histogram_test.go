package loadgen

import (
	"testing"
	"time"
)

func TestHistogramBucketsCoverAndBound(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 12345, 1e6, 1e9, 1e12} {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("index not monotonic at %d", v)
		}
		prev = i
		up := histUpper(i)
		if up < v || float64(up-v) > 0.035*float64(v)+1 {
			t.Fatalf("value %d bucket %d upper %d", v, i, up)
		}
		if i > 0 && histUpper(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, i-1)
		}
	}
	if histIndex(1<<62) != histBuckets-1 || histIndex(-5) != 0 {
		t.Fatal("clamping")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h, o Histogram
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * 1000) // 1..1000 µs
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.Quantile(c.q)
		if got < c.want || float64(got) > 1.035*float64(c.want) {
			t.Errorf("q%v = %v want ~%v", c.q, got, c.want)
		}
	}
	o.Record(int64(time.Second))
	h.Merge(&o)
	if h.Count() != 1001 || h.Max() != time.Second || h.Quantile(1) != time.Second {
		t.Fatalf("merge: n=%d max=%v", h.Count(), h.Max())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 {
		t.Fatal("empty")
	}
	if n := testing.AllocsPerRun(100, func() { h.Record(12345) }); n != 0 {
		t.Fatalf("Record allocates %v", n)
	}
}
