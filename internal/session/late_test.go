package session

import (
	"errors"
	"testing"

	"github.com/hushmedia/hush/media/mask"
)

// TestStartRecordingLater: a session created unrecorded on a hushd that records starts
// recording when asked during the call (ng start recording, record-call in a re-offer):
// its media was given a recording tap that passes nothing on before, and the new
// recording's frames after. Asked again, nothing more starts; on a hushd that records
// nothing, it fails as a precondition.
func TestStartRecordingLater(t *testing.T) {
	n := newNode(t, "a")
	sp := spec("call-1", "")
	sp.Policy.Recording.Off = true
	in, err := n.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	if in.Recording.State != RecordingStopped {
		t.Fatalf("recording %+v, want none", in.Recording)
	}
	m := n.mediaOf(t, 0)
	if m.spec.Record == nil {
		t.Fatal("an unrecorded session's media has no recording tap: no recording could start later")
	}
	frame := &mask.RecordFrame{}
	_ = m.spec.Record.Write(Customer, 1, 160, frame) // before: goes nowhere

	got, err := n.reg.StartRecording(in.ID, "kamailio", Request{}, "ng start recording")
	if err != nil {
		t.Fatal(err)
	}
	if got.Recording.State != RecordingActive || got.Recording.ID != in.ID || got.Policy.Recording.Off {
		t.Fatalf("after start: recording %+v, policy off %v", got.Recording, got.Policy.Recording.Off)
	}
	n.recMu.Lock()
	recs := append([]RecorderMeta(nil), n.recs...)
	n.recMu.Unlock()
	if len(recs) != 1 || recs[0].SessionID != in.ID || recs[0].Segment != 1 {
		t.Fatalf("recorders started: %+v", recs)
	}
	_ = m.spec.Record.Write(Customer, 1, 320, frame)
	s, _ := n.reg.lookup(in.ID)
	s.mu.Lock()
	fr := s.rec.rec.(*fakeRecorder)
	s.mu.Unlock()
	if w := fr.writes.Load(); w != 1 {
		t.Errorf("the recording got %d frames, want the 1 written after it started", w)
	}
	if _, err := n.reg.StartRecording(in.ID, "kamailio", Request{}, "again"); err != nil {
		t.Fatal(err)
	}
	if n.recMu.Lock(); len(n.recs) != 1 {
		t.Errorf("%d recorders after a second start, want 1", len(n.recs))
	}
	n.recMu.Unlock()
	if snap, _ := n.reg.Snapshot(in.ID); snap.Recording.ID != in.ID || snap.Policy.Recording.Off {
		t.Errorf("snapshot %+v: a takeover would not record on", snap.Recording)
	}

	// A hushd that records nothing.
	h := newHarness(t, 8, 10)
	in2, err := h.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.StartRecording(in2.ID, "kamailio", Request{}, ""); !errors.Is(err, ErrFailedPrecondition) {
		t.Errorf("start recording without a recorder: %v, want ErrFailedPrecondition", err)
	}
}
