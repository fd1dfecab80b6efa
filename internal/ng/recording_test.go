package ng

import (
	"testing"

	"github.com/hushmedia/hush/internal/session"
)

// TestRecordingStartedLater: as with rtpengine, a call that is not recorded starts
// recording on `start recording`, or on `record call` in a later offer or answer, from
// then on; `record call=no` on a recorded call is refused (stop recording pauses it).
func TestRecordingStartedLater(t *testing.T) {
	h := newHarness(t)

	// start recording.
	h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), map[string]any{"record call": "no"}))
	id := h.session("c1").ID
	if r := h.session("c1").Recording; r.State != session.RecordingStopped || h.recs(id) != nil {
		t.Fatalf("recording %+v: want none", r)
	}
	h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), nil))
	h.ok(map[string]any{"command": "start recording", "call-id": "c1"})
	if r := h.session("c1").Recording; r.State != session.RecordingActive || h.recs(id) == nil {
		t.Fatalf("after start recording: %+v", r)
	}

	// record call in the answer.
	h.ok(kamailioOffer("c2", "tagC", phoneSDP("192.0.2.11:4000"), map[string]any{"flags": []any{"exclude recording"}}))
	id2 := h.session("c2").ID
	h.ok(kamailioAnswer("c2", "tagC", "tagD", phoneSDP("192.0.2.21:5000"), map[string]any{"record call": "yes"}))
	if r := h.session("c2").Recording; r.State != session.RecordingActive || h.recs(id2) == nil {
		t.Fatalf("after record call in the answer: %+v", r)
	}
	// record call=no later: refused, the recording goes on.
	out := h.send(kamailioOffer("c2", "tagC", phoneSDP("192.0.2.11:4002"), map[string]any{"to-tag": "tagD", "record call": "no"}))
	if out["result"] != "error" {
		t.Fatalf("record call=no on a recorded call: %v", out)
	}
	if r := h.session("c2").Recording; r.State != session.RecordingActive {
		t.Fatalf("recording %+v after a refused record call=no", r)
	}

	// record call in a re-offer.
	h.ok(kamailioOffer("c3", "tagE", phoneSDP("192.0.2.12:4000"), map[string]any{"record call": "no"}))
	id3 := h.session("c3").ID
	h.ok(kamailioAnswer("c3", "tagE", "tagF", phoneSDP("192.0.2.22:5000"), nil))
	h.ok(kamailioOffer("c3", "tagE", phoneSDP("192.0.2.12:4000"), map[string]any{"to-tag": "tagF", "flags": []any{"record call"}}))
	if r := h.session("c3").Recording; r.State != session.RecordingActive || h.recs(id3) == nil {
		t.Fatalf("after record call in a re-offer: %+v", r)
	}
}
