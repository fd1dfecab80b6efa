package relaytest

import (
	"errors"
	"net"
	"sync"
	"testing"
)

// Leases taken at the same time, as tests of two checkouts on one host take them, never
// overlap, stay outside the ephemeral range, start even and hand out bindable ports.
func TestLeasesDisjoint(t *testing.T) {
	const leasers, each = 8, 4
	eLo, eHi := ephemeralRange()
	var mu sync.Mutex
	var got [][2]int
	var wg sync.WaitGroup
	for range leasers {
		wg.Go(func() {
			for _, n := range []int{4, 40, 127, 300}[:each] {
				lo, hi, release, err := Lease(n)
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(release)
				mu.Lock()
				got = append(got, [2]int{lo, hi})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i, a := range got {
		if a[0]%2 != 0 || a[1] < a[0] || (a[0] <= eHi && a[1] >= eLo) || a[0] < 1024 || a[1] > 65535 {
			t.Errorf("lease %v: odd start, or overlaps the ephemeral range %d-%d", a, eLo, eHi)
		}
		for _, b := range got[i+1:] {
			if a[0] <= b[1] && b[0] <= a[1] {
				t.Errorf("leases %v and %v overlap", a, b)
			}
		}
	}
	if len(got) != leasers*each {
		t.Fatalf("%d leases, want %d", len(got), leasers*each)
	}
}

// A block whose lock port another process holds is never leased; releasing frees it.
func TestLockHeldElsewhere(t *testing.T) {
	lo, _, release, err := Lease(10)
	if err != nil {
		t.Fatal(err)
	}
	b := lo / blockSize
	if _, ok := lock(b, 1); ok {
		t.Fatal("locked a block a lease holds")
	}
	release()
	locks, ok := lock(b, 1)
	if !ok {
		t.Fatal("block still locked after release")
	}
	closeAll(locks)
}

// Ports handed out can be bound, and the range is as long as asked.
func TestPortsBindable(t *testing.T) {
	lo, hi := Ports(t, 6)
	if hi-lo+1 != 6 {
		t.Fatalf("range %d-%d, want 6 ports", lo, hi)
	}
	for p := lo; p <= hi; p++ {
		c, err := net.ListenUDP("udp4", udpAddr(p))
		if err != nil {
			t.Fatalf("port %d of the lease: %v", p, err)
		}
		c.Close()
	}
	if _, _, _, err := Lease(0); err == nil || errors.Is(err, ErrNoPorts) {
		t.Fatalf("Lease(0): %v, want a usage error", err)
	}
}
