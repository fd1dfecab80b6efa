package loadgen

import "syscall"

const termSignal = syscall.SIGTERM

// processAttr ends a started relay with the harness if the harness dies.
func processAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
