//go:build amd64 && !race

package owned

import (
	"sync/atomic"
	"unsafe"
)

// Store sets *p to v, publishing the owner's earlier stores with it: the
// call, which the compiler may not inline, keeps them before it. (The
// runtime's own StoreRel on amd64 is the same plain store.)
//
//go:noinline
func Store(p *atomic.Uint64, v uint64) { *(*uint64)(unsafe.Pointer(p)) = v }

// Add adds n to *p.
func Add(p *atomic.Uint64, n uint64) { *(*uint64)(unsafe.Pointer(p)) += n }
