//go:build linux

package udpio

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw sockets for engines that poll descriptors themselves. They are never
// registered with Go's netpoller, so a datagram wakes one poller, not two.

// rawListen binds a non-blocking, close-on-exec UDP socket to ap.
func rawListen(ap netip.AddrPort) (int, error) {
	family := unix.AF_INET6
	if ap.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, err
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		// Like net.ListenUDP("udp6"): IPv6 only, so an IPv4 remote never
		// reaches a v6 socket.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			unix.Close(fd)
			return -1, err
		}
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	enableRxTimestamps(fd)
	return fd, nil
}

func rawClose(fd int) error { return unix.Close(fd) }

// rawAddr is a socket address in kernel layout, built without allocating.
type rawAddr struct {
	sa  unix.RawSockaddrInet6 // large enough for either family
	len uint32
}

func (r *rawAddr) set(ap netip.AddrPort) {
	port := ap.Port()
	if a := ap.Addr(); a.Is4() {
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.sa))
		*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		r.len = unix.SizeofSockaddrInet4
		return
	}
	r.sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	p := (*[2]byte)(unsafe.Pointer(&r.sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	r.len = unix.SizeofSockaddrInet6
}

// addrPort decodes a received source address; zero for other families.
func (r *rawAddr) addrPort() netip.AddrPort {
	p := (*[2]byte)(unsafe.Pointer(&r.sa.Port))
	port := uint16(p[0])<<8 | uint16(p[1])
	switch r.sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(r.sa.Addr), port) // the handler unmaps
	}
	return netip.AddrPort{}
}

// rawSendTo sends one datagram with sendto(2). MSG_DONTWAIT: a full send
// buffer fails the send (the handler counts it) instead of stalling the loop.
func rawSendTo(fd int, b []byte, dst netip.AddrPort) error {
	var ra rawAddr
	ra.set(dst)
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	// A raw system call: it never blocks (MSG_DONTWAIT), so the runtime
	// need not know (no entersyscall/exitsyscall, nothing for sysmon).
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(len(b)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&ra.sa)), uintptr(ra.len))
	if e != 0 {
		return e
	}
	if int(n) != len(b) {
		return errShortWrite
	}
	return nil
}

// pendingInput reports whether a socket has a datagram queued (FIONREAD). Control does not
// look at the connection's deadline, so this works after a read timed out.
func pendingInput(conn interface {
	SyscallConn() (syscall.RawConn, error)
}) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return err == nil && n > 0
}

// rawLocalAddr is the address a raw socket is bound to.
func rawLocalAddr(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), nil
	}
	return netip.AddrPort{}, ErrUnavailable
}
