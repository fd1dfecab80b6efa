//go:build linux && (amd64 || arm64)

package relay

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestKernelVersion(t *testing.T) {
	maj, min, ok := kernelVersion()
	if !ok || maj < 2 {
		t.Fatalf("kernel version %d.%d ok=%v", maj, min, ok)
	}
	t.Logf("Linux %d.%d", maj, min)
}

// When no send slot is free (a wake-up after a long stall brings more
// datagrams than uringSendSlots), a send goes out directly; it must not
// overtake the sends still queued in the ring.
func TestURingSendKeepsOrderWithoutSlots(t *testing.T) {
	if maj, _, ok := kernelVersion(); !ok || maj < 6 {
		t.Skip("the io_uring engine needs Linux 6.0")
	}
	runtime.LockOSThread() // the ring's single issuer
	defer runtime.UnlockOSThread()
	w := &uringWorker{done: make(chan struct{})}
	if err := w.init(); err != nil {
		if errors.Is(err, ErrEngineUnavailable) {
			t.Skipf("io_uring: %v", err)
		}
		t.Fatal(err)
	}
	defer func() {
		w.bufs.free()
		w.ring.close()
		unix.Close(w.evfd)
	}()
	fd, err := rawListen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer rawClose(fd)
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	const queued = 10
	for i := range queued {
		if err := w.send(sock{fd: fd}, []byte{byte(i)}, dst); err != nil {
			t.Fatal(err)
		}
	}
	w.sfree = w.sfree[:0] // every slot in flight
	if err := w.send(sock{fd: fd}, []byte{queued}, dst); err != nil {
		t.Fatal(err)
	}
	w.flush()
	rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	for want := range queued + 1 {
		n, _, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", want, err)
		}
		if n != 1 || buf[0] != byte(want) {
			t.Fatalf("datagram %d carried %v: sent out of order", want, buf[:n])
		}
	}
}
