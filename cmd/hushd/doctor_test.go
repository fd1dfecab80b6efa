package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/media/relay/relaytest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

var doctorTokens = map[string]auth.TokenEntry{
	"ops":   {Subject: "ops", Role: auth.RoleAdmin},
	"alice": {Subject: "alice", Role: auth.RoleAgent, AgentID: "agent-1"},
	"sbc":   {Subject: "sbc", Role: auth.RolePlatform},
}

// doctorDaemon is a recording hushd with tokens, its recording directory and audit file
// where the test can break them.
type doctorDaemon struct {
	*daemon
	recDir, auditFile string
}

func startDoctorDaemon(t *testing.T, args ...string) *doctorDaemon {
	t.Helper()
	dir := t.TempDir()
	dd := &doctorDaemon{recDir: filepath.Join(dir, "rec"), auditFile: filepath.Join(dir, "audit.jsonl")}
	dd.daemon = startDaemon(t, append([]string{"--auth-mode", "token", "--auth-token-file", tokenFile(t, doctorTokens),
		"--recording-enabled=true", "--recording-dir", dd.recDir, "--audit-file", dd.auditFile}, args...)...)
	return dd
}

// doctor runs `hushctl doctor` as token's owner and returns its exit status and output.
func doctor(t *testing.T, bin, addr, token string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", addr, "--timeout", "5s", "doctor"}, args...)...)
	cmd.Env = append(os.Environ(), "HUSHCTL_TOKEN="+browserToken(token))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("hushctl doctor: %v", err)
	return -1, ""
}

// wantDoctor checks doctor's exit status and that each line is in its output.
func wantDoctor(t *testing.T, name string, code int, out string, wantCode int, lines ...string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: exit %d, want %d\n%s", name, code, wantCode, out)
		return
	}
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("%s: no %q in\n%s", name, l, out)
		}
	}
}

// hushctl doctor against a healthy hushd finds nothing wrong, and against one with each
// thing broken that can be broken on loopback says what, in plain words, with exit 1.
// (A clock off from hushd's is cmd/hushctl's TestDoctorJudges: a test cannot move hushd's
// clock.)
func TestDoctor(t *testing.T) {
	bin := buildHushctl(t)

	d := startDoctorDaemon(t)
	code, out := doctor(t, bin, d.ready.GRPC, "ops")
	wantDoctor(t, "healthy", code, out, 0, "ok    reachable: hushd answers health checks (SERVING)",
		"ok    TLS: off: plaintext on loopback", "ok    credential: token of ops, role admin", "ok    clock: within",
		"ok    media engine: ", "ok    port range: 0 of 20 port pairs in use (0%)", "ok    recording dir: "+d.recDir+": writable,",
		"ok    audit log: "+d.auditFile+": chain verifies,", "Nothing wrong found.")

	// The credential: another role than expected, or one hushd does not know.
	code, out = doctor(t, bin, d.ready.GRPC, "alice", "--role", "platform")
	wantDoctor(t, "role", code, out, 1, "FAIL  credential: token of alice has role agent, not platform",
		"skip  server checks: engine, port range, recording directory and audit chain need an admin credential")
	code, out = doctor(t, bin, d.ready.GRPC, "nobody")
	wantDoctor(t, "unknown token", code, out, 1, "FAIL  credential: hushd refuses it:")

	// Little space left (by the operator's measure), the recording directory unusable.
	code, out = doctor(t, bin, d.ready.GRPC, "ops", "--min-free", "1000000TiB")
	wantDoctor(t, "space", code, out, 1, "WARN  recording dir: "+d.recDir+": only ", "(less than 1000000.0 TiB)")
	if err := os.RemoveAll(d.recDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.recDir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = doctor(t, bin, d.ready.GRPC, "ops")
	wantDoctor(t, "recording dir", code, out, 1, "FAIL  recording dir: "+d.recDir+" is not writable: ", "new calls go unrecorded")

	// The audit file changed under hushd, then cut short.
	raw, err := os.ReadFile(d.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(raw, []byte(`"actor":"ops"`), []byte(`"actor":"eve"`), 1)
	if bytes.Equal(tampered, raw) {
		t.Fatal("no record of ops to tamper with")
	}
	if err := os.WriteFile(d.auditFile, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = doctor(t, bin, d.ready.GRPC, "ops")
	wantDoctor(t, "audit tampered", code, out, 1, "FAIL  audit log: "+d.auditFile+" does not verify: line ", "hash does not match")
	lines := bytes.SplitAfter(raw, []byte("\n"))
	if err := os.WriteFile(d.auditFile, bytes.Join(lines[:len(lines)-3], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = doctor(t, bin, d.ready.GRPC, "ops")
	wantDoctor(t, "audit cut", code, out, 1, "FAIL  audit log: ", "its end was cut off")

	// Draining: reachable, but taking no new calls.
	if _, err := d.admin.Drain(as(d.ctx(), "ops"), &hushv1.DrainRequest{}); err != nil {
		t.Fatal(err)
	}
	code, out = doctor(t, bin, d.ready.GRPC, "ops")
	wantDoctor(t, "draining", code, out, 1, "WARN  reachable: hushd answers, but it is draining")

	// Nobody there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	code, out = doctor(t, bin, closed, "ops")
	wantDoctor(t, "unreachable", code, out, 1, "FAIL  reachable: cannot reach hushd")
	if strings.Contains(out, "credential") {
		t.Errorf("unreachable: went on to further checks:\n%s", out)
	}
}

// The port range full; the portable engine.
func TestDoctorPortsAndEngine(t *testing.T) {
	bin := buildHushctl(t)
	lo, _ := relaytest.Ports(t, 4)
	d := startDoctorDaemon(t, "--media-port-min", strconv.Itoa(lo), "--media-port-max", strconv.Itoa(lo+3),
		"--media-engine", "portable")
	if _, err := d.session.CreateSession(as(d.ctx(), "sbc"), &hushv1.CreateSessionRequest{CallId: "full",
		Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{}}); err != nil {
		t.Fatal(err)
	}
	code, out := doctor(t, bin, d.ready.GRPC, "ops")
	wantDoctor(t, "ports and engine", code, out, 1,
		"FAIL  port range: 2 of 2 port pairs in use (100%), 1 sessions of at most 10000: full, new calls are refused",
		"WARN  media engine: portable (media.engine portable)", "2 problem(s): media engine, port range.")
}

// TLS: a certificate near its end is a warning with the date; an expired one makes
// hushd unreachable, and doctor says why.
func TestDoctorTLS(t *testing.T) {
	bin := buildHushctl(t)
	dir := t.TempDir()
	ca := authtest.NewCA(t, "hush CA")
	caFile := authtest.WriteFile(t, dir, "ca.crt", ca.PEM)
	for _, c := range []struct {
		name     string
		notAfter time.Time
		lines    []string
	}{
		{"expiring", time.Now().Add(3*24*time.Hour + time.Hour), []string{"WARN  TLS: certificate hushd valid until ", "(3 days left): renew it soon"}},
		{"valid", time.Now().Add(90 * 24 * time.Hour), []string{"ok    TLS: certificate hushd valid until ", "(89 days left)"}},
		{"expired", time.Now().Add(-2 * time.Hour), []string{"FAIL  reachable: hushd's certificate (hushd) expired 2h0m0s ago"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			leaf := ca.Issue(t, authtest.LeafOpts{CN: "hushd", Server: true, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: c.notAfter})
			d := startDoctorDaemon(t, "--tls-cert-file", authtest.WriteFile(t, dir, c.name+".crt", leaf.CertPEM),
				"--tls-key-file", authtest.WriteFile(t, dir, c.name+".key", leaf.KeyPEM))
			code, out := doctor(t, bin, d.ready.GRPC, "ops", "--ca", caFile)
			want := 1
			if c.name == "valid" {
				want = 0
			}
			wantDoctor(t, c.name, code, out, want, c.lines...)
		})
	}
}
