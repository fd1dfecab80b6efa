package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/seal"
)

// sealedRecording writes a finished recording sealed with the key file's current key.
func sealedRecording(t *testing.T, dir, keyFile, id string) {
	t.Helper()
	kr, err := seal.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.New(dir, record.Meta{RecordingID: id, CallID: "call-" + id}, record.WithSealing(kr))
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(3000 + i)
	}
	rec.Write(record.LegCustomer, 1, 0, pcm)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRecordingKeysOffline: an investigator decrypts a sealed recording with the key file
// alone; a tampered one fails naming the record and byte; after keygen (rotation) rewrap
// moves old recordings to the new key, and they still decrypt.
func TestRecordingKeysOffline(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "keys", "rec.kek")
	r := runCtl(t, "", nil, "recording", "keygen", "--key-file", keyFile)
	if r.code != exitOK || strings.TrimSpace(r.stdout) == "" {
		t.Fatalf("keygen: %d %s", r.code, r.stderr)
	}
	first := strings.TrimSpace(r.stdout)
	sealedRecording(t, dir, keyFile, "rec-1")
	wav := filepath.Join(dir, "rec-1.wav")
	out := filepath.Join(t.TempDir(), "plain.wav")
	r = runCtl(t, "", nil, "recording", "decrypt", "--key-file", keyFile, wav, "-o", out)
	if r.code != exitOK {
		t.Fatalf("decrypt: %d %s", r.code, r.stderr)
	}
	plain, _ := os.ReadFile(out)
	kr, _ := seal.LoadKeyFile(keyFile)
	w, err := record.OpenWAV(dir, "rec-1", record.WithKeyring(kr))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, w.Size)
	w.ReadAt(want, 0)
	w.Close()
	if !bytes.Equal(plain, want) || string(plain[:4]) != "RIFF" {
		t.Fatal("decrypted file is not the recording's WAV")
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("decrypted file mode %v", st.Mode().Perm())
	}
	r = runCtl(t, "", nil, "recording", "decrypt", "--key-file", keyFile, filepath.Join(dir, "rec-1.json"))
	if r.code != exitOK || !strings.Contains(r.stdout, `"call_id": "call-rec-1"`) {
		t.Fatalf("decrypt sidecar: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// Rotation: a new current key; the old recording is rewrapped to it.
	r = runCtl(t, "", nil, "recording", "keygen", "--key-file", keyFile)
	second := strings.TrimSpace(r.stdout)
	if r.code != exitOK || second == first {
		t.Fatalf("second keygen: %d %q", r.code, second)
	}
	sealedRecording(t, dir, keyFile, "rec-2")
	r = runCtl(t, "", nil, "recording", "rewrap", "--key-file", keyFile, dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "rewrapped 2 file(s) to key "+second+"; 2 already on it") {
		t.Fatalf("rewrap: %d %s %s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(wav)
	if h, _, err := seal.ParseHeader(b); err != nil || h.KeyID != second {
		t.Fatalf("after rewrap the key is %q: %v", h.KeyID, err)
	}
	// Only the new key is needed now.
	lines := strings.Split(strings.TrimSpace(string(must(os.ReadFile(keyFile)))), "\n")
	onlyNew := filepath.Join(t.TempDir(), "new.kek")
	os.WriteFile(onlyNew, []byte(lines[len(lines)-1]+"\n"), 0o600)
	r = runCtl(t, "", nil, "recording", "decrypt", "--key-file", onlyNew, wav, "-o", out)
	if got, _ := os.ReadFile(out); r.code != exitOK || !bytes.Equal(got, want) {
		t.Fatalf("decrypt with the new key only: %d %s", r.code, r.stderr)
	}

	// One byte altered: the error says where.
	b[len(b)/2] ^= 1
	os.WriteFile(wav, b, 0o600)
	r = runCtl(t, "", nil, "recording", "decrypt", "--key-file", keyFile, wav, "-o", out)
	if r.code != exitFail || !strings.Contains(r.stderr, "fails authentication") || !strings.Contains(r.stderr, "at byte") {
		t.Fatalf("tampered: %d %s", r.code, r.stderr)
	}
	// Cut: refused unless --partial.
	os.WriteFile(wav, b[:len(b)-10], 0o600)
	sealedRecording(t, dir, keyFile, "rec-3")
	cut := filepath.Join(dir, "rec-3.wav")
	c, _ := os.ReadFile(cut)
	os.WriteFile(cut, c[:len(c)-41], 0o600) // the final record
	r = runCtl(t, "", nil, "recording", "decrypt", "--key-file", keyFile, cut, "-o", out)
	if r.code != exitFail || !strings.Contains(r.stderr, "no final record") {
		t.Fatalf("cut: %d %s", r.code, r.stderr)
	}
	r = runCtl(t, "", nil, "recording", "decrypt", "--key-file", keyFile, "--partial", cut, "-o", out)
	if r.code != exitOK {
		t.Fatalf("cut --partial: %d %s", r.code, r.stderr)
	}
	for _, bad := range [][]string{{"decrypt", wav}, {"decrypt", "--key-file", keyFile}, {"rewrap", "--key-file", keyFile}, {"keygen"}} {
		if r := runCtl(t, "", nil, append([]string{"recording"}, bad...)...); r.code != exitUsage {
			t.Errorf("%v: exit %d %s", bad, r.code, r.stderr)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
