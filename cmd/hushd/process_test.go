package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// buildHushd compiles the daemon once per test binary run.
func buildHushd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hushd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var servingLine = regexp.MustCompile(`msg="hushd serving" grpc=(\S+)`)

// TestSIGTERMDrainsAndExitsZero runs the real binary: SIGTERM ends active sessions with
// reason drain after the deadline, and the process exits 0.
func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	bin := buildHushd(t)
	lo, hi := mediaRange(t, 20)
	cmd := exec.Command(bin, "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", itoa(lo), "--media-port-max", itoa(hi),
		"--session-drain-timeout", "200ms", "--recording-enabled=false",
		"--audit-file", filepath.Join(t.TempDir(), "audit.jsonl"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var addr string
	var logText strings.Builder
	deadline := time.After(wait)
	for addr == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("hushd exited before serving:\n%s", logText.String())
			}
			logText.WriteString(l + "\n")
			if m := servingLine.FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
		case <-deadline:
			t.Fatalf("hushd did not report serving:\n%s", logText.String())
		}
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := hushv1.NewSessionServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := c.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "sigterm"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: s.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil { // snapshot: the watch is registered
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var ended *hushv1.SessionEnded
	for i := 0; i < 100 && ended == nil; i++ {
		ev, err := st.Recv()
		if err != nil {
			t.Fatalf("watch ended before the ended event: %v", err)
		}
		ended = ev.GetEnded()
	}
	if ended == nil || ended.Reason != hushv1.EndReason_END_REASON_DRAIN {
		t.Fatalf("ended event %v", ended)
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("watch stream after end: %v", err)
	}
	for l := range lines {
		logText.WriteString(l + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logText.String())
	}
	if !strings.Contains(logText.String(), "hushd stopped") {
		t.Fatalf("log:\n%s", logText.String())
	}
}

// TestBadConfigStopsStartup: an invalid value stops start-up with a message naming the key.
func TestBadConfigStopsStartup(t *testing.T) {
	bin := buildHushd(t)
	out, err := exec.Command(bin, "--media-port-min", "70000").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "media.port_min") {
		t.Fatalf("message does not name the key:\n%s", out)
	}
}
