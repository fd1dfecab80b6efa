package cpucache

import "sync/atomic"

// Tracing hints, for the check of warm-up levels (cpucache/warmtest): while
// a trace runs, every hint is reported to it. Outside those tests tracing
// is false, and a hint costs one compare more.

// tracing is read by the assembly without synchronisation: Trace is only
// called by a test with nothing else hinting, and the atomic tracer carries
// the function itself.
//
//lint:ignore U1000 read by prefetch_amd64.s
var tracing bool

var tracer atomic.Pointer[func(p, n uintptr)]

// Trace makes every hint call fn with its address and length until stop
// runs. For tests only: fn runs on whatever goroutine hints, so a test
// traces with nothing else running.
func Trace(fn func(p, n uintptr)) (stop func()) {
	tracer.Store(&fn)
	tracing = true
	return func() {
		tracing = false
		tracer.Store(nil)
	}
}

// tracePrefetch is Prefetch while tracing (the assembly jumps here).
//
//lint:ignore U1000 called by prefetch_amd64.s
func tracePrefetch(p uintptr) {
	if t := tracer.Load(); t != nil {
		(*t)(p, 1)
	}
}

// tracePrefetchRange is PrefetchRange while tracing.
//
//lint:ignore U1000 called by prefetch_amd64.s
func tracePrefetchRange(p, n uintptr) {
	if t := tracer.Load(); t != nil {
		(*t)(p, n)
	}
}
