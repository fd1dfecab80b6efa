//go:build amd64 && !race

package relay

import "unsafe"

// Add adds n. Only the counter's owner calls it. A LOCKed add (atomic.Add)
// waits until every earlier store of the packet path has reached the
// cache, with a thousand calls a miss or more each; amd64 reads and writes
// aligned 8-byte words whole, so a plain add is enough for readers, who
// load atomically. Race builds use the atomic add, which the detector
// understands.
func (c *ownedCounter) Add(n uint64) { *(*uint64)(unsafe.Pointer(&c.v)) += n }
