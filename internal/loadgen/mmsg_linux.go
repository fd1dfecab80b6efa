//go:build linux && (amd64 || arm64)

package loadgen

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"github.com/hushmedia/hush/media/srtp"
)

// recvmmsg(2) and sendmmsg(2) move a batch of datagrams per system call, which keeps the
// generator's cost per packet well below the relay's. Driven through syscall.RawConn so
// the goroutine parks in the runtime's netpoller between batches like any socket read.

// mmsghdr is struct mmsghdr of sendmmsg(2) on 64-bit Linux.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
	_   [4]byte
}

// sockaddr is a destination prepared once per stream (sockaddr_in or sockaddr_in6).
type sockaddr struct {
	raw [syscall.SizeofSockaddrInet6]byte
	len uint32
}

func makeSockaddr(ap netip.AddrPort) sockaddr {
	var sa sockaddr
	port := ap.Port()
	if a := ap.Addr().Unmap(); a.Is4() {
		in := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&sa.raw[0]))
		in.Family = syscall.AF_INET
		in.Addr = a.As4()
		sa.len = syscall.SizeofSockaddrInet4
	} else {
		in := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&sa.raw[0]))
		in.Family = syscall.AF_INET6
		in.Addr = a.As16()
		sa.len = syscall.SizeofSockaddrInet6
	}
	sa.raw[2], sa.raw[3] = byte(port>>8), byte(port) // network byte order
	return sa
}

// batchReader reads up to len(bufs) datagrams per call, each with the kernel's receive
// time (SO_TIMESTAMPNS) when the socket gives it.
type batchReader struct {
	rc     syscall.RawConn
	msgs   []mmsghdr
	iovs   []syscall.Iovec
	bufs   [][]byte
	oob    []byte // one cmsgSpace slot per datagram
	got    int
	err    error
	readFn func(fd uintptr) bool // bound once, so a read allocates nothing
}

// cmsgSpace holds one SCM_TIMESTAMPNS control message (a struct timespec).
var cmsgSpace = syscall.CmsgSpace(16)

func newBatchReader(c *net.UDPConn, n int) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchReader{rc: rc, msgs: make([]mmsghdr, n), iovs: make([]syscall.Iovec, n), bufs: make([][]byte, n),
		oob: make([]byte, n*cmsgSpace)}
	// Without the kernel's stamp a read's own time stands in (rxTime returns 0).
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	})
	for i := range n {
		b.bufs[i] = make([]byte, 2048)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		b.msgs[i].hdr.Iov = &b.iovs[i]
		b.msgs[i].hdr.Iovlen = 1
		b.msgs[i].hdr.Control = &b.oob[i*cmsgSpace]
	}
	b.readFn = b.tryRead
	return b, nil
}

func (b *batchReader) tryRead(fd uintptr) bool {
	for i := range b.msgs {
		b.msgs[i].hdr.SetControllen(cmsgSpace) // the kernel wrote the length it used
	}
	r, _, e := syscall.Syscall6(sysRecvmmsg, fd, uintptr(unsafe.Pointer(&b.msgs[0])),
		uintptr(len(b.msgs)), syscall.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0:
		b.got, b.err = int(r), nil
	case syscall.EAGAIN:
		return false // wait for the netpoller
	case syscall.EINTR:
		return false
	default:
		b.got, b.err = 0, e
	}
	return true
}

// read blocks until at least one datagram is there and returns how many were read;
// a closed socket returns net.ErrClosed.
func (b *batchReader) read() (int, error) {
	if err := b.rc.Read(b.readFn); err != nil {
		return 0, err
	}
	return b.got, b.err
}

// datagram returns datagram i of the last read.
func (b *batchReader) datagram(i int) []byte { return b.bufs[i][:b.msgs[i].n] }

// rxTime returns the kernel's receive time of datagram i of the last read (Unix ns), or
// 0 when it carried none.
func (b *batchReader) rxTime(i int) int64 {
	h := &b.msgs[i].hdr
	if h.Controllen < uint64(syscall.CmsgLen(16)) {
		return 0
	}
	c := b.oob[i*cmsgSpace:]
	cm := (*syscall.Cmsghdr)(unsafe.Pointer(&c[0]))
	if cm.Level != syscall.SOL_SOCKET || cm.Type != syscall.SCM_TIMESTAMPNS {
		return 0
	}
	ts := (*syscall.Timespec)(unsafe.Pointer(&c[syscall.CmsgLen(0)]))
	return ts.Nano()
}

// errTransient reports errors after which a socket is still usable (ICMP errors queued on
// an unconnected UDP socket surface on its next read).
func errTransient(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}

// batchWriter queues datagrams and sends them with one sendmmsg per flush.
type batchWriter struct {
	rc      syscall.RawConn
	msgs    []mmsghdr
	iovs    []syscall.Iovec
	bufs    [][]byte
	addrs   []sockaddr
	n       int
	off     int
	errs    int
	writeFn func(fd uintptr) bool
}

func newBatchWriter(c *net.UDPConn, n int) (*batchWriter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &batchWriter{rc: rc, msgs: make([]mmsghdr, n), iovs: make([]syscall.Iovec, n),
		bufs: make([][]byte, n), addrs: make([]sockaddr, n)}
	for i := range n {
		w.bufs[i] = make([]byte, packetLen+srtp.MaxTrailer) // room for SRTP's trailer (Config.SRTP)
		fillQuiet(w.bufs[i])
		w.iovs[i].Base = &w.bufs[i][0]
		w.msgs[i].hdr.Iov = &w.iovs[i]
		w.msgs[i].hdr.Iovlen = 1
		w.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&w.addrs[i].raw[0]))
	}
	w.writeFn = w.tryWrite
	return w, nil
}

// next returns the buffer of the next queued datagram to dst, or nil when the batch is
// full (flush first).
func (w *batchWriter) next(dst *sockaddr, size int) []byte {
	if w.n == len(w.msgs) {
		return nil
	}
	i := w.n
	w.addrs[i] = *dst
	w.msgs[i].hdr.Namelen = dst.len
	w.iovs[i].SetLen(size)
	w.n++
	return w.bufs[i][:size]
}

// last is the buffer next returned last, at its full size.
func (w *batchWriter) last() []byte { return w.bufs[w.n-1] }

func (w *batchWriter) full() bool { return w.n == len(w.msgs) }

func (w *batchWriter) tryWrite(fd uintptr) bool {
	for w.off < w.n {
		r, _, e := syscall.Syscall6(sysSendmmsg, fd, uintptr(unsafe.Pointer(&w.msgs[w.off])),
			uintptr(w.n-w.off), syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			w.off += int(r)
		case syscall.EAGAIN:
			return false
		case syscall.EINTR:
		default:
			w.errs++ // the first unsent datagram failed: skip it
			w.off++
		}
	}
	return true
}

// flush sends the queued datagrams; it returns how many failed.
func (w *batchWriter) flush() (failed int, err error) {
	if w.n == 0 {
		return 0, nil
	}
	w.off, w.errs = 0, 0
	err = w.rc.Write(w.writeFn)
	failed = w.errs
	w.n = 0
	return failed, err
}
