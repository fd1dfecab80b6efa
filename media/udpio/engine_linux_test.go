//go:build linux && (amd64 || arm64)

package udpio

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
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
		if errors.Is(err, ErrUnavailable) {
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
		if err := w.send(Socket{fd: int32(fd), raw: true}, []byte{byte(i)}, dst); err != nil {
			t.Fatal(err)
		}
	}
	w.sfree = w.sfree[:0] // every slot in flight
	if err := w.send(Socket{fd: int32(fd), raw: true}, []byte{queued}, dst); err != nil {
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

// rrThreads counts this process's threads under SCHED_RR (/proc/self/task/*/stat,
// field 41: policy).
func rrThreads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue // ended meanwhile
		}
		// The command name (field 2) may hold spaces; the fields after it do not.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 38 && f[38] == strconv.Itoa(unix.SCHED_RR) {
			n++
		}
	}
	return n
}

// TestEnginePriority: Options.Priority puts each worker thread of the epoll and
// io_uring engines, and nothing else, under SCHED_RR; where the process may not (no
// CAP_SYS_NICE, RLIMIT_RTPRIO 0) New fails with ErrRealtime instead of running
// without it. Out of range, or on the portable engine, it is refused.
func TestEnginePriority(t *testing.T) {
	for _, k := range []string{Epoll, IOURing} {
		t.Run(k, func(t *testing.T) {
			before := rrThreads(t)
			e, err := New(k, Options{Workers: 2, Priority: 1})
			if errors.Is(err, ErrUnavailable) {
				t.Skipf("engine %s: %v", k, err)
			}
			if err != nil {
				if !errors.Is(err, ErrRealtime) || !strings.Contains(err.Error(), "CAP_SYS_NICE") {
					t.Fatalf("unprivileged: %v", err)
				}
				t.Logf("no real-time priority here: %v", err)
				return
			}
			defer e.Close()
			if n := rrThreads(t) - before; n != 2 {
				t.Fatalf("%d threads more under SCHED_RR, want the 2 workers", n)
			}
		})
	}
	for _, bad := range []Options{{Priority: -1}, {Priority: 100}} {
		if e, err := New(Epoll, bad); !errors.Is(err, ErrRealtime) {
			if err == nil {
				e.Close()
			}
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if _, err := New(Portable, Options{Priority: 1}); !errors.Is(err, ErrRealtime) {
		t.Errorf("portable with a priority: %v", err)
	}
}
