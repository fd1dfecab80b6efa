package session

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/hushmedia/hush/media/srtp"
)

// Moving a session between nodes: the node that runs a call writes its Snapshot to the
// session directory on every change (Hooks.Changed says when); another node that takes
// the call over (its owner crashed, or handed it over in a drain) restores it from the
// last snapshot with Restore, and the old node, if it still runs, lets go of it with
// Relinquish. Card digits are never in a snapshot: they live in one node's memory only.

// Move reasons.
const (
	// MoveTakeover: the node that ran the session stopped (a crash, a lost lease); this
	// node took the call over from the session directory.
	MoveTakeover = "takeover"
	// MoveHandoff: the node that ran the session handed it over while draining.
	MoveHandoff = "handoff"
)

// Move is one move of a session from node to node.
type Move struct {
	From, To string // node names
	Reason   string // MoveTakeover or MoveHandoff
	At       time.Time
	// RecordingID is the recording segment the session goes on in on the new node;
	// PreviousRecordingID the segment the old node wrote (both empty when not recorded).
	RecordingID, PreviousRecordingID string
	// CaptureAbandoned: a secure capture was running; it stopped with the move (the
	// digits stayed in the old node's memory) and the agent's ear stays masked.
	CaptureAbandoned bool
	// SRTPWithoutKeys are the SRTP legs whose keys did not come with the session (a
	// session directory never holds key material): each stays SRTP with no key, so its
	// packets are dropped (srtp_no_key) and nothing is sent to it, never plain, until
	// signalling gives the leg new keys.
	SRTPWithoutKeys []Leg
}

// Snapshot is what another node needs to carry a session on: who it is, its legs as the
// platform gave them and as hush bound and learned them, its policy, and its capture and
// recording state. Never digits, never counters.
type Snapshot struct {
	ID, CallID, AgentID string
	Labels              map[string]string
	Created             time.Time
	Legs                [2]SnapshotLeg // by Leg
	Policy              Policy
	// CaptureBegun: a capture began on the session, so the agent's ear stays masked for
	// the rest of it; CaptureOn: one is running now.
	CaptureBegun, CaptureOn bool
	Recording               SnapshotRecording
	Moves                   []Move
}

// SnapshotLeg is one leg of a Snapshot.
type SnapshotLeg struct {
	Spec LegSpec // as the platform gave it
	// Local is the RTP address bound (RTCP on the port above, or the same with rtcp-mux).
	Local netip.AddrPort
	// Remote and RemoteRTCP are where the leg's media goes now (zero: not known yet);
	// Latched and RTCPLatched say they were learned from the party's packets.
	Remote, RemoteRTCP   netip.AddrPort
	Latched, RTCPLatched bool
	// SRTPKeysDropped: the leg is SRTP but its keys were left out of the snapshot (the
	// session directory stores none). Restore runs it as SRTP with no keys: it fails
	// closed rather than falling back to plain RTP.
	SRTPKeysDropped bool
}

// SnapshotRecording is the recording part of a Snapshot.
type SnapshotRecording struct {
	ID       string // the current segment; empty: not recorded
	Segment  int    // 1, or more once the session has moved
	State    RecordingState
	Behavior PauseBehavior // while paused
	PausedAt time.Time
	Auto     bool // paused automatically while keys are pressed
}

// remoteRTCPer is the part of a Media that reports where RTCP goes (media/relay's does).
type remoteRTCPer interface {
	RemoteRTCP(l Leg) (addr netip.AddrPort, latched bool)
}

// Snapshot returns an active session's state for the session directory.
func (r *Registry) Snapshot(id string) (Snapshot, error) {
	s, err := r.lookup(id)
	if err != nil {
		return Snapshot{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return Snapshot{}, ErrNotFound
	}
	snap := Snapshot{
		ID: s.id, CallID: s.callID, AgentID: s.agentID, Labels: s.labels, Created: s.created,
		Policy: s.policy, CaptureBegun: s.cap.begun, CaptureOn: s.cap.on,
		Moves: append([]Move(nil), s.moves...),
		Recording: SnapshotRecording{State: s.rec.state, Behavior: s.rec.behavior, PausedAt: s.rec.pausedAt,
			Auto: s.rec.auto, Segment: 1},
	}
	if s.rec.rec != nil {
		snap.Recording.ID = s.rec.rec.ID()
		snap.Recording.Segment = s.rec.segment
	}
	for l := Customer; l <= Agent; l++ {
		sl := &snap.Legs[l]
		sl.Spec = s.legs[l].clone()
		sl.Local, _ = s.media.Local(l)
		sl.Remote, sl.Latched = s.media.Remote(l)
		if rr, ok := s.media.(remoteRTCPer); ok {
			sl.RemoteRTCP, sl.RTCPLatched = rr.RemoteRTCP(l)
		}
	}
	return snap, nil
}

// Restore runs a session another node ran, from its last snapshot: the same id, call,
// legs (the ports the parties send to, the remotes they latched) and policy. Masking
// applies from the first packet: a direction that was masked starts masked, and once a
// capture had begun the agent's ear is masked, whatever the policy. A capture that was
// running is abandoned (reason StopMoved): its digits were in the old node's memory. A
// recorded session goes on in a new recording segment linked to the one before, paused
// if it was paused. mv says where the session comes from and why; Restore fills in the
// recording segments and Info.Moves ends with it. A port still held (the old node has
// not let go yet) fails with an error wrapping ErrPortUnavailable: retry.
func (r *Registry) Restore(snap Snapshot, mv Move) (Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	switch {
	case r.draining:
		return Info{}, ErrDraining
	case r.byID[snap.ID] != nil:
		return Info{}, fmt.Errorf("%w: session %s runs here already", ErrAlreadyExists, snap.ID)
	case r.byCall[snap.CallID] != nil:
		return Info{}, ErrAlreadyExists
	case len(r.byID) >= r.cfg.MaxSessions:
		return Info{}, fmt.Errorf("%w (%d)", ErrTooManySessions, r.cfg.MaxSessions)
	}
	if mv.At.IsZero() {
		mv.At = now
	}
	mv.To = r.cfg.Node
	s := &Session{
		id: snap.ID, callID: snap.CallID, agentID: snap.AgentID, labels: cloneLabels(snap.Labels),
		created: snap.Created, since: now, reg: r, policy: snap.Policy,
		legs: [2]LegSpec{snap.Legs[Customer].Spec.clone(), snap.Legs[Agent].Spec.clone()},
		subs: make(map[*subscriber]struct{}),
	}
	s.cap.begun = snap.CaptureBegun || snap.CaptureOn
	masking := [2]MaskPolicy{CustomerToAgent: snap.Policy.CustomerToAgent, AgentToCustomer: snap.Policy.AgentToCustomer}
	if s.cap.begun {
		masking[CustomerToAgent] = s.captureMaskLocked()
	}
	var media [2]LegSpec
	var ports [2]uint16
	for l := Customer; l <= Agent; l++ {
		sl := snap.Legs[l]
		if sl.SRTPKeysDropped || (sl.Spec.SRTP != nil && sl.Spec.SRTP.Recv.IsZero() && sl.Spec.SRTP.Send.IsZero()) {
			// No keys: an SRTP leg with none drops what it gets and sends nothing. Plain
			// RTP here would send the call's audio unencrypted, or forward ciphertext.
			s.legs[l].SRTP = &srtp.Keys{}
			mv.SRTPWithoutKeys = append(mv.SRTPWithoutKeys, l)
		}
		media[l] = s.legs[l].clone()
		if sl.Latched && sl.Remote.IsValid() {
			media[l].Remote, media[l].Latched = sl.Remote, true
			if sl.RTCPLatched {
				media[l].RemoteRTCP = sl.RemoteRTCP
			}
		}
		ports[l] = sl.Local.Port()
	}
	r.continueRecording(s, snap, &mv)
	m, err := r.cfg.Media(r.mediaSpec(s, media[Customer], media[Agent], ports, masking))
	if err != nil {
		s.closeRecording()
		return Info{}, err
	}
	s.media = m
	if err := r.watchKeys(s, m); err != nil {
		_ = m.Close()
		s.closeRecording()
		return Info{}, err
	}
	s.mu.Lock()
	if err := s.applyMaskingLocked(s.policy); err != nil {
		s.mu.Unlock()
		_ = m.Close()
		s.closeRecording()
		return Info{}, err
	}
	if snap.CaptureOn {
		mv.CaptureAbandoned = true
		if h := r.cfg.Hooks.CaptureAbandoned; h != nil {
			h(StopMoved)
		}
		r.log.Warn("secure capture stopped: the session moved while capturing", "session_id", s.id,
			"from", mv.From, "reason", StopMoved)
	}
	for _, l := range mv.SRTPWithoutKeys {
		r.log.Warn("SRTP leg taken over without its keys: its packets are dropped until signalling gives it new keys",
			"session_id", s.id, "leg", l.String(), "from", mv.From)
	}
	s.moves = append(append([]Move(nil), snap.Moves...), mv)
	s.changedLocked(false, 0)
	s.mu.Unlock()
	r.byID[s.id] = s
	r.byCall[s.callID] = s
	if h := r.cfg.Hooks.Restored; h != nil {
		h()
	}
	info := s.info()
	r.log.Info("session moved here", "session_id", s.id, "call_id", s.callID, "from", mv.From,
		"reason", mv.Reason, "customer_local", info.Customer.Local, "agent_local", info.Agent.Local,
		"recording_id", mv.RecordingID)
	return info, nil
}

// Relinquish ends a session on this node only, because it goes on elsewhere (EndMoved):
// another node holds a newer claim on it, or this node handed it over. Watchers get
// the ended event with reason moved; the session directory keeps the session.
func (r *Registry) Relinquish(id, actor string) (Info, error) {
	s, err := r.lookup(id)
	if err != nil {
		return Info{}, err
	}
	info, ended := s.end(EndMoved, actor, "")
	if !ended {
		return info, ErrNotFound
	}
	return info, nil
}

// watchKeys asks the media for the keys the session needs (a keypad trigger on the
// agent's side, auto-pause on both).
func (r *Registry) watchKeys(s *Session, m Media) error {
	watch := [2]bool{AgentToCustomer: r.cfg.CaptureTrigger != ""}
	if s.policy.Recording.AutoPauseOnDTMF && s.rec.rec != nil {
		watch = [2]bool{true, true}
	}
	for d, on := range watch {
		if on {
			if err := m.WatchKeys(Direction(d)); err != nil {
				return err
			}
		}
	}
	return nil
}

// continueRecording starts the next recording segment of a session that moved here,
// paused as it was. The call goes on without a recording when it cannot start.
func (r *Registry) continueRecording(s *Session, snap Snapshot, mv *Move) {
	prev := snap.Recording
	if r.cfg.Recorder == nil || snap.Policy.Recording.Off || prev.ID == "" {
		return
	}
	seg := max(prev.Segment, 1) + 1
	id := SegmentID(s.id, seg)
	rec, err := r.cfg.Recorder(RecorderMeta{
		SessionID: s.id, CallID: s.callID, AgentID: s.agentID, Labels: s.labels,
		RecordingID: id, Segment: seg, PreviousRecordingID: prev.ID,
		OnFailure:     func(err error) { s.recordingFailed(err) },
		OnUndecodable: func(l Leg, pt uint8) { s.undecodableAudio(l, pt) },
		Retention:     snap.Policy.Recording.Retention,
	})
	if err != nil {
		s.rec = recState{state: RecordingFailed, failure: "could not start recording"}
		r.log.Error("recording segment not started", "session_id", s.id, "segment", seg, "err", err)
		if h := r.cfg.Hooks.RecordingFailed; h != nil {
			h()
		}
		return
	}
	s.rec = recState{rec: rec, state: RecordingActive, segment: seg}
	mv.RecordingID, mv.PreviousRecordingID = id, prev.ID
	if prev.State != RecordingPaused {
		return
	}
	b := prev.Behavior
	if b == "" {
		b = PauseSilence
	}
	if _, err := rec.Pause(b, "hush", "", "paused before the session moved"); err != nil {
		r.log.Error("recording segment not paused as it was", "session_id", s.id, "err", err)
		return
	}
	s.rec.state, s.rec.behavior, s.rec.pausedAt, s.rec.auto = RecordingPaused, b, prev.PausedAt, prev.Auto
	if s.rec.pausedAt.IsZero() {
		s.rec.pausedAt = r.now()
	}
	if prev.Auto {
		s.rec.autoUntil = r.now().Add(autoPauseHold)
	}
}

// SegmentID names segment n of a session's recording: the session id for the first, then
// "<session id>-<n>".
func SegmentID(sessionID string, n int) string {
	if n <= 1 {
		return sessionID
	}
	return sessionID + "-" + strconv.Itoa(n)
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
