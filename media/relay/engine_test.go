package relay

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// testEngine serves the Calls the tests build (newCall, unstartedCall).
// TestMain runs the whole suite once per engine that works here, so every
// behaviour test covers every engine.
var testEngine Engine

func withTestEngine(opts []Option) []Option {
	return append([]Option{WithEngine(testEngine)}, opts...)
}

// TestMain runs the tests with each engine: portable, then epoll. An engine
// the kernel refuses is skipped with a message, never failed: the portable
// run still covers the pipeline. HUSH_RELAY_ENGINES (comma-separated)
// narrows the list.
func TestMain(m *testing.M) {
	kinds := []string{EnginePortable, EngineEpoll}
	if v := os.Getenv("HUSH_RELAY_ENGINES"); v != "" {
		kinds = strings.Split(v, ",")
	}
	code := 0
	for _, k := range kinds {
		e, err := NewEngine(k, EngineOptions{Workers: 2})
		if errors.Is(err, ErrEngineUnavailable) {
			fmt.Fprintf(os.Stderr, "relay tests: engine %s skipped: %v\n", k, err)
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "relay tests: engine %s: %v\n", k, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "relay tests: engine %s\n", e.Name())
		testEngine = e
		if c := m.Run(); c != 0 {
			code = c
		}
		if err := e.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "relay tests: closing engine %s: %v\n", k, err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestNewEngineKinds(t *testing.T) {
	for _, k := range []string{"", EnginePortable, EngineAuto} {
		e, err := NewEngine(k, EngineOptions{})
		if err != nil {
			t.Fatalf("%q: %v", k, err)
		}
		if e.Name() == "" {
			t.Fatalf("%q: no name", k)
		}
		t.Logf("%q runs as %s", k, e.Name())
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewEngine("kqueue", EngineOptions{}); !errors.Is(err, ErrUnknownEngine) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := NewEngine(EngineIOURing, EngineOptions{}); !errors.Is(err, ErrEngineUnavailable) {
		t.Fatalf("io_uring: %v", err)
	}
}
