package record

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestSegmentLinked: a recording that continues a session after a takeover carries its
// segment number and the recording it continues in every sidecar it writes, from the
// first (in progress) to the last.
func TestSegmentLinked(t *testing.T) {
	dir := t.TempDir()
	r, err := New(dir, Meta{RecordingID: "sess-1-2", SessionID: "sess-1", Segment: 2, PreviousRecordingID: "sess-1"},
		WithClock(newFakeClock()), WithDrainInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, want Status) {
		t.Helper()
		sc, err := ReadSidecar(filepath.Join(dir, "sess-1-2.json"))
		if err != nil {
			t.Fatal(err)
		}
		if sc.Status != want || sc.Segment != 2 || sc.PreviousRecordingID != "sess-1" {
			t.Errorf("%s: status %s, segment %d, previous %q; want %s, 2, sess-1", when, sc.Status, sc.Segment, sc.PreviousRecordingID, want)
		}
	}
	check("started", StatusInProgress)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed", StatusComplete)
}

// TestSegmentBadMeta: a previous recording id that is not a safe file name, or a negative
// segment, is refused before any file is made.
func TestSegmentBadMeta(t *testing.T) {
	for _, m := range []Meta{
		{RecordingID: "r2", PreviousRecordingID: "../r1"},
		{RecordingID: "r2", PreviousRecordingID: ".hidden"},
		{RecordingID: "r2", Segment: -1},
	} {
		dir := t.TempDir()
		if r, err := New(dir, m); !errors.Is(err, ErrBadID) {
			if r != nil {
				r.Close()
			}
			t.Errorf("New(%+v) = %v, want ErrBadID", m, err)
		}
		if ents, _ := filepath.Glob(filepath.Join(dir, "*")); len(ents) != 0 {
			t.Errorf("New(%+v) left %v", m, ents)
		}
	}
}
