// Package deploy holds the tests of hush's deployment files: the container image, the
// systemd unit, the Kubernetes base, the Prometheus rules and the Grafana dashboard.
// Each check that needs an outside tool skips naming it when it is missing, and fails
// instead when CI=true (.ci/run installs every one).
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// root is the repository root (this file's directory's parent).
func root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(filepath.Dir(file))
}

// missing skips the test, or fails it under CI=true, for a tool that is not installed.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// debianTool returns the path of a tool from a Debian package.
func debianTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" missing: install Debian package "+pkg)
	}
	return p
}

// goTool returns the path of a Go tool `make tools` installs into .bin/.
func goTool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(root(t), ".bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, name+" missing: run 'make tools'")
	return ""
}

// run runs a command and returns its combined output; a non-zero exit fails the test.
func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
