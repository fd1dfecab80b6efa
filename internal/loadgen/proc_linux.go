package loadgen

import (
	"net"
	"syscall"
)

const termSignal = syscall.SIGTERM

// processAttr ends a started relay with the harness if the harness dies, and puts it in a
// session of its own, as a service is: the scheduler weighs each session's autogroup as a
// whole (sched(7), autogroup), so a relay in the harness's session would share one
// group's CPU with the generator and be starved with it on a busy host.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}

// hogAttr puts a hog process in a session of its own (a scheduler autogroup of its own,
// as another service's process would be) and ends it with the harness.
func hogAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
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
