package cpucache

import "unsafe"

// Prefetch hints that the cache line holding p is needed soon. It never
// faults, whatever p is, and costs a few nanoseconds.
//
//go:noescape
func Prefetch(p unsafe.Pointer)

// PrefetchRange prefetches every cache line that holds any of the n bytes
// at p, in one call (a call costs about what a prefetch does).
//
//go:noescape
func PrefetchRange(p unsafe.Pointer, n uintptr)
