//go:build !linux

package udpio

import (
	"net/netip"
	"syscall"
)

func rawListen(netip.AddrPort) (int, error)       { return -1, ErrUnavailable }
func rawClose(int) error                          { return nil }
func rawSendTo(int, []byte, netip.AddrPort) error { return ErrUnavailable }

// pendingInput is not known here: report none, so a deadline releases what is due.
func pendingInput(interface {
	SyscallConn() (syscall.RawConn, error)
}) bool {
	return false
}

func rawLocalAddr(int) (netip.AddrPort, error) { return netip.AddrPort{}, ErrUnavailable }
