//go:build !linux

package loadgen

import (
	"net"
	"syscall"
)

const termSignal = syscall.SIGTERM

func processAttr() *syscall.SysProcAttr { return nil }

func hogAttr() *syscall.SysProcAttr { return nil }

func forceBuffers(*net.UDPConn, int) {}
