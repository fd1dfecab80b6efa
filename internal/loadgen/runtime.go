package loadgen

import (
	"context"
	"math"
	"strconv"
	"strings"
)

// RuntimeStats is what the Go runtime of a relay (hushd) did over a window, from the
// runtime/metrics its /metrics exposes: whether garbage collection or the scheduler held
// packets up. Histogram figures are bucket upper bounds (the exposition's buckets are
// coarse: about ten times apart).
type RuntimeStats struct {
	GCCycles   float64 `json:"gc_cycles"`
	PauseCount float64 `json:"gc_pauses"`
	PauseTotal float64 `json:"gc_pause_total_s"`
	PauseMax   float64 `json:"gc_pause_max_bucket_s"`
	AssistCPU  float64 `json:"gc_assist_cpu_s"`
	GCCPU      float64 `json:"gc_cpu_s"`
	SchedP99   float64 `json:"sched_latency_p99_bucket_s"`
	SchedMax   float64 `json:"sched_latency_max_bucket_s"`
	GOGC       float64 `json:"gogc_percent"`
}

// runtimeSample is the cumulative counters and histograms at one instant.
type runtimeSample struct {
	vals  map[string]float64
	hists map[string][]bucket
}

type bucket struct {
	le    float64
	count float64 // cumulative, as exposed
}

// RuntimeReader is a Target whose Go runtime figures can be read (hushd's /metrics).
type RuntimeReader interface {
	runtimeSample(ctx context.Context) (*runtimeSample, error)
}

func (h *Hush) runtimeSample(ctx context.Context) (*runtimeSample, error) {
	body, err := h.metricsText(ctx)
	if body == "" || err != nil {
		return nil, err
	}
	return parseRuntime(body), nil
}

func (h *HushNG) runtimeSample(ctx context.Context) (*runtimeSample, error) {
	return h.hush.runtimeSample(ctx)
}

const (
	promGCPauses  = "go_sched_pauses_total_gc_seconds"
	promSchedLat  = "go_sched_latencies_seconds"
	promAssist    = "go_cpu_classes_gc_mark_assist_cpu_seconds_total"
	promGCCPU     = "go_cpu_classes_gc_total_cpu_seconds_total"
	promGCCycles  = "go_gc_cycles_total_gc_cycles_total"
	promGOGC      = "go_gc_gogc_percent"
	promBucketSfx = "_bucket"
)

// parseRuntime reads the runtime series it knows from a Prometheus text exposition;
// others and malformed lines are ignored.
func parseRuntime(text string) *runtimeSample {
	s := &runtimeSample{vals: map[string]float64{}, hists: map[string][]bucket{}}
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, "go_") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		if base, labels, ok := strings.Cut(name, promBucketSfx+`{le="`); ok {
			le, err := strconv.ParseFloat(strings.TrimSuffix(labels, `"}`), 64)
			if err != nil {
				continue
			}
			s.hists[base] = append(s.hists[base], bucket{le: le, count: v})
			continue
		}
		s.vals[name] = v
	}
	return s
}

// runtimeDelta is what happened between a and b (b later).
func runtimeDelta(a, b *runtimeSample) *RuntimeStats {
	if a == nil || b == nil {
		return nil
	}
	d := func(k string) float64 { return b.vals[k] - a.vals[k] }
	st := &RuntimeStats{
		GCCycles:   d(promGCCycles),
		PauseCount: d(promGCPauses + "_count"),
		PauseTotal: d(promGCPauses + "_sum"),
		AssistCPU:  d(promAssist),
		GCCPU:      d(promGCCPU),
		GOGC:       b.vals[promGOGC],
	}
	st.PauseMax = histQuantile(a.hists[promGCPauses], b.hists[promGCPauses], 1)
	st.SchedP99 = histQuantile(a.hists[promSchedLat], b.hists[promSchedLat], 0.99)
	st.SchedMax = histQuantile(a.hists[promSchedLat], b.hists[promSchedLat], 1)
	return st
}

// histQuantile is the upper bound of the bucket holding quantile q of the observations
// between two cumulative histograms with the same buckets (q = 1: the highest bucket that
// gained any); 0 when none were added. +Inf reports as the largest finite bound.
func histQuantile(a, b []bucket, q float64) float64 {
	if len(b) == 0 || (len(a) != 0 && len(a) != len(b)) {
		return 0
	}
	at := func(i int) float64 {
		if len(a) == 0 {
			return b[i].count
		}
		return b[i].count - a[i].count
	}
	total := at(len(b) - 1)
	if total <= 0 {
		return 0
	}
	want := math.Ceil(q * total)
	for i := range b {
		if at(i) >= want {
			if math.IsInf(b[i].le, 1) && i > 0 {
				return b[i-1].le
			}
			return b[i].le
		}
	}
	return b[len(b)-1].le
}
