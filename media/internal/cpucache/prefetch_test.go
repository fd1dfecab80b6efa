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

// Trace sees every hint while it runs, and none after.
func TestTrace(t *testing.T) {
	b := &traced
	var got [][2]uintptr
	stop := Trace(func(p, n uintptr) { got = append(got, [2]uintptr{p, n}) })
	Prefetch(unsafe.Pointer(&b[3]))
	PrefetchRange(unsafe.Pointer(&b[64]), 100)
	stop()
	Prefetch(unsafe.Pointer(&b[0]))
	base := uintptr(unsafe.Pointer(&b[0]))
	want := [][2]uintptr{{base + 3, 1}, {base + 64, 100}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("traced %v, want %v", got, want)
	}
}

var traced [256]byte // not on a stack, which may move while the test runs
