//go:build linux

package udpio

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// Kernel receive timestamps for the raw-socket engines (epoll, io_uring). A
// masked packet is held for the look-ahead from when the kernel queued it on
// the socket (SO_TIMESTAMPNS, socket(7)), so the time it waited for the
// engine's batch is part of the look-ahead instead of added to it.

// rxControlLen is the control buffer one receive needs for an SCM_TIMESTAMPNS
// message: CMSG_SPACE(sizeof(struct timespec)) on a 64-bit kernel.
const rxControlLen = 32

// maxRxAge bounds an age read from a timestamp: far beyond any backlog a
// relay can hold, so an age up to it is believed (the relay drops packets
// that waited too long), while a wall clock stepped forward between the
// stamp and the read gives a bounded age, not an absurd one. The relay caps
// what its masking timeline takes from it much lower.
const maxRxAge = 10 * time.Second

// enableRxTimestamps asks the kernel to stamp every datagram the socket
// receives. Failure is not fatal: receives then carry no stamp (age 0).
func enableRxTimestamps(fd int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
}

// rxAge returns how long before nowWall (Unix ns) the datagram whose control
// data is ctl was received, or 0 when ctl holds no usable stamp.
func rxAge(ctl []byte, nowWall int64) time.Duration {
	// struct cmsghdr on 64-bit Linux: len uint64, level int32, type int32, then data.
	for len(ctl) >= 16 {
		l := binary.NativeEndian.Uint64(ctl[0:8])
		if l < 16 || l > uint64(len(ctl)) {
			return 0
		}
		level := int32(binary.NativeEndian.Uint32(ctl[8:12]))
		typ := int32(binary.NativeEndian.Uint32(ctl[12:16]))
		if level == unix.SOL_SOCKET && typ == unix.SCM_TIMESTAMPNS && l >= 32 {
			sec := int64(binary.NativeEndian.Uint64(ctl[16:24]))
			nsec := int64(binary.NativeEndian.Uint64(ctl[24:32]))
			if sec <= 0 || sec > 1<<40 || nsec < 0 || nsec >= 1e9 {
				return 0
			}
			age := time.Duration(nowWall - (sec*1e9 + nsec))
			return min(max(age, 0), maxRxAge)
		}
		step := (l + 7) &^ 7
		if step > uint64(len(ctl)) {
			return 0
		}
		ctl = ctl[step:]
	}
	return 0
}
