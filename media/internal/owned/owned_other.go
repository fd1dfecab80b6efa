//go:build !amd64 || race

package owned

import "sync/atomic"

// Store sets *p to v, publishing the owner's earlier stores with it.
func Store(p *atomic.Uint64, v uint64) { p.Store(v) }

// Add adds n to *p.
func Add(p *atomic.Uint64, n uint64) { p.Add(n) }
