package main

import (
	"io"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal: a file whose descriptor
// answers the termios ioctl. (/dev/null is a character device but not a
// terminal, so a mode check alone would refuse "> /dev/null".)
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
