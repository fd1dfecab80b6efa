package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// A mistyped HUSH_ variable stops hushd at start with a hint, as a mistyped YAML key does,
// instead of being silently ignored; the variables hush's tools and tests set do not.
func TestEnvironTypoRefused(t *testing.T) {
	err := run(context.Background(), []string{"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
		[]string{"HOME=/root", "HUSH_MEDIA_PORT_MNI=31000"}, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "HUSH_MEDIA_PORT_MNI (environment): unknown variable") ||
		!strings.Contains(err.Error(), "did you mean HUSH_MEDIA_PORT_MIN?") {
		t.Fatalf("run with a mistyped variable = %v", err)
	}

	lo, hi := mediaRange(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	readyc := make(chan ready, 1)
	logs := &syncBuffer{}
	env := []string{"HUSH_CONFIG=", "HUSH_SPEECH_DIR=/nonexistent", "HUSH_RELAY_ENGINES=portable",
		"HUSH_MEDIA_PORT_MIN=" + itoa(lo), "HUSH_MEDIA_PORT_MAX=" + itoa(hi)}
	go func() {
		done <- run(ctx, []string{"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
			"--recording-enabled=false", "--audit-file", "", "--session-drain-timeout", "0s"}, env, io.Discard, logs, readyc)
	}()
	select {
	case <-readyc:
	case err := <-done:
		t.Fatalf("hushd refused its tools' variables: %v", err)
	case <-time.After(wait):
		t.Fatalf("hushd not ready\n%s", logs)
	}
	if want := "media=127.0.0.1:" + itoa(lo) + "-" + itoa(hi); !strings.Contains(logs.String(), want) {
		t.Errorf("HUSH_MEDIA_PORT_MIN/MAX not applied (no %q):\n%s", want, logs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
