// Package connlimit caps the connections a listener hands to its server: in total, per
// source IP address, and so that a reserve of file descriptors stays free for what
// matters more than a new control connection (media sockets of calls in progress,
// recordings). A connection over a cap is closed at accept, before a byte is read, and
// counted; the server never sees it.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// Reasons a connection is refused, as Options.OnRefused hears them.
const (
	ReasonTotal       = "total"       // Options.Max connections are open
	ReasonPerIP       = "per_ip"      // Options.PerIP connections from this address are open
	ReasonDescriptors = "descriptors" // taking it would eat into the descriptor reserve
)

// Options configure a Listener. Zero values turn a cap off.
type Options struct {
	Max   int // connections open at once
	PerIP int // connections open at once from one source address
	// FDLine: a connection whose descriptor number is at or above it is refused. The
	// kernel hands out the lowest free descriptor, so a number at the line means at
	// least that many descriptors are open. hushd sets it to the soft RLIMIT_NOFILE
	// less the reserve (see FDLine).
	FDLine int
	// OnOpen hears +1 and -1 as connections open and close; OnRefused each refusal.
	OnOpen    func(delta int)
	OnRefused func(reason string)
}

// Listener is a net.Listener with caps.
type Listener struct {
	net.Listener
	o     Options
	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// New wraps ln.
func New(ln net.Listener, o Options) *Listener {
	return &Listener{Listener: ln, o: o, perIP: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps, closing those over them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if reason := l.admit(c, ip); reason != "" {
			// Counted before the close, so whoever sees the close sees the count too.
			if l.o.OnRefused != nil {
				l.o.OnRefused(reason)
			}
			c.Close()
			continue
		}
		if l.o.OnOpen != nil {
			l.o.OnOpen(1)
		}
		return &conn{Conn: c, l: l, ip: ip}, nil
	}
}

// admit counts c in, or says why not.
func (l *Listener) admit(c net.Conn, ip netip.Addr) string {
	if l.o.FDLine > 0 && descriptor(c) >= l.o.FDLine {
		return ReasonDescriptors
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.o.Max > 0 && l.total >= l.o.Max {
		return ReasonTotal
	}
	if l.o.PerIP > 0 && l.perIP[ip] >= l.o.PerIP {
		return ReasonPerIP
	}
	l.total++
	l.perIP[ip]++
	return ""
}

func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
	l.mu.Unlock()
	if l.o.OnOpen != nil {
		l.o.OnOpen(-1)
	}
}

// Open is the number of connections open now.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// conn releases its place once, on the first Close.
type conn struct {
	net.Conn
	l      *Listener
	ip     netip.Addr
	closed atomic.Bool
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.ip)
	}
	return err
}

// remoteIP is the peer's address, IPv4-mapped IPv6 taken as IPv4; the zero Addr when
// unknown (all such connections share one count).
func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// descriptor is c's file descriptor number, or -1 when it has none.
func descriptor(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if err := rc.Control(func(p uintptr) { fd = int(p) }); err != nil {
		return -1
	}
	return fd
}
