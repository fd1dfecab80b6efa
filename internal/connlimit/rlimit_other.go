//go:build !unix

package connlimit

// RaiseFileLimit reports no limit where there is no RLIMIT_NOFILE: the descriptor
// reserve is then not enforced.
func RaiseFileLimit() (soft, hard int, err error) { return 0, 0, nil }
