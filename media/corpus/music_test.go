package corpus

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMusicDirFromEnv(t *testing.T) {
	d := t.TempDir()
	t.Setenv(EnvMusicDir, d)
	if _, err := MusicDir(); !errors.Is(err, ErrMusicMissing) {
		t.Fatalf("empty override: err = %v, want ErrMusicMissing", err)
	}
	for _, n := range []string{"b.wav", "a.wav", "c.txt"} {
		if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := MusicFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(d, "a.wav"), filepath.Join(d, "b.wav")}
	if len(files) != 2 || files[0] != want[0] || files[1] != want[1] {
		t.Fatalf("MusicFiles() = %v, want %v", files, want)
	}
}

func TestMusicMissingNamesPackage(t *testing.T) {
	old := musicDirs
	t.Cleanup(func() { musicDirs = old })
	musicDirs = []string{t.TempDir()}
	t.Setenv(EnvMusicDir, "")
	_, err := MusicDir()
	if !errors.Is(err, ErrMusicMissing) {
		t.Fatalf("err = %v, want ErrMusicMissing", err)
	}
	if got := err.Error(); !strings.Contains(got, MusicPackage) {
		t.Fatalf("error %q does not name %s", got, MusicPackage)
	}
}
