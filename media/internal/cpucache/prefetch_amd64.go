package cpucache

import "unsafe"

// Prefetch hints that the cache line holding p is needed soon. It never
// faults, whatever p is, and costs a few nanoseconds.
//
//go:noescape
func Prefetch(p unsafe.Pointer)
