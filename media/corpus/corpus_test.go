package corpus

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirFromEnv(t *testing.T) {
	d := t.TempDir()
	t.Setenv(EnvDir, d)
	if _, err := Dir(); !errors.Is(err, ErrMissing) {
		t.Fatalf("empty override: err = %v, want ErrMissing", err)
	}
	for _, n := range []string{"b.wav", "a.wav", "c.txt"} {
		if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(d, "a.wav"), filepath.Join(d, "b.wav")}
	if len(files) != 2 || files[0] != want[0] || files[1] != want[1] {
		t.Fatalf("Files() = %v, want %v", files, want)
	}
}

func TestMissingNamesPackage(t *testing.T) {
	old := debianDirs
	t.Cleanup(func() { debianDirs = old })
	debianDirs = []string{t.TempDir()}
	t.Setenv(EnvDir, "")
	_, err := Dir()
	if !errors.Is(err, ErrMissing) {
		t.Fatalf("err = %v, want ErrMissing", err)
	}
	if got := err.Error(); !strings.Contains(got, Package) {
		t.Fatalf("error %q does not name %s", got, Package)
	}
}
