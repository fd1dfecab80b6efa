//go:build !linux

package relay

import (
	"net/netip"
	"syscall"
)

func rawListen(netip.AddrPort) (int, error)       { return -1, ErrEngineUnavailable }
func rawClose(int) error                          { return nil }
func rawSendTo(int, []byte, netip.AddrPort) error { return ErrEngineUnavailable }

// pendingInput is not known here: report none, so a deadline releases what is due.
func pendingInput(interface {
	SyscallConn() (syscall.RawConn, error)
}) bool {
	return false
}
