package session

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// node is one node's registry with its own fake ports (the same port numbers on every
// node, as nodes sharing a media address have), recorders and change log.
type node struct {
	*harness
	recMu    sync.Mutex
	recs     []RecorderMeta
	changes  []Change
	abandons []string
}

func newNode(t *testing.T, name string) *node {
	t.Helper()
	n := &node{harness: newHarness(t, 8, 10)}
	n.reg.cfg.Node = name
	n.reg.cfg.Recorder = func(m RecorderMeta) (Recorder, error) {
		n.recMu.Lock()
		defer n.recMu.Unlock()
		n.recs = append(n.recs, m)
		id := m.RecordingID
		if id == "" {
			id = m.SessionID
		}
		return &fakeRecorder{id: id}, nil
	}
	n.reg.cfg.Hooks.Changed = func(c Change) {
		n.recMu.Lock()
		n.changes = append(n.changes, c)
		n.recMu.Unlock()
	}
	n.reg.cfg.Hooks.CaptureAbandoned = func(why string) {
		n.recMu.Lock()
		n.abandons = append(n.abandons, why)
		n.recMu.Unlock()
	}
	return n
}

func (n *node) changed(id string) (count int, ended bool, reason EndReason) {
	n.recMu.Lock()
	defer n.recMu.Unlock()
	for _, c := range n.changes {
		if c.ID == id {
			count++
			ended, reason = c.Ended, c.Reason
		}
	}
	return count, ended, reason
}

// TestSnapshotRestore: a session restored on another node from its snapshot is the same
// call: id, call, agent, labels, the ports bound, the remote the customer latched, the
// policy; the agent's ear masked because a capture had begun, though the policy leaves it
// unmasked; the recording goes on, paused as it was, in segment 2 linked to the first;
// and a watcher on the new node gets the snapshot, then the move.
func TestSnapshotRestore(t *testing.T) {
	a, b := newNode(t, "node-a"), newNode(t, "node-b")
	sp := spec("call-1", "")
	sp.Labels = map[string]string{"queue": "sales"}
	sp.Policy.CustomerToAgent = MaskPolicy{Mode: MaskOff}
	sp.Policy.AgentToCustomer = MaskPolicy{Mode: MaskSilence, LookAhead: 60 * time.Millisecond}
	sp.Agent.Remote = netip.MustParseAddrPort("192.0.2.20:5000")
	sp.Policy.Recording.Retention = 90 * 24 * time.Hour
	in, err := a.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := a.changed(in.ID); n != 1 {
		t.Fatalf("create: %d changes, want 1", n)
	}
	cust := netip.MustParseAddrPort("198.51.100.7:4000")
	a.mediaOf(t, 0).latch(Customer, cust)
	if _, err := a.reg.StartCapture(in.ID, CaptureOptions{Actor: "agent-7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.StopCapture(in.ID, Request{}, "agent-7"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.Pause(in.ID, PauseSkip, "agent-7", Request{}, "card"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := a.changed(in.ID); n < 5 {
		t.Errorf("latch, capture start and stop, pause: %d changes noted, want at least 5", n)
	}
	snap, err := a.reg.Snapshot(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Legs[Customer].Latched || snap.Legs[Customer].Remote != cust || !snap.CaptureBegun || snap.CaptureOn ||
		snap.Recording.State != RecordingPaused || snap.Recording.ID != in.ID {
		t.Fatalf("snapshot %+v", snap)
	}

	got, err := b.reg.Restore(snap, Move{From: "node-a", Reason: MoveTakeover})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != in.ID || got.CallID != "call-1" || got.AgentID != "agent-7" || got.Labels["queue"] != "sales" || got.Node != "node-b" {
		t.Fatalf("restored %+v", got)
	}
	for _, l := range []Leg{Customer, Agent} {
		if got.Leg(l).Local != in.Leg(l).Local {
			t.Errorf("%v local %v, want %v as before", l, got.Leg(l).Local, in.Leg(l).Local)
		}
	}
	if c := got.Customer; c.Remote != cust || !c.Latched {
		t.Errorf("customer leg %+v: want the latched %v, still latched", c, cust)
	}
	if got.Agent.Remote != sp.Agent.Remote || got.Agent.Latched {
		t.Errorf("agent leg %+v", got.Agent)
	}
	m := b.mediaOf(t, 0)
	if m.spec.Masking == nil || m.spec.Masking[CustomerToAgent].Mode != MaskTone || m.spec.Masking[AgentToCustomer].Mode != MaskSilence {
		t.Fatalf("media started with masking %+v: the ear must be masked from the first packet", m.spec.Masking)
	}
	if p, capturing := m.masking(CustomerToAgent); p.Mode != MaskTone || capturing {
		t.Errorf("customer->agent %+v capturing %v, want tone, not capturing", p, capturing)
	}
	if got.Policy != snap.Policy {
		t.Errorf("policy %+v, want %+v", got.Policy, snap.Policy)
	}
	b.recMu.Lock()
	recs := append([]RecorderMeta(nil), b.recs...)
	b.recMu.Unlock()
	if len(recs) != 1 || recs[0].RecordingID != in.ID+"-2" || recs[0].Segment != 2 || recs[0].PreviousRecordingID != in.ID ||
		recs[0].Retention != sp.Policy.Recording.Retention {
		t.Fatalf("recorders started on b: %+v", recs)
	}
	if got.Recording.State != RecordingPaused || got.Recording.Behavior != PauseSkip || got.Recording.ID != in.ID+"-2" {
		t.Errorf("recording %+v, want segment 2 paused (skip)", got.Recording)
	}
	if n := len(got.Moves); n != 1 || got.Moves[0].From != "node-a" || got.Moves[0].To != "node-b" ||
		got.Moves[0].RecordingID != in.ID+"-2" || got.Moves[0].PreviousRecordingID != in.ID || got.Moves[0].CaptureAbandoned {
		t.Errorf("moves %+v", got.Moves)
	}
	ch, _, err := b.reg.Watch(context.Background(), in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch); e.Kind != EventSnapshot {
		t.Fatalf("first event %v", e.Kind)
	}
	if e := next(t, ch); e.Kind != EventMoved || e.Move == nil || e.Move.From != "node-a" || e.Move.Reason != MoveTakeover {
		t.Fatalf("second event %+v, want the move", e)
	}
	// A later snapshot of the restored session says segment 2, so a second move makes 3.
	snap2, err := b.reg.Snapshot(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap2.Recording.Segment != 2 || len(snap2.Moves) != 1 {
		t.Errorf("second snapshot: segment %d, %d moves", snap2.Recording.Segment, len(snap2.Moves))
	}
	// The platform's spec is kept as given: an update that clears nothing relatches as before.
	if sl := snap2.Legs[Customer]; sl.Spec.Remote.IsValid() || sl.Spec.Latched || sl.Remote != cust || !sl.Latched {
		t.Errorf("second snapshot's customer leg %+v", sl)
	}
}

// TestRestoreCaptureRunning: a capture running when the session moved is abandoned
// (reason moved: its digits were on the old node), the agent's ear stays masked and the
// move says so.
func TestRestoreCaptureRunning(t *testing.T) {
	a, b := newNode(t, "a"), newNode(t, "b")
	sp := spec("call-1", "")
	sp.Policy.CustomerToAgent = MaskPolicy{Mode: MaskOff}
	in, err := a.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.StartCapture(in.ID, CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	a.mediaOf(t, 0).key("4111")
	snap, err := a.reg.Snapshot(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.reg.Restore(snap, Move{From: "a", Reason: MoveTakeover})
	if err != nil {
		t.Fatal(err)
	}
	if got.Capture.On || got.Capture.Count != 0 || !got.Moves[0].CaptureAbandoned {
		t.Errorf("capture %+v, move %+v: want off, no digits, abandoned", got.Capture, got.Moves[0])
	}
	if p, _ := b.mediaOf(t, 0).masking(CustomerToAgent); p.Mode != MaskTone {
		t.Errorf("agent's ear %+v, want masked (tone)", p)
	}
	b.recMu.Lock()
	defer b.recMu.Unlock()
	if len(b.abandons) != 1 || b.abandons[0] != StopMoved {
		t.Errorf("abandoned captures %v, want [moved]", b.abandons)
	}
}

// TestRelinquish: the node that loses a session (another holds a newer claim, or it
// handed it over) ends it with reason moved: watchers hear it, a running capture is
// abandoned for that reason, and the change says moved, so the directory keeps the session.
func TestRelinquish(t *testing.T) {
	a := newNode(t, "a")
	in, err := a.reg.Create(spec("call-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.reg.StartCapture(in.ID, CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, _, _ := a.reg.Watch(context.Background(), in.ID)
	next(t, ch)
	if _, err := a.reg.Relinquish(in.ID, "cluster"); err != nil {
		t.Fatal(err)
	}
	var ended Event
	for e := range ch {
		if e.Kind == EventEnded {
			ended = e
		}
	}
	if ended.Reason != EndMoved {
		t.Fatalf("ended %+v, want reason moved", ended)
	}
	if _, isEnded, reason := a.changed(in.ID); !isEnded || reason != EndMoved {
		t.Errorf("last change: ended %v reason %v", isEnded, reason)
	}
	if a.mediaOf(t, 0).closed.Load() != 1 {
		t.Error("media not closed")
	}
	if len(a.abandons) != 1 || a.abandons[0] != StopMoved {
		t.Errorf("abandoned %v", a.abandons)
	}
	if _, err := a.reg.Relinquish(in.ID, "cluster"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second relinquish: %v", err)
	}
}

// TestRestoreRefused: a restore whose port the old node still holds fails with
// ErrPortUnavailable and leaves nothing behind; a session already here, or a draining
// node, refuses it.
func TestRestoreRefused(t *testing.T) {
	a, b := newNode(t, "a"), newNode(t, "b")
	in, err := a.reg.Create(spec("call-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := a.reg.Snapshot(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	// b's first port is held by a call of its own.
	if _, err := b.reg.Create(spec("other", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Restore(snap, Move{From: "a"}); !errors.Is(err, ErrPortUnavailable) {
		t.Fatalf("restore on a held port: %v", err)
	}
	if b.reg.Len() != 1 {
		t.Fatalf("%d sessions after a failed restore", b.reg.Len())
	}
	// On a itself, the session is there already.
	if _, err := a.reg.Restore(snap, Move{From: "a"}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("restore of a session that runs here: %v", err)
	}
	c := newNode(t, "c")
	c.reg.StartDrain()
	if _, err := c.reg.Restore(snap, Move{From: "a"}); !errors.Is(err, ErrDraining) {
		t.Errorf("restore on a draining node: %v", err)
	}
}

// TestRestoredSetupTimeout: the setup timeout of a session that moved runs from the move,
// not from the call's creation long before: a call an hour old is not ended at once for
// want of a packet on its new node.
func TestRestoredSetupTimeout(t *testing.T) {
	a, b := newNode(t, "a"), newNode(t, "b")
	in, err := a.reg.Create(spec("call-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := a.reg.Snapshot(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Hour)
	if _, err := b.reg.Restore(snap, Move{From: "a"}); err != nil {
		t.Fatal(err)
	}
	if n := b.reg.ReapIdle(); n != 0 {
		t.Fatalf("reaped %d right after the move", n)
	}
	b.clock.Advance(time.Minute)
	if n := b.reg.ReapIdle(); n != 1 {
		t.Fatalf("reaped %d a minute (the idle timeout) after the move without media, want 1", n)
	}
}

// TestRestoreSRTPWithoutKeys: a snapshot whose SRTP leg's keys were left out (the session
// directory holds none) restores the leg as SRTP with no keys, so the media drops its
// packets and sends it nothing rather than running it as plain RTP; the move names the
// leg. A blocked direction starts blocked, and a snapshot of the restored session still
// says the leg is SRTP, so a second move keeps it failing closed.
func TestRestoreSRTPWithoutKeys(t *testing.T) {
	a, b := newNode(t, "a"), newNode(t, "b")
	in, err := a.reg.Create(spec("call-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	block := FlowBlock
	if _, err := a.reg.Update(in.ID, Update{Flows: [2]*MediaFlow{AgentToCustomer: &block}}); err != nil {
		t.Fatal(err)
	}
	snap, err := a.reg.Snapshot(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	snap.Legs[Agent].SRTPKeysDropped = true // as the session directory gives it
	got, err := b.reg.Restore(snap, Move{From: "a", Reason: MoveTakeover})
	if err != nil {
		t.Fatal(err)
	}
	m := b.mediaOf(t, 0)
	if k := m.spec.Agent.SRTP; k == nil || !k.Recv.IsZero() || !k.Send.IsZero() {
		t.Fatalf("agent leg's media SRTP %v, want SRTP without keys", k)
	}
	if m.spec.Customer.SRTP != nil {
		t.Error("the plain customer leg became SRTP")
	}
	if got.Agent.SRTP == nil {
		t.Error("the session reports the agent's leg as plain RTP")
	}
	if mv := got.Moves[0]; len(mv.SRTPWithoutKeys) != 1 || mv.SRTPWithoutKeys[0] != Agent {
		t.Errorf("move %+v, want the agent's leg named SRTP without keys", mv)
	}
	if p := m.spec.Masking[AgentToCustomer]; p.Flow != FlowBlock {
		t.Errorf("media started with agent->customer %+v, want blocked", p)
	}
	snap2, err := b.reg.Snapshot(in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap2.Legs[Agent].Spec.SRTP == nil {
		t.Error("the restored session's snapshot lost that the agent's leg is SRTP")
	}
}
