package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of utime/stime in /proc/PID/stat (proc(5)). It is 100 on
// every Linux architecture Go supports; reading sysconf(_SC_CLK_TCK) would need cgo.
const clockTick = 10 * time.Millisecond

// ProcSample is one reading of a process's CPU time and resident memory.
type ProcSample struct {
	CPU time.Duration // user + system
	RSS int64         // bytes
}

// ReadProc reads /proc/PID/stat and /proc/PID/status.
func ReadProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ProcSample{}, fmt.Errorf("%w: %v", ErrProc, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return ProcSample{}, err
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ProcSample{}, fmt.Errorf("%w: %v", ErrProc, err)
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return ProcSample{}, err
	}
	return ProcSample{CPU: cpu, RSS: rss}, nil
}

// SelfCPU is this process's user + system CPU time (getrusage(2), microsecond resolution).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parseStatCPU returns utime+stime, fields 14 and 15 of /proc/PID/stat (proc(5)). The
// command name (field 2) is in parentheses and may itself contain spaces and ')', so
// fields are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat: no command field", ErrProc)
	}
	f := bytes.Fields(b[i+1:])
	// After ')': field 3 (state) is f[0], so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat: %d fields", ErrProc, len(f)+2)
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 63)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 63)
	if err1 != nil || err2 != nil || ut > 1<<40 || st > 1<<40 {
		return 0, fmt.Errorf("%w: stat: bad utime/stime", ErrProc)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// parseStatusRSS returns VmRSS from /proc/PID/status ("VmRSS:   1234 kB").
func parseStatusRSS(b []byte) (int64, error) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: status: bad VmRSS line", ErrProc)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return 0, fmt.Errorf("%w: status: bad VmRSS value", ErrProc)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("%w: status: no VmRSS", ErrProc)
}

// UDPCounters are the system-wide UDP counters of /proc/net/snmp that show a socket
// buffer overflowing somewhere on the machine (generator or relay).
type UDPCounters struct {
	RcvbufErrors, SndbufErrors uint64
}

// ReadUDPCounters reads /proc/net/snmp.
func ReadUDPCounters() (UDPCounters, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return UDPCounters{}, fmt.Errorf("%w: %v", ErrProc, err)
	}
	return parseSNMPUDP(b)
}

// parseSNMPUDP reads the "Udp:" header line and the value line after it.
func parseSNMPUDP(b []byte) (UDPCounters, error) {
	var names [][]byte
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte("Udp: "))
		if !ok {
			continue
		}
		if names == nil {
			names = bytes.Fields(rest)
			continue
		}
		vals := bytes.Fields(rest)
		if len(vals) != len(names) {
			return UDPCounters{}, fmt.Errorf("%w: snmp: Udp lines differ in length", ErrProc)
		}
		var c UDPCounters
		for i, n := range names {
			v, err := strconv.ParseUint(string(vals[i]), 10, 64)
			if err != nil {
				return UDPCounters{}, fmt.Errorf("%w: snmp: bad Udp value", ErrProc)
			}
			switch string(n) {
			case "RcvbufErrors":
				c.RcvbufErrors = v
			case "SndbufErrors":
				c.SndbufErrors = v
			}
		}
		return c, nil
	}
	return UDPCounters{}, fmt.Errorf("%w: snmp: no Udp lines", ErrProc)
}

// LoadAvg1 is the 1-minute load average of /proc/loadavg, 0 when unreadable.
func LoadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil {
		return 0
	}
	return v
}
