package loadgen

import (
	"math/bits"
	"time"
)

// Histogram counts durations in log-linear buckets (HDR style): exact below 32 ns, then 32
// buckets per power of two, so any value is within about 3% of its bucket's bounds, up to
// about 18 minutes. Fixed size, no allocation per value.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    int64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = (41 - histSubBits + 1) * histSub
)

func histIndex(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	sh := bits.Len64(uint64(v)) - histSubBits - 1 // v>>sh is in [32, 64)
	i := (sh+1)*histSub + int(v>>sh) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histUpper is the largest value of bucket i.
func histUpper(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	sh := i/histSub - 1
	sub := int64(i%histSub + histSub)
	return (sub+1)<<sh - 1
}

// Record counts one duration in ns.
func (h *Histogram) Record(ns int64) {
	h.counts[histIndex(ns)]++
	h.n++
	if ns > h.max {
		h.max = ns
	}
}

// Merge adds o's counts.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Quantile returns the upper bound of the bucket holding quantile q (0..1): a value no
// smaller than the true quantile, at most about 3% above it.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histUpper(i), h.max))
		}
	}
	return time.Duration(h.max)
}
