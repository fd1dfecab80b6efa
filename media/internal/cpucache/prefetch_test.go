package cpucache

import (
	"testing"
	"unsafe"
)

// A prefetch is a hint: even nil (an unmapped page) must not fault.
func TestPrefetchNeverFaults(t *testing.T) {
	b := make([]byte, 256)
	Prefetch(unsafe.Pointer(&b[0]))
	Prefetch(nil)
	PrefetchRange(unsafe.Pointer(&b[0]), 0)
	PrefetchRange(unsafe.Pointer(&b[0]), uintptr(len(b)))
	PrefetchRange(nil, 3*LineSize+1)
	if n := testing.AllocsPerRun(100, func() { Prefetch(unsafe.Pointer(&b[128])) }); n != 0 {
		t.Fatalf("%v allocations per prefetch", n)
	}
}
