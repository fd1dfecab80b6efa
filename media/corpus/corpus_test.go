package corpus

import (
	"encoding/binary"
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

func TestReadRefusesOtherFormats(t *testing.T) {
	d := t.TempDir()
	wav := func(format, ch uint16, rate uint32, bits uint16, data []byte) []byte {
		b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00")
		b = binary.LittleEndian.AppendUint16(b, format)
		b = binary.LittleEndian.AppendUint16(b, ch)
		b = binary.LittleEndian.AppendUint32(b, rate)
		b = binary.LittleEndian.AppendUint32(b, rate*uint32(ch)*uint32(bits)/8)
		b = binary.LittleEndian.AppendUint16(b, ch*bits/8)
		b = binary.LittleEndian.AppendUint16(b, bits)
		b = append(b, "data"...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		return append(b, data...)
	}
	for name, b := range map[string][]byte{
		"empty":    nil,
		"not riff": []byte("RIFX\x00\x00\x00\x00WAVE"),
		"stereo":   wav(1, 2, 8000, 16, []byte{1, 0, 2, 0}),
		"16 kHz":   wav(1, 1, 16000, 16, []byte{1, 0}),
		"8 bit":    wav(1, 1, 8000, 8, []byte{1}),
		"float":    wav(3, 1, 8000, 16, []byte{1, 0}),
		"no data":  wav(1, 1, 8000, 16, nil)[:36],
		"no fmt":   []byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x01\x00"),
	} {
		p := filepath.Join(d, strings.ReplaceAll(name, " ", "_")+".wav")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want ErrFormat naming the file", name, err)
		}
	}
	p := filepath.Join(d, "ok.wav")
	if err := os.WriteFile(p, wav(1, 1, 8000, 16, []byte{1, 0, 0xff, 0xff, 3, 0}), 0o644); err != nil {
		t.Fatal(err)
	}
	if pcm, err := Read(p); err != nil || len(pcm) != 3 || pcm[0] != 1 || pcm[1] != -1 || pcm[2] != 3 {
		t.Fatalf("Read = %v, %v", pcm, err)
	}
}

func TestSpeechSpansFilesAndSkips(t *testing.T) {
	d := t.TempDir()
	t.Setenv(EnvDir, d)
	sub := filepath.Join(d, "digits")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path string, pcm ...int16) {
		t.Helper()
		b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data")
		b = binary.LittleEndian.AppendUint32(b, uint32(2*len(pcm)))
		for _, v := range pcm {
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(d, "a.wav"), 1, 2, 3)
	write(filepath.Join(d, "b.wav"), 4, 5)
	write(filepath.Join(sub, "one.wav"), 9)
	got, err := Speech(3, 2)
	if err != nil || len(got) != 3 || got[0] != 3 || got[1] != 4 || got[2] != 5 {
		t.Fatalf("Speech(3, 2) = %v, %v; want [3 4 5]", got, err)
	}
	if _, err := Speech(5, 1); !errors.Is(err, ErrShort) {
		t.Fatalf("Speech past the end: err = %v, want ErrShort", err)
	}
	all, err := AllFiles()
	if err != nil || len(all) != 3 || all[2] != filepath.Join(sub, "one.wav") {
		t.Fatalf("AllFiles = %v, %v", all, err)
	}
	top, _ := Files()
	if len(top) != 2 {
		t.Fatalf("Files = %v, want the two at the top", top)
	}
}
