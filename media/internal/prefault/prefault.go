// Package prefault takes the page faults of fresh memory where the memory
// is made. Memory the Go runtime gets from the kernel is mapped on first
// touch: a page fault per 4 KiB page, costly in a virtual machine. A
// call's buffers (a masker's packet slots, a recording's handoff ring) are
// made on the control path but first written by the engine worker that
// serves every call, so when hundreds of calls start their media together
// the worker spends its time mapping pages while packets go stale. Touching
// the buffers as they are made moves that cost to the call's setup.
package prefault

import (
	"os"
	"sync/atomic"
	"unsafe"
)

var pageSize = uintptr(os.Getpagesize())

// Range writes every page of [p, p+n) without changing what it holds: an
// atomic add of zero to one aligned 32-bit word per page, which is safe on
// any memory, pointers included, and even while another goroutine reads
// it. A page holding fewer than 4 bytes of the range at either end may be
// left untouched (never the case for a slice of 8-aligned elements).
func Range(p unsafe.Pointer, n uintptr) {
	if p == nil {
		return
	}
	base := uintptr(p)
	off := -base & 3 // the first aligned word
	for off+4 <= n {
		atomic.AddUint32((*uint32)(unsafe.Add(p, off)), 0)
		off = (base+off)&^(pageSize-1) + pageSize - base // the next page's first word
	}
}

// Slice writes every page of s's elements (Range).
func Slice[T any](s []T) {
	if len(s) == 0 {
		return
	}
	var zero T
	Range(unsafe.Pointer(unsafe.SliceData(s)), uintptr(len(s))*unsafe.Sizeof(zero))
}
