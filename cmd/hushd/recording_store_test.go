package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/record/seal"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestEraseRecordingEverywhere: with no key configured hushd creates a key file (0600)
// and says so; recordings are sealed on disk and served decrypted; EraseRecording removes
// a call's recording from the disk and the index (it is gone from ListRecordings, also
// after a restart) and the audit log holds the erasure.
func TestEraseRecordingEverywhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recDir := filepath.Join(dir, "recordings")
	auditFile := filepath.Join(dir, "audit.jsonl")
	keyFile := filepath.Join(dir, "keys", "recording.kek")
	args := []string{"--recording-enabled=true", "--recording-dir", recDir, "--audit-file", auditFile, "--recording-key-file", keyFile}
	d := startDaemon(t, args...)
	if !strings.Contains(d.log.String(), "created a new recording key-encryption key") {
		t.Errorf("start-up log does not say a key was created:\n%s", d.log)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v", err)
	}
	ids := map[string]string{}
	for _, call := range []string{"erase-me", "keep-me"} {
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: call,
			Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1:9"}, Agent: &hushv1.Leg{RemoteAddr: "127.0.0.1:11"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
			t.Fatal(err)
		}
		ids[call] = s.RecordingId
	}
	files := func(id string) []string {
		var out []string
		filepath.WalkDir(recDir, func(path string, e os.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(e.Name(), id) {
				out = append(out, path)
			}
			return err
		})
		return out
	}
	gone := ids["erase-me"]
	on := files(gone)
	if len(on) != 2 {
		t.Fatalf("recording files %v", on)
	}
	for _, f := range on {
		if b, _ := os.ReadFile(f); !seal.IsSealed(b) {
			t.Errorf("%s is not sealed", f)
		}
	}
	_, raw := download(t, d, gone, t.TempDir())
	if !bytes.HasPrefix(raw, []byte("RIFF")) {
		t.Fatalf("download is not a decrypted WAV")
	}

	recs := hushv1.NewRecordingServiceClient(d.conn)
	resp, err := recs.EraseRecording(d.ctx(), &hushv1.EraseRecordingRequest{CallId: "erase-me", Reason: "data subject request"})
	if err != nil || len(resp.RecordingIds) != 1 || resp.RecordingIds[0] != gone {
		t.Fatalf("erase: %v %v", resp, err)
	}
	if left := files(gone); len(left) != 0 {
		t.Fatalf("left on disk: %v", left)
	}
	listed := func() []string {
		l, err := recs.ListRecordings(d.ctx(), &hushv1.ListRecordingsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range l.Recordings {
			out = append(out, r.CallId)
		}
		return out
	}
	if got := listed(); len(got) != 1 || got[0] != "keep-me" {
		t.Fatalf("listed after erase: %v", got)
	}
	audit, _ := os.ReadFile(auditFile)
	found := false
	for _, line := range strings.Split(string(audit), "\n") {
		found = found || strings.Contains(line, `"recording.erase"`) && strings.Contains(line, gone) &&
			strings.Contains(line, "data subject request") && strings.Contains(line, `"OK"`)
	}
	if !found {
		t.Fatalf("the audit log has no erasure of %s:\n%s", gone, audit)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, args...)
	recs = hushv1.NewRecordingServiceClient(d.conn)
	if got := listed(); len(got) != 1 || got[0] != "keep-me" {
		t.Fatalf("listed after a restart: %v", got)
	}
}
