package loadgen

import (
	"testing"
)

const runtimeText0 = `# HELP go_sched_pauses_total_gc_seconds x
go_sched_pauses_total_gc_seconds_bucket{le="8.191999999999999e-05"} 1
go_sched_pauses_total_gc_seconds_bucket{le="0.0009175039999999999"} 1
go_sched_pauses_total_gc_seconds_bucket{le="0.010485759999999998"} 2
go_sched_pauses_total_gc_seconds_bucket{le="+Inf"} 2
go_sched_pauses_total_gc_seconds_sum 0.002
go_sched_pauses_total_gc_seconds_count 2
go_sched_latencies_seconds_bucket{le="8.191999999999999e-05"} 100
go_sched_latencies_seconds_bucket{le="0.0009175039999999999"} 100
go_sched_latencies_seconds_bucket{le="0.010485759999999998"} 100
go_sched_latencies_seconds_bucket{le="+Inf"} 100
go_cpu_classes_gc_mark_assist_cpu_seconds_total 0.5
go_cpu_classes_gc_total_cpu_seconds_total 1.5
go_gc_cycles_total_gc_cycles_total 3
go_gc_gogc_percent 100
go_goroutines not-a-number
hush_packets_dropped_total{reason="x"} 4
`

const runtimeText1 = `go_sched_pauses_total_gc_seconds_bucket{le="8.191999999999999e-05"} 3
go_sched_pauses_total_gc_seconds_bucket{le="0.0009175039999999999"} 4
go_sched_pauses_total_gc_seconds_bucket{le="0.010485759999999998"} 5
go_sched_pauses_total_gc_seconds_bucket{le="+Inf"} 5
go_sched_pauses_total_gc_seconds_sum 0.003
go_sched_pauses_total_gc_seconds_count 5
go_sched_latencies_seconds_bucket{le="8.191999999999999e-05"} 1089
go_sched_latencies_seconds_bucket{le="0.0009175039999999999"} 1095
go_sched_latencies_seconds_bucket{le="0.010485759999999998"} 1099
go_sched_latencies_seconds_bucket{le="+Inf"} 1100
go_cpu_classes_gc_mark_assist_cpu_seconds_total 0.75
go_cpu_classes_gc_total_cpu_seconds_total 2
go_gc_cycles_total_gc_cycles_total 4
go_gc_gogc_percent 200
`

// TestRuntimeDelta: the window's figures are the differences of two scrapes; a
// histogram's quantile is the bound of the bucket it falls in, and a sample beyond the
// last finite bucket reports that bound.
func TestRuntimeDelta(t *testing.T) {
	st := runtimeDelta(parseRuntime(runtimeText0), parseRuntime(runtimeText1))
	want := RuntimeStats{GCCycles: 1, PauseCount: 3, PauseTotal: 0.001, PauseMax: 0.0009175039999999999,
		AssistCPU: 0.25, GCCPU: 0.5, SchedP99: 0.0009175039999999999, SchedMax: 0.010485759999999998, GOGC: 200}
	got := *st
	near := func(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }
	if !near(got.PauseTotal, want.PauseTotal) || !near(got.AssistCPU, want.AssistCPU) || !near(got.GCCPU, want.GCCPU) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	got.PauseTotal, got.AssistCPU, got.GCCPU = want.PauseTotal, want.AssistCPU, want.GCCPU
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if runtimeDelta(nil, parseRuntime(runtimeText1)) != nil {
		t.Fatal("delta without a first scrape")
	}
}

func TestHistQuantile(t *testing.T) {
	b := []bucket{{1, 0}, {2, 0}, {3, 0}}
	if q := histQuantile(nil, b, 0.99); q != 0 {
		t.Fatalf("empty: %v", q)
	}
	if q := histQuantile([]bucket{{1, 0}}, []bucket{{1, 1}, {2, 2}}, 1); q != 0 {
		t.Fatalf("mismatched buckets: %v", q)
	}
}
