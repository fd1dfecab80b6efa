package loadgen

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadableLog(t *testing.T) {
	for _, tc := range []struct {
		extra []string
		env   string
		want  []string
	}{
		{nil, "", []string{"--log-format=text", "--log-level=info"}},
		{[]string{"--log-level=warn"}, "", []string{"--log-format=text", "--log-level=info"}},
		{[]string{"--log-level", "error", "--log-format=json"}, "", []string{"--log-format=text", "--log-level=info"}},
		{nil, "warn", []string{"--log-format=text", "--log-level=info"}},
		{[]string{"--log-level=debug"}, "", []string{"--log-format=text"}},
		{nil, "DEBUG", []string{"--log-format=text"}},
		{[]string{"--log-level=debug", "--log-level=warn"}, "", []string{"--log-format=text", "--log-level=info"}}, // the last one counts
		{[]string{"--log-level"}, "", []string{"--log-format=text", "--log-level=info"}},                           // no value
	} {
		if got := readableLog(tc.extra, tc.env); !slices.Equal(got, tc.want) {
			t.Errorf("readableLog(%q, %q) = %q, want %q", tc.extra, tc.env, got, tc.want)
		}
	}
}

// TestProcessDiedKeepsLog: a relay that dies during a run is reported with its last
// lines and a log file that holds everything it wrote, even past a line too long to
// scan; one stopped cleanly leaves no file behind.
func TestProcessDiedKeepsLog(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	script := `echo 'ready 127.0.0.1:1'; echo 'level=INFO msg=serving'; head -c 204800 /dev/zero | tr '\0' x; echo; ` +
		`echo 'panic: runtime error: index out of range' >&2; exit 2`
	p, err := startProcess(context.Background(), sh, []string{"-c", script}, io.Discard, regexp.MustCompile(`ready (\S+)`))
	if err != nil {
		t.Fatal(err)
	}
	// It dies by itself: wait for its exit status (and leave it for Stop).
	select {
	case e := <-p.done:
		p.done <- e
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not exit")
	}
	err = p.Stop()
	if !errors.Is(err, ErrDied) || !strings.Contains(err.Error(), "panic: runtime error") || !strings.Contains(err.Error(), p.LogPath) {
		t.Fatalf("Stop = %v", err)
	}
	b, rerr := os.ReadFile(p.LogPath)
	if rerr != nil || !strings.Contains(string(b), "panic: runtime error") || !strings.Contains(string(b), strings.Repeat("x", 204800)) {
		t.Fatalf("log %s: %d bytes, %v", p.LogPath, len(b), rerr)
	}

	clean, err := startProcess(context.Background(), sh, []string{"-c", `echo 'ready 127.0.0.1:2'; trap 'exit 0' TERM; while :; do sleep 1; done`},
		io.Discard, regexp.MustCompile(`ready (\S+)`))
	if err != nil {
		t.Fatal(err)
	}
	if err := clean.Stop(); err != nil {
		t.Fatalf("a clean stop: %v", err)
	}
	if _, err := os.Stat(clean.LogPath); !os.IsNotExist(err) {
		t.Fatalf("the log of a clean run was kept: %v", err)
	}
}
