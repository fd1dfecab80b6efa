package relay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// PortAllocator hands out local UDP ports from a range on one IP address.
// Each allocation takes an even port for RTP and the odd port above it for
// RTCP (RFC 3550 section 11), or the even port alone with rtcp-mux. It
// rotates through the range instead of reusing the port just freed, so a
// late packet for an ended call does not land in a new one.
type PortAllocator struct {
	ip      netip.Addr
	network string // "udp4" or "udp6", so an IPv4 remote never reaches a v6 socket
	base    int    // first even port
	pairs   int

	mu    sync.Mutex
	next  int // pair index to try first
	used  []bool
	inUse int
}

// NewPortAllocator allocates from ports min..max on ip. The range must hold
// at least one even/odd pair.
func NewPortAllocator(ip netip.Addr, min, max int) (*PortAllocator, error) {
	if !ip.IsValid() || ip.Zone() != "" {
		return nil, fmt.Errorf("%w: address %v", ErrInvalidRange, ip)
	}
	if min < 1 || max > 65535 || min > max {
		return nil, fmt.Errorf("%w: ports %d-%d", ErrInvalidRange, min, max)
	}
	base := min + min&1
	pairs := 0
	if max-1 >= base {
		pairs = (max-1-base)/2 + 1
	}
	if pairs == 0 {
		return nil, fmt.Errorf("%w: ports %d-%d hold no even/odd pair", ErrInvalidRange, min, max)
	}
	ip = ip.Unmap()
	network := "udp6"
	if ip.Is4() {
		network = "udp4"
	}
	return &PortAllocator{ip: ip, network: network, base: base, pairs: pairs, used: make([]bool, pairs)}, nil
}

// Addr is the local IP address of the allocated sockets.
func (a *PortAllocator) Addr() netip.Addr { return a.ip }

// Capacity is the number of port pairs in the range.
func (a *PortAllocator) Capacity() int { return a.pairs }

// InUse is the number of port pairs allocated and not yet released.
func (a *PortAllocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse
}

// Allocate binds the next free even port (and the odd one above it, unless
// rtcpMux). Ports another process holds are skipped. It returns
// ErrPortsExhausted when no pair is free.
func (a *PortAllocator) Allocate(rtcpMux bool) (*LegSockets, error) {
	return a.allocate(rtcpMux, false)
}

// allocate is Allocate; raw binds raw non-blocking sockets (for an engine
// that polls them itself, outside Go's netpoller) instead of net.UDPConns.
func (a *PortAllocator) allocate(rtcpMux, raw bool) (*LegSockets, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.pairs {
		idx := (a.next + i) % a.pairs
		if a.used[idx] {
			continue
		}
		port := a.base + 2*idx
		rtpSock, err := a.listen(port, raw)
		if err != nil {
			if portTaken(err) {
				continue
			}
			return nil, err
		}
		rtcpSock := sock{fd: -1}
		if !rtcpMux {
			if rtcpSock, err = a.listen(port+1, raw); err != nil {
				rtpSock.close()
				if portTaken(err) {
					continue
				}
				return nil, err
			}
		}
		a.used[idx] = true
		a.inUse++
		a.next = (idx + 1) % a.pairs
		return &LegSockets{RTP: rtpSock.conn, RTCP: rtcpSock.conn, rtp: rtpSock, rtcp: rtcpSock,
			alloc: a, idx: idx, port: port, mux: rtcpMux}, nil
	}
	return nil, ErrPortsExhausted
}

func (a *PortAllocator) listen(port int, raw bool) (sock, error) {
	ap := netip.AddrPortFrom(a.ip, uint16(port))
	if raw {
		fd, err := rawListen(ap)
		return sock{fd: fd}, err
	}
	c, err := net.ListenUDP(a.network, net.UDPAddrFromAddrPort(ap))
	return sock{conn: c, fd: -1}, err
}

// portTaken: another process holds the port (or it is privileged); try the
// next one. Other errors (address not on this host, no file descriptors)
// would fail for every port, so they are returned.
func portTaken(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES)
}

func (a *PortAllocator) release(idx int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[idx] {
		a.used[idx] = false
		a.inUse--
	}
}

// LegSockets are the bound sockets of one leg.
type LegSockets struct {
	RTP  *net.UDPConn
	RTCP *net.UDPConn // nil when allocated with rtcp-mux

	// rtp and rtcp are the sockets as the engines see them: the conns
	// above, or raw descriptors (RTP and RTCP nil) for an engine that polls
	// them itself. rtcp is unused with mux.
	rtp, rtcp sock
	mux       bool

	alloc *PortAllocator
	idx   int
	port  int
	once  sync.Once
	err   error
}

// LocalRTP is the RTP socket's address.
func (s *LegSockets) LocalRTP() netip.AddrPort {
	return netip.AddrPortFrom(s.alloc.ip, uint16(s.port))
}

// LocalRTCP is the RTCP socket's address: LocalRTP with rtcp-mux.
func (s *LegSockets) LocalRTCP() netip.AddrPort {
	if s.mux {
		return s.LocalRTP()
	}
	return netip.AddrPortFrom(s.alloc.ip, uint16(s.port+1))
}

// Close closes the sockets and returns the ports to the allocator. It is
// idempotent.
func (s *LegSockets) Close() error {
	err := s.closeConns()
	s.alloc.release(s.idx)
	return err
}

// closeConns closes the sockets (unblocking their readers) without
// releasing the ports, so a Call can wait for its goroutines first.
func (s *LegSockets) closeConns() error {
	s.once.Do(func() {
		s.err = s.rtp.close()
		if !s.mux {
			s.err = errors.Join(s.err, s.rtcp.close())
		}
	})
	return s.err
}

// sock is one UDP socket: a net.UDPConn served through Go's netpoller, or a
// raw non-blocking descriptor (fd >= 0, conn nil) that an engine polls.
type sock struct {
	conn *net.UDPConn
	fd   int
}

func (s sock) close() error {
	if s.conn != nil {
		return s.conn.Close()
	}
	if s.fd >= 0 {
		return rawClose(s.fd)
	}
	return nil
}

// write sends b to dst from the socket.
func (s sock) write(b []byte, dst netip.AddrPort) error {
	if s.conn != nil {
		_, err := s.conn.WriteToUDPAddrPort(b, dst)
		return err
	}
	return rawSendTo(s.fd, b, dst)
}
