//go:build !amd64 || race

package record

import "sync/atomic"

// publish stores v into a ring counter that only the caller writes, for
// the other side to load (see publish_amd64.go).
func publish(p *atomic.Uint64, v uint64) { p.Store(v) }
