package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoTestingLinked: hushload is a tool operators run, not a test: it links neither
// package testing (whose flags and init it would carry) nor the test helpers under
// media/ and internal/ (the *test packages, which may use it).
func TestNoTestingLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/hushmedia/hush/internal/loadgen") {
		t.Fatalf("go list -deps did not list loadgen: %q", out)
	}
	for _, d := range deps {
		if d == "testing" || strings.HasPrefix(d, "github.com/hushmedia/hush/") && strings.HasSuffix(d, "test") {
			t.Errorf("hushload links %s", d)
		}
	}
}
