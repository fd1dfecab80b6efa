//go:build !amd64

package cpucache

import "unsafe"

// Prefetch does nothing on this architecture.
func Prefetch(p unsafe.Pointer) {}

// PrefetchRange does nothing on this architecture.
func PrefetchRange(p unsafe.Pointer, n uintptr) {}
