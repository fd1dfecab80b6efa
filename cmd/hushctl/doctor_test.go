package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/api"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

type fakeDiagnostics struct{ d *hushv1.Diagnosis }

func (f fakeDiagnostics) Diagnose(context.Context) (*hushv1.Diagnosis, error) { return f.d, nil }

func healthyDiagnosis() *hushv1.Diagnosis {
	return &hushv1.Diagnosis{Engine: "epoll", EngineConfigured: "auto", PortPairs: 100, PortPairsInUse: 10,
		SessionsActive: 5, MaxSessions: 1000,
		Recording: &hushv1.RecordingDirCheck{Enabled: true, Dir: "/rec", Writable: true, FreeBytes: 50 << 30, TotalBytes: 100 << 30},
		Audit:     &hushv1.AuditCheck{Enabled: true, File: "/audit.jsonl", Verified: true, Records: 7, HeadSeq: 7}}
}

// doctorOn runs hushctl doctor against an in-process API server (auth none) whose Diagnose
// answers d, with this machine's clock off by skew.
func doctorOn(t *testing.T, d *hushv1.Diagnosis, skew time.Duration, args ...string) result {
	t.Helper()
	return doctorClock(t, d, func() time.Time { return time.Now().Add(skew) }, args...)
}

// doctorClock is doctorOn with this machine's clock read from now.
func doctorClock(t *testing.T, d *hushv1.Diagnosis, now func() time.Time, args ...string) result {
	t.Helper()
	dial := serveOn(t, api.NewServer(api.Options{Diagnostics: fakeDiagnostics{d}}).GRPC)
	ctx := context.WithValue(context.Background(), clockKey{}, now)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out, errOut strings.Builder
	code := run(ctx, append([]string{"--addr", "passthrough:///bufnet", "doctor"}, args...), strings.NewReader(""),
		&out, &errOut, func(string) (string, bool) { return "", false }, dial)
	return result{code, out.String(), errOut.String()}
}

// Doctor judges what hushd reports in plain words: one line per check, exit 1 when any
// warns or fails. Each case breaks one thing.
func TestDoctorJudges(t *testing.T) {
	r := doctorOn(t, healthyDiagnosis(), 0)
	if r.code != exitOK || !strings.Contains(r.stdout, "Nothing wrong found.") || strings.Contains(r.stdout, "FAIL") || strings.Contains(r.stdout, "WARN") {
		t.Fatalf("healthy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, l := range []string{"ok    reachable:", "ok    TLS: off: plaintext on loopback", "ok    credential: none needed",
		"ok    clock: within", "ok    media engine: epoll (media.engine auto)", "ok    port range: 10 of 100 port pairs in use (10%)",
		"ok    recording dir: /rec: writable, 50.0 GiB free of 100.0 GiB", "ok    audit log: /audit.jsonl: chain verifies, 7 records"} {
		if !strings.Contains(r.stdout, l) {
			t.Errorf("healthy: no line %q in\n%s", l, r.stdout)
		}
	}
	for _, c := range []struct {
		name   string
		breaks func(*hushv1.Diagnosis)
		skew   time.Duration
		args   []string
		want   string
	}{
		{"clock", nil, 10 * time.Minute, nil, "FAIL  clock: hushd's clock is 10m0s behind this machine's"},
		{"engine portable", func(d *hushv1.Diagnosis) { d.Engine = "portable" }, 0, nil, "WARN  media engine: portable: the kernel (or a seccomp profile) allows neither"},
		{"ports near", func(d *hushv1.Diagnosis) { d.PortPairsInUse = 90 }, 0, nil, "WARN  port range: 90 of 100 port pairs in use (90%), 5 sessions of at most 1000: nearly full"},
		{"ports full", func(d *hushv1.Diagnosis) { d.PortPairsInUse = 100 }, 0, nil, "FAIL  port range: 100 of 100 port pairs in use (100%), 5 sessions of at most 1000: full, new calls are refused"},
		{"recording dir", func(d *hushv1.Diagnosis) { d.Recording.Writable, d.Recording.Error = false, "permission denied" }, 0, nil, "FAIL  recording dir: /rec is not writable: permission denied"},
		{"space", nil, 0, []string{"--min-free", "60GiB"}, "WARN  recording dir: /rec: only 50.0 GiB left of 100.0 GiB (less than 60.0 GiB)"},
		{"audit broken", func(d *hushv1.Diagnosis) {
			d.Audit.Verified, d.Audit.Error, d.Audit.Records = false, "line 4: audit chain broken: seq 5 follows 3", 3
		}, 0, nil, "FAIL  audit log: /audit.jsonl does not verify: line 4: audit chain broken: seq 5 follows 3 (3 good records before it)"},
		{"audit off", func(d *hushv1.Diagnosis) { d.Audit = &hushv1.AuditCheck{} }, 0, nil, "WARN  audit log: off"},
	} {
		d := healthyDiagnosis()
		if c.breaks != nil {
			c.breaks(d)
		}
		r := doctorOn(t, d, c.skew, c.args...)
		if r.code != exitFail || !strings.Contains(r.stdout, c.want) || !strings.Contains(r.stdout, "1 problem(s)") {
			t.Errorf("%s: exit %d, want 1 and the line %q:\n%s", c.name, r.code, c.want, r.stdout)
		}
	}
	if r := doctorOn(t, healthyDiagnosis(), 0, "--min-free", "lots"); r.code != exitUsage {
		t.Errorf("--min-free lots: exit %d, want 2", r.code)
	}
}

// TestDoctorSkewPrecision: the skew is said no finer than the round trip lets doctor know
// it. A round trip of 5 ms (this machine's clock steps 5 ms between its two reads) leaves
// 2.5 ms of doubt: a server 10 minutes behind is reported as 10m0s, not 10m0.003s.
func TestDoctorSkewPrecision(t *testing.T) {
	var reads atomic.Int64
	now := func() time.Time {
		return time.Now().Add(10*time.Minute + time.Duration(reads.Add(1)-1)*5*time.Millisecond)
	}
	r := doctorClock(t, healthyDiagnosis(), now)
	if want := "FAIL  clock: hushd's clock is 10m0s behind this machine's"; r.code != exitFail || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit %d, want 1 and the line %q:\n%s", r.code, want, r.stdout)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{"500MiB": 500 << 20, "10GiB": 10 << 30, "1TiB": 1 << 40, "4096": 4096, "7B": 7, " 3 KiB ": 3 << 10} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1GiB", "1.5GiB", "99999999999TiB", "1PB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q): no error", in)
		}
	}
}
