package ng

import (
	"testing"

	"github.com/hushmedia/hush/internal/session"
)

// TestDeleteMovedCall: a call set up through this protocol on one node and taken over by
// another (the session directory carries the session, not the SIP state) still ends on
// the BYE's delete there; a session a gRPC client created under the call id is left alone.
func TestDeleteMovedCall(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	a.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), nil))
	a.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), nil))
	snap, err := a.reg.Snapshot(a.session("c1").ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Restore(snap, session.Move{From: "a", Reason: session.MoveTakeover}); err != nil {
		t.Fatal(err)
	}
	// The SIP state did not move: a re-offer fails, as CLUSTER.md says, and leaves the call.
	if out := b.send(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4002"), map[string]any{"to-tag": "tagB"})); out["result"] != "error" {
		t.Errorf("re-offer on the node that took the call over: %v", out)
	}
	if _, err := b.reg.Get(snap.ID); err != nil {
		t.Fatalf("the failed re-offer ended the call: %v", err)
	}
	out := b.ok(map[string]any{"command": "delete", "call-id": "c1", "from-tag": "tagA"})
	if _, err := b.reg.Get(snap.ID); err == nil {
		t.Fatalf("the taken-over call still runs after delete: %v", out)
	}

	// Not set up through offer and answer: not this protocol's to end.
	in, err := b.reg.Create(session.Spec{CallID: "grpc-1", AgentID: "agent-1"})
	if err != nil {
		t.Fatal(err)
	}
	b.ok(map[string]any{"command": "delete", "call-id": "grpc-1"})
	if _, err := b.reg.Get(in.ID); err != nil {
		t.Errorf("a gRPC session was ended by an ng delete: %v", err)
	}
}
