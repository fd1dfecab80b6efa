//go:build amd64 && !race

package record

import (
	"sync/atomic"
	"unsafe"
)

// publish stores v into a ring counter that only the caller writes, for
// the other side to load. atomic.Store is an XCHG on amd64, which waits
// until every earlier store has reached the cache: for a ring slot just
// filled, cache lines the writer's core last read, a miss each. amd64 keeps
// stores in program order, so a plain store publishes the slot as surely;
// the call, which the compiler may not inline, keeps the slot's stores
// before it. (The runtime's own StoreRel on amd64 is the same.) Race builds
// use the atomic store, which the detector understands.
//
//go:noinline
func publish(p *atomic.Uint64, v uint64) { *(*uint64)(unsafe.Pointer(p)) = v }
