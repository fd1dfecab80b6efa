package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/api"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
)

// hushd's own RecordingService, over a recording the record library wrote:
// the sidecar's sha256 is the one hushctl checks against.
func TestRecordingAgainstHushd(t *testing.T) {
	dir := t.TempDir()
	// A clock that moves 20 ms per frame written, so frames land on the
	// timeline as in a call although the test writes far faster than real time.
	var now atomic.Int64
	now.Store(created.AsTime().UnixNano())
	clock := record.ClockFunc(func() time.Time { return time.Unix(0, now.Load()) })
	rec, err := record.New(dir, record.Meta{RecordingID: "rec-1", SessionID: "s-1", CallID: "call-1", AgentID: "agent-1"},
		record.WithClock(clock), record.WithRingSlots(2048))
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 150)
	}
	// Enough 20 ms frames for the file to span several download chunks.
	for f := range 1200 {
		if f == 300 {
			if _, err := rec.Pause(record.PauseSilence, record.Action{Actor: "agent-1", Reason: "card payment"}); err != nil {
				t.Fatal(err)
			}
		}
		if f == 600 {
			if _, err := rec.Resume(record.Action{Actor: "agent-1"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Write(record.LegCustomer, 1, uint32(f*160), pcm); err != nil {
			t.Fatal(err)
		}
		now.Add(int64(20 * time.Millisecond))
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	idx, _, err := index.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	dial := serveOn(t, api.NewServer(api.Options{Recordings: idx}).GRPC)
	sc, err := record.Get(dir, "rec-1")
	if err != nil || sc.SHA256 == "" {
		t.Fatalf("sidecar %+v: %v", sc, err)
	}
	wav, err := os.ReadFile(filepath.Join(dir, "rec-1.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if len(wav) <= 64<<10 {
		t.Fatalf("file of %d bytes fits one chunk; the test wants several", len(wav))
	}

	r := ctl(t, dial, "recording", "list", "--call-id", "call-1")
	if r.code != exitOK {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "list", r.stdout, "rec-1", "call-1", "complete", "1 recording(s)")

	r = ctl(t, dial, "recording", "info", "rec-1")
	if r.code != exitOK {
		t.Fatalf("info: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "info", r.stdout, "status     complete", "sha256     "+sc.SHA256, "pauses: 1", "silence reason=\"card payment\"",
		"actions: 4", "pause:silence by=agent-1", "resume by=agent-1", "stop")

	path := filepath.Join(t.TempDir(), "rec-1.wav")
	r = ctl(t, dial, "recording", "get", "rec-1", "-o", path)
	if r.code != exitOK {
		t.Fatalf("get: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "get", r.stderr, "sha256 "+sc.SHA256, "sha256 matches the sidecar")
	if got, _ := os.ReadFile(path); !bytes.Equal(got, wav) {
		t.Error("downloaded file differs from hushd's")
	}

	// Resume from the middle of the second chunk.
	if err := os.Truncate(path, 100000); err != nil {
		t.Fatal(err)
	}
	r = ctl(t, dial, "recording", "get", "rec-1", "-o", path, "--offset", "100000")
	if r.code != exitOK {
		t.Fatalf("resume: exit %d: %s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, wav) {
		t.Error("resumed file differs from hushd's")
	}

	r = ctl(t, dial, "recording", "get", "rec-1", "--offset", "99999999")
	if r.code != exitFail {
		t.Fatalf("offset past the end: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "stderr", r.stderr, "OutOfRange")
}
