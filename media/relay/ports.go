package relay

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/hushmedia/hush/media/udpio"
)

// PortAllocator hands out local UDP ports from a range on one IP address.
// Each allocation takes an even port for RTP and the odd port above it for
// RTCP (RFC 3550 section 11), or the even port alone with rtcp-mux.
//
// It picks the pair at random among the free ones (ChaCha8 seeded from
// crypto/rand), so whoever can reach the media ports cannot tell from the
// order calls came in which ones carry a call waiting to latch. A pair
// released goes through a cooling queue
// (a quarter of the range) before it can be picked again, so a late packet
// for an ended call does not land in a new one; when nothing else is free
// the longest-cooled pair is used. Allocation and release take O(1) work
// besides the bind attempts, which are bounded by the pairs free.
type PortAllocator struct {
	ip      netip.Addr
	network string // "udp4" or "udp6", so an IPv4 remote never reaches a v6 socket
	base    int    // first even port
	pairs   int

	mu                     sync.Mutex
	rng                    *rand.Rand
	free                   []int32 // pair indexes that may be picked, in no order
	where                  []int32 // per pair: its index in free, or -1
	cool                   []int32 // released pairs, oldest first (a ring of capacity coolCap)
	coolAt, coolN, coolCap int
	used                   []bool
	inUse                  int
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
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("relay: seeding the port allocator: %w", err)
	}
	a := &PortAllocator{ip: ip, network: network, base: base, pairs: pairs,
		rng:   rand.New(rand.NewChaCha8(seed)),
		free:  make([]int32, pairs),
		where: make([]int32, pairs),
		used:  make([]bool, pairs),
	}
	a.coolCap = pairs / 4
	a.cool = make([]int32, a.coolCap)
	for i := range pairs {
		a.free[i], a.where[i] = int32(i), int32(i)
	}
	return a, nil
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

// Allocate binds a free even port picked at random (and the odd one above
// it, unless rtcpMux). Ports another process holds are skipped. It returns
// ErrPortsExhausted when no pair is free.
func (a *PortAllocator) Allocate(rtcpMux bool) (*LegSockets, error) {
	return a.allocate(rtcpMux, false)
}

// allocate is Allocate; raw binds raw non-blocking sockets (for an engine
// that polls them itself, outside Go's netpoller) instead of net.UDPConns.
func (a *PortAllocator) allocate(rtcpMux, raw bool) (*LegSockets, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Untried free pairs are free[:k]; a pair another process holds moves
	// behind them, so each is tried at most once.
	for k := len(a.free); k > 0; k-- {
		j := a.rng.IntN(k)
		idx := int(a.free[j])
		s, err := a.bind(idx, rtcpMux, raw)
		if err == nil {
			a.takeFree(idx)
			return s, nil
		}
		if !portTaken(err) {
			return nil, err
		}
		a.swapFree(j, k-1)
	}
	// Nothing else: the pairs still cooling, longest-cooled first.
	for i := range a.coolN {
		idx := int(a.cool[(a.coolAt+i)%a.coolCap])
		s, err := a.bind(idx, rtcpMux, raw)
		if err == nil {
			a.takeCooling(i)
			return s, nil
		}
		if !portTaken(err) {
			return nil, err
		}
	}
	return nil, ErrPortsExhausted
}

// AllocateAt binds the even port given (and the odd one above it, unless
// rtcpMux): a node taking a call over from another rebinds the ports its
// parties already send to. The port must be an even port of the range and
// free; otherwise the error wraps ErrPortUnavailable (EADDRINUSE while the
// previous holder still has it: retry later).
func (a *PortAllocator) AllocateAt(port int, rtcpMux bool) (*LegSockets, error) {
	return a.allocateAt(port, rtcpMux, false)
}

func (a *PortAllocator) allocateAt(port int, rtcpMux, raw bool) (*LegSockets, error) {
	if port < a.base || port >= a.base+2*a.pairs || (port-a.base)%2 != 0 {
		return nil, fmt.Errorf("%w: %d is not an even port of %d-%d", ErrPortUnavailable, port, a.base, a.base+2*a.pairs-1)
	}
	idx := (port - a.base) / 2
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[idx] {
		return nil, fmt.Errorf("%w: %d is in use here", ErrPortUnavailable, port)
	}
	s, err := a.bind(idx, rtcpMux, raw)
	if err != nil {
		if portTaken(err) {
			return nil, fmt.Errorf("%w: %d: %w", ErrPortUnavailable, port, err)
		}
		return nil, err
	}
	if a.where[idx] >= 0 {
		a.takeFree(idx)
		return s, nil
	}
	for i := range a.coolN {
		if int(a.cool[(a.coolAt+i)%a.coolCap]) == idx {
			a.takeCooling(i)
			break
		}
	}
	return s, nil
}

// bind binds pair idx's sockets.
func (a *PortAllocator) bind(idx int, rtcpMux, raw bool) (*LegSockets, error) {
	port := a.base + 2*idx
	rtpSock, err := a.listen(port, raw)
	if err != nil {
		return nil, err
	}
	var rtcpSock udpio.Socket
	if !rtcpMux {
		if rtcpSock, err = a.listen(port+1, raw); err != nil {
			rtpSock.Close()
			return nil, err
		}
	}
	a.used[idx] = true
	a.inUse++
	return &LegSockets{RTP: rtpSock.Conn(), RTCP: rtcpSock.Conn(), rtp: rtpSock, rtcp: rtcpSock,
		alloc: a, idx: idx, port: port, mux: rtcpMux}, nil
}

func (a *PortAllocator) swapFree(i, j int) {
	a.free[i], a.free[j] = a.free[j], a.free[i]
	a.where[a.free[i]], a.where[a.free[j]] = int32(i), int32(j)
}

// takeFree removes pair idx from free.
func (a *PortAllocator) takeFree(idx int) {
	last := len(a.free) - 1
	a.swapFree(int(a.where[idx]), last)
	a.free = a.free[:last]
	a.where[idx] = -1
}

// takeCooling removes the i-th oldest pair from the cooling queue, keeping
// the others in order (only when nothing else is free: rare, and bounded by
// the queue).
func (a *PortAllocator) takeCooling(i int) {
	for ; i > 0; i-- {
		a.cool[(a.coolAt+i)%a.coolCap] = a.cool[(a.coolAt+i-1)%a.coolCap]
	}
	a.coolAt = (a.coolAt + 1) % a.coolCap
	a.coolN--
}

// putFree makes pair idx pickable again.
func (a *PortAllocator) putFree(idx int) {
	a.where[idx] = int32(len(a.free))
	a.free = append(a.free, int32(idx)) // within its capacity: pairs
}

func (a *PortAllocator) listen(port int, raw bool) (udpio.Socket, error) {
	ap := netip.AddrPortFrom(a.ip, uint16(port))
	if raw {
		return udpio.Listen(ap)
	}
	c, err := net.ListenUDP(a.network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return udpio.Socket{}, err
	}
	return udpio.ConnSocket(c), nil
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
	if !a.used[idx] {
		return
	}
	a.used[idx] = false
	a.inUse--
	if a.coolCap == 0 {
		a.putFree(idx)
		return
	}
	if a.coolN == a.coolCap {
		a.putFree(int(a.cool[a.coolAt]))
		a.coolAt = (a.coolAt + 1) % a.coolCap
		a.coolN--
	}
	a.cool[(a.coolAt+a.coolN)%a.coolCap] = int32(idx)
	a.coolN++
}

// LegSockets are the bound sockets of one leg.
type LegSockets struct {
	RTP  *net.UDPConn
	RTCP *net.UDPConn // nil when allocated with rtcp-mux

	// rtp and rtcp are the sockets as the engines see them: the conns
	// above, or raw descriptors (RTP and RTCP nil) for an engine that polls
	// them itself. rtcp is none with mux.
	rtp, rtcp udpio.Socket
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
		s.err = s.rtp.Close()
		if !s.mux {
			s.err = errors.Join(s.err, s.rtcp.Close())
		}
	})
	return s.err
}
