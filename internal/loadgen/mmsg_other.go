//go:build !(linux && (amd64 || arm64))

package loadgen

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"github.com/hushmedia/hush/media/srtp"
)

// One datagram per system call where recvmmsg/sendmmsg are not wired up (mmsg_linux.go).

type sockaddr struct{ ap netip.AddrPort }

func makeSockaddr(ap netip.AddrPort) sockaddr { return sockaddr{ap} }

type batchReader struct {
	c   *net.UDPConn
	buf []byte
	n   int
}

func newBatchReader(c *net.UDPConn, _ int) (*batchReader, error) {
	return &batchReader{c: c, buf: make([]byte, 2048)}, nil
}

func (b *batchReader) read() (int, error) {
	n, err := b.c.Read(b.buf)
	if err != nil {
		return 0, err
	}
	b.n = n
	return 1, nil
}

func (b *batchReader) datagram(int) []byte { return b.buf[:b.n] }

func (b *batchReader) rxTime(int) int64 { return 0 }

func errTransient(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

type batchWriter struct {
	c    *net.UDPConn
	buf  []byte
	dst  netip.AddrPort
	n    int
	bufs [][]byte
}

func newBatchWriter(c *net.UDPConn, _ int) (*batchWriter, error) {
	b := make([]byte, packetLen+srtp.MaxTrailer)
	fillQuiet(b)
	return &batchWriter{c: c, buf: b, bufs: [][]byte{b}}, nil
}

// last is the buffer next returned last, at its full size.
func (w *batchWriter) last() []byte { return w.bufs[w.n-1] }

func (w *batchWriter) next(dst *sockaddr, size int) []byte {
	if w.n == 1 {
		return nil
	}
	w.n, w.dst = 1, dst.ap
	return w.buf[:size]
}

func (w *batchWriter) full() bool { return w.n == 1 }

func (w *batchWriter) flush() (int, error) {
	if w.n == 0 {
		return 0, nil
	}
	w.n = 0
	if _, err := w.c.WriteToUDPAddrPort(w.buf, w.dst); err != nil {
		return 1, nil
	}
	return 0, nil
}
