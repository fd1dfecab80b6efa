package owned

import (
	"sync"
	"sync/atomic"
	"testing"
)

// An owner's stores and adds are what a reader loads: every value it sees
// is one the owner wrote, in order, and the last is the sum.
func TestOwnerWritesReaderLoads(t *testing.T) {
	var c, pub atomic.Uint64
	const n = 100000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= n; i++ {
			Add(&c, 2)
			Store(&pub, i)
		}
	}()
	var last uint64
	for last < n {
		v := pub.Load()
		if v < last {
			t.Fatalf("published %d after %d", v, last)
		}
		if got := c.Load(); got < 2*v {
			t.Fatalf("count %d behind published step %d", got, v)
		}
		last = v
	}
	wg.Wait()
	if c.Load() != 2*n {
		t.Fatalf("count %d, want %d", c.Load(), 2*n)
	}
}
