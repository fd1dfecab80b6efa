package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/config"
)

// TestVersionFlag: hushd --version prints the build (module version, commit when stamped,
// toolchain) and exits 0 without starting anything.
func TestVersionFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := run(ctx, []string{"--version", "--grpc-listen", "127.0.0.1:0"}, nil, &stdout, &stderr, nil); err != nil {
		t.Fatalf("--version: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "hushd ") || !strings.Contains(out, " go1.") || strings.Count(out, "\n") != 1 {
		t.Fatalf("--version printed %q", out)
	}
	if stderr.Len() != 0 {
		t.Fatalf("--version logged: %s", stderr.String())
	}
}

// TestStartupSaysWhatIsOff: the serving line says that TLS and authentication are off and
// where recordings and the audit log go (absolute paths), and auth off is a warning.
func TestStartupSaysWhatIsOff(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	d := startDaemon(t, "--recording-enabled=true", "--recording-dir", "recs", "--audit-file", "audit/a.jsonl")
	log := d.log.String()
	var serving, warn string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `msg="hushd serving"`) {
			serving = l
		}
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "authentication is off") {
			warn = l
		}
	}
	for _, want := range []string{"tls=off", "auth=none", "recordings=" + filepath.Join(dir, "recs"),
		"audit=" + filepath.Join(dir, "audit", "a.jsonl"), "version="} {
		if !strings.Contains(serving, want) {
			t.Errorf("serving line lacks %q:\n%s", want, serving)
		}
	}
	if warn == "" || !strings.Contains(warn, d.ready.GRPC) {
		t.Errorf("no warning naming the open gRPC address %s that authentication is off:\n%s", d.ready.GRPC, log)
	}
}

// TestJSONLogDurations: durations are "1.5s" in JSON logs as in text, not nanoseconds.
func TestJSONLogDurations(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		newLogger(config.Log{Level: "info", Format: format}, &b).Info("x", "deadline", 1500*time.Millisecond)
		out := b.String()
		if want := map[string]string{"json": `"deadline":"1.5s"`, "text": "deadline=1.5s"}[format]; !strings.Contains(out, want) {
			t.Errorf("%s: %q lacks %s", format, out, want)
		}
	}
}

// TestBadRecordingDirCreatesNothing: a recording.dir hushd cannot use stops start-up with
// a message naming the key, before the audit log (or anything else) is created.
func TestBadRecordingDirCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	auditFile := filepath.Join(dir, "audit", "hush-audit.jsonl")
	lo, hi := mediaRange(t, 4)
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := run(ctx, []string{"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", itoa(lo), "--media-port-max", itoa(hi),
		"--recording-dir", filepath.Join(notDir, "recordings"), "--audit-file", auditFile}, nil, &stderr, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "recording.dir") {
		t.Fatalf("run = %v, want a recording.dir error\n%s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Dir(auditFile)); !os.IsNotExist(err) {
		t.Fatalf("the audit log's directory was created before recording.dir was checked (stat: %v)", err)
	}
}
