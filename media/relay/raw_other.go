//go:build !linux

package relay

import "net/netip"

func rawListen(netip.AddrPort) (int, error)       { return -1, ErrEngineUnavailable }
func rawClose(int) error                          { return nil }
func rawSendTo(int, []byte, netip.AddrPort) error { return ErrEngineUnavailable }
