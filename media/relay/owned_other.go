//go:build !amd64 || race

package relay

// Add adds n. Only the counter's owner calls it.
func (c *ownedCounter) Add(n uint64) { c.v.Add(n) }
