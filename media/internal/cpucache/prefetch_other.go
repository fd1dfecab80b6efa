//go:build !amd64

package cpucache

import "unsafe"

// Prefetch only traces on this architecture (no prefetch instruction is used).
func Prefetch(p unsafe.Pointer) {
	if tracing {
		tracePrefetch(uintptr(p))
	}
}

// PrefetchRange only traces on this architecture.
func PrefetchRange(p unsafe.Pointer, n uintptr) {
	if tracing {
		tracePrefetchRange(uintptr(p), n)
	}
}
