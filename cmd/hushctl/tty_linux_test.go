package main

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the terminal side of a new pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("cannot unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("cannot name the pseudo-terminal: %v", err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("cannot open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

func TestIsTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Error("/dev/null counted as a terminal")
	}
	if f, err := os.Create(t.TempDir() + "/f"); err != nil || isTerminal(f) {
		t.Errorf("a regular file counted as a terminal (%v)", err)
	}
	if !isTerminal(openPTY(t)) {
		t.Error("a pseudo-terminal not counted as a terminal")
	}
}

// recording get refuses to spray WAV bytes over a terminal, before it
// calls hushd.
func TestRecordingGetRefusesTerminal(t *testing.T) {
	pts := openPTY(t)
	f := &fakeRecordings{rec: recording("r-1", nil)}
	code, stderr := ctlTo(t, startRecordings(t, f), pts, "recording", "get", "r-1")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, stderr)
	}
	contains(t, "stderr", stderr, "refusing to write WAV audio to a terminal", "-o FILE")
	if reqs := f.reqs(); len(reqs) != 0 {
		t.Errorf("requests reached hushd: %v", reqs)
	}
}
