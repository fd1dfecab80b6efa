// Package relaytest is test support for code that runs media relays: each test gets a range
// of media ports of its own, so tests of one package, of two packages, or of two checkouts
// on one host never hand out, expect or collide on the same ports.
package relaytest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// blockSize is the lease granule: every process that leases ports uses the same grid of
// blocks, so two leases either share a block (and one fails to lock it) or do not overlap.
// The last port of a block is its lock; the others may be handed out.
const blockSize = 128

// usable is how many ports of a block a lease may hand out.
const usable = blockSize - 1

var loopback = netip.MustParseAddr("127.0.0.1")

// Ports leases n consecutive free UDP ports, [min, max] with min even, for the life of t,
// for a port allocator (relay.NewPortAllocator) or hushd's media.port_min/port_max.
//
// A lease is one or more blocks of a fixed grid outside the kernel's ephemeral port range
// (so no socket bound to port 0, in this process or another, lands in it), each locked by
// a UDP socket on loopback bound to its last port for as long as the lease lasts: any
// other process leasing the same way sees that port taken and moves on, and the lock dies
// with the process. Every port handed out was free when leased. A lease of more than 127
// ports spans blocks whose lock ports fall inside [min, max]; an allocator skips them as
// taken. Fails the test when the host has no free block.
func Ports(t testing.TB, n int) (min, max int) {
	t.Helper()
	min, max, release, err := Lease(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return min, max
}

// Lease is Ports without a test: it returns the range and the function that ends the lease.
func Lease(n int) (min, max int, release func(), err error) {
	if n < 1 {
		return 0, 0, nil, fmt.Errorf("relaytest: %d ports asked for", n)
	}
	blocks := (n + usable - 1) / usable
	for _, r := range regions() {
		first, last := (r.lo+blockSize-1)/blockSize, (r.hi+1)/blockSize-1 // whole blocks inside r
		count := last - first + 1 - (blocks - 1)
		if count <= 0 {
			continue
		}
		// Start at a random block so concurrent leasers rarely try the same one first.
		start := rand.IntN(count)
		for i := range count {
			b := first + (start+i)%count
			if locks, ok := lock(b, blocks); ok {
				base := b * blockSize
				if free(base, n) {
					return base, base + n - 1, func() { closeAll(locks) }, nil
				}
				closeAll(locks)
			}
		}
	}
	return 0, 0, nil, fmt.Errorf("%w for %d ports (regions %v)", ErrNoPorts, n, regions())
}

// region is a span of ports, inclusive.
type region struct{ lo, hi int }

// regions are where leases come from: above the ephemeral range, then below it (above the
// privileged ports).
func regions() []region {
	lo, hi := ephemeralRange()
	var rs []region
	if hi < 65535 {
		rs = append(rs, region{hi + 1, 65535})
	}
	if lo > 1024 {
		rs = append(rs, region{1024, lo - 1})
	}
	return rs
}

// ephemeralRange is the kernel's range for port 0 binds; Linux's default when unknown.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l < 1 || h > 65535 || l > h {
		return lo, hi
	}
	return l, h
}

// lock binds the lock port of each of blocks blocks from block b.
func lock(b, blocks int) ([]*net.UDPConn, bool) {
	var locks []*net.UDPConn
	for i := range blocks {
		c, err := net.ListenUDP("udp4", udpAddr((b+i+1)*blockSize-1))
		if err != nil {
			closeAll(locks)
			return nil, false
		}
		locks = append(locks, c)
	}
	return locks, true
}

// free reports whether every port to hand out can be bound now (lock ports aside).
func free(base, n int) bool {
	for p := base; p < base+n; p++ {
		if (p+1)%blockSize == 0 {
			continue // a lock this lease holds
		}
		c, err := net.ListenUDP("udp4", udpAddr(p))
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

func udpAddr(port int) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(port)))
}

func closeAll(cs []*net.UDPConn) {
	for _, c := range cs {
		c.Close()
	}
}
