package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHushctlAgainstHushd drives the real hushctl binary against a real hushd: create,
// get, list, watch (until the session ends) and delete, in human and JSON output.
func TestHushctlAgainstHushd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hushctl; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hushctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../hushctl").CombinedOutput(); err != nil {
		t.Fatalf("go build hushctl: %v\n%s", err, out)
	}
	d := startDaemon(t)
	ctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--addr", d.ready.GRPC}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("hushctl %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")

	var created struct {
		SessionID string `json:"sessionId"`
		Customer  struct {
			LocalAddr string `json:"localAddr"`
		} `json:"customer"`
	}
	out := ctl("--json", "session", "create", "--call-id", "ctl-call", "--agent-id", "agent-3",
		"--customer-remote", cust.addr().String(), "--request-id", "ctl-1")
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.SessionID == "" {
		t.Fatalf("create --json gave %q: %v", out, err)
	}
	if got := ctl("session", "get", created.SessionID); !strings.Contains(got, "ctl-call") || !strings.Contains(got, created.Customer.LocalAddr) {
		t.Fatalf("get:\n%s", got)
	}
	if got := ctl("session", "list"); !strings.Contains(got, created.SessionID) {
		t.Fatalf("list:\n%s", got)
	}

	// watch runs until the session ends; delete ends it.
	// Bounded: a watch that never ends is killed at the deadline and the test fails.
	watch := exec.CommandContext(d.ctx(), bin, "--addr", d.ready.GRPC, "--json", "session", "watch", created.SessionID)
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	// The first line is the snapshot: once it is out, the watch is subscribed.
	first := make([]byte, 1)
	if _, err := stdout.Read(first); err != nil {
		t.Fatalf("watch printed nothing: %v", err)
	}
	ctl("session", "delete", created.SessionID)
	rest := new(bytes.Buffer)
	rest.ReadFrom(stdout)
	if err := watch.Wait(); err != nil {
		t.Fatalf("watch exited with %v", err)
	}
	events := string(first) + rest.String()
	if !strings.Contains(events, `"snapshot"`) || !strings.Contains(events, "END_REASON_DELETED") {
		t.Fatalf("watch output:\n%s", events)
	}
}
