package loadgen

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and ')' must not shift the fields.
	stat := "42 (a) b) c) S 1 42 42 0 -1 4194304 10 0 0 0 250 75 0 0 20 0 3 0 100 1000 50\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 325*clockTick {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "42 no paren", "42 (x) S 1 2", "42 (x) S 1 2 3 4 5 6 7 8 9 10 x 1 0",
		"42 (x) S 1 2 3 4 5 6 7 8 9 10 99999999999999999 1 0"} {
		if _, err := parseStatCPU([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	got, err := parseStatusRSS([]byte("Name:\thushd\nVmPeak:\t 9 kB\nVmRSS:\t    1234 kB\nThreads: 4\n"))
	if err != nil || got != 1234*1024 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "VmRSS: 12\n", "VmRSS: x kB\n", "VmRSS: 12 MB\n", "VmRSS: -1 kB\n"} {
		if _, err := parseStatusRSS([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseSNMPUDP(t *testing.T) {
	in := "Ip: Forwarding\nIp: 1\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 10 0 3 9 3 2\nUdpLite: InDatagrams\nUdpLite: 0\n"
	c, err := parseSNMPUDP([]byte(in))
	if err != nil || c.RcvbufErrors != 3 || c.SndbufErrors != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{"", "Udp: A B\n", "Udp: A B\nUdp: 1\n", "Udp: A\nUdp: x\n"} {
		if _, err := parseSNMPUDP([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.CPU < 0 {
		t.Fatalf("%+v", s)
	}
	if _, err := ReadProc(-1); !errors.Is(err, ErrProc) {
		t.Fatalf("bad pid: %v", err)
	}
	start := SelfCPU()
	for deadline := time.Now().Add(20 * time.Millisecond); time.Now().Before(deadline); {
	}
	if SelfCPU() <= start {
		t.Fatal("getrusage did not advance while spinning")
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte("1 (x) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0\nVmRSS: 5 kB\nUdp: A\nUdp: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, err := range []error{
			func() error { _, err := parseStatCPU(b); return err }(),
			func() error { _, err := parseStatusRSS(b); return err }(),
			func() error { _, err := parseSNMPUDP(b); return err }(),
		} {
			if err != nil && !errors.Is(err, ErrProc) {
				t.Fatal(err)
			}
		}
	})
}
