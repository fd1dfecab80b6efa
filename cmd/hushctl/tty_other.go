//go:build !linux

package main

import (
	"io"
	"os"
)

// isTerminal approximates a terminal check where hushctl has no termios
// ioctl wired: a character device counts (so "> /dev/null" needs -o -).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
