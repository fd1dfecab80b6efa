//go:build linux

package udpio

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func stampCmsg(level, typ int32, sec, nsec int64) []byte {
	b := make([]byte, rxControlLen)
	binary.NativeEndian.PutUint64(b[0:], 32)
	binary.NativeEndian.PutUint32(b[8:], uint32(level))
	binary.NativeEndian.PutUint32(b[12:], uint32(typ))
	binary.NativeEndian.PutUint64(b[16:], uint64(sec))
	binary.NativeEndian.PutUint64(b[24:], uint64(nsec))
	return b
}

func TestRxAge(t *testing.T) {
	const sec = 1_790_000_000
	now := int64(sec)*1e9 + 5_000_000
	shortLen := stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec, 0)
	binary.NativeEndian.PutUint64(shortLen[0:], 8)
	longLen := stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec, 0)
	binary.NativeEndian.PutUint64(longLen[0:], 64)
	for _, tc := range []struct {
		name string
		ctl  []byte
		want time.Duration
	}{
		{"stamp", stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec, 0), 5 * time.Millisecond},
		{"from the future", stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec, 9_000_000), 0},
		{"a backlog", stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec-2, 0), 2*time.Second + 5*time.Millisecond},
		{"older than the bound", stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec-60, 0), maxRxAge},
		{"empty", nil, 0},
		{"truncated header", make([]byte, 12), 0},
		{"truncated data", stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec, 0)[:24], 0},
		{"length below header", shortLen, 0},
		{"length past buffer", longLen, 0},
		{"other level", stampCmsg(unix.IPPROTO_IP, unix.SCM_TIMESTAMPNS, sec, 0), 0},
		{"other type", stampCmsg(unix.SOL_SOCKET, unix.SCM_RIGHTS, sec, 0), 0},
		{"nanoseconds out of range", stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, sec, 1e9), 0},
		{"negative seconds", stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, -1, 0), 0},
		{"zeros", make([]byte, rxControlLen), 0},
	} {
		if got := rxAge(tc.ctl, now); got != tc.want {
			t.Errorf("%s: rxAge = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The kernel stamps what a raw socket receives, in the layout rxAge reads.
func TestRxTimestampFromKernel(t *testing.T) {
	fd, err := rawListen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer rawClose(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	before := time.Now().UnixNano()
	if err := rawSendTo(fd, []byte("stamp me"), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))); err != nil {
		t.Fatal(err)
	}
	// Wait for it (bounded): on a loaded machine the kernel may deliver it
	// after the send call returns.
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 10_000); err != nil || n != 1 {
		t.Fatalf("poll: %d, %v: the datagram never arrived", n, err)
	}
	buf := make([]byte, 64)
	ctl := make([]byte, rxControlLen)
	n, cn, _, _, err := unix.Recvmsg(fd, buf, ctl, unix.MSG_DONTWAIT)
	if err != nil {
		t.Fatalf("recvmsg: %v", err)
	}
	after := time.Now().UnixNano()
	if string(buf[:n]) != "stamp me" {
		t.Fatalf("got %q", buf[:n])
	}
	// A stamp is there: against a reference a minute past the send it is
	// older than the bound (no stamp would read as age 0).
	if age := rxAge(ctl[:cn], before+int64(time.Minute)); age != maxRxAge {
		t.Fatalf("age %v against a reference 1 min after the send, want the bound %v: no usable stamp (control %d bytes)", age, maxRxAge, cn)
	}
	// And it lies between the send and the receive.
	if age := rxAge(ctl[:cn], after); age > time.Duration(after-before)+time.Millisecond {
		t.Fatalf("age %v at receive, but send to receive took %v", age, time.Duration(after-before))
	}
}

func FuzzRxAge(f *testing.F) {
	f.Add(stampCmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, 1_790_000_000, 0), int64(1_790_000_000_005_000_000))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, ctl []byte, now int64) {
		if a := rxAge(ctl, now); a < 0 || a > maxRxAge {
			t.Fatalf("age %v outside [0, %v]", a, maxRxAge)
		}
	})
}
