//go:build unix

package connlimit

import "syscall"

// RaiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (the Go runtime does so
// at start too; this makes it explicit and reports the result) and returns both. Each
// media leg holds up to two sockets, each control connection one descriptor.
func RaiseFileLimit() (soft, hard int, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, err
	}
	if r.Cur < r.Max {
		up := r
		up.Cur = up.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err == nil {
			r = up
		}
	}
	return clampInt(r.Cur), clampInt(r.Max), nil
}

func clampInt(v uint64) int {
	if v > 1<<31-1 {
		return 1<<31 - 1
	}
	return int(v)
}
