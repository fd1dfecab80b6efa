package loadgen

import (
	"net"
	"syscall"
)

const termSignal = syscall.SIGTERM

// processAttr ends a started relay with the harness if the harness dies.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// forceBuffers sets n-byte socket buffers past net.core.rmem_max/wmem_max when privileged
// (SO_RCVBUFFORCE, SO_SNDBUFFORCE, socket(7)).
func forceBuffers(c *net.UDPConn, n int) {
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, n)
		})
	}
}
