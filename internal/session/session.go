package session

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/hushmedia/hush/media/srtp"
)

// watchBuffer is how many events a watcher may fall behind before it is cut off.
const watchBuffer = 256

// Session is one call. Its fields are guarded by mu except the immutable identity.
type Session struct {
	id, callID, agentID string
	labels              map[string]string
	created             time.Time
	// since is when this node began to run the session: its creation, or its move here.
	// The setup timeout runs from it.
	since time.Time
	reg   *Registry
	media Media

	mu     sync.Mutex
	legs   [2]LegSpec
	policy Policy
	state  State // 0 (active) until ended
	final  Info
	seq    uint64
	subs   map[*subscriber]struct{}
	cap    capture
	keys   []byte // the agent's last keys, for the capture trigger
	rec    recState
	// late is the media's recording tap of a session that runs unrecorded on a hushd
	// that records, so a recording can start during the call (late.go); nil otherwise.
	late  *lateRecorder
	moves []Move
	act   activity
}

type subscriber struct {
	ch     chan Event
	lagged bool
	closed bool
}

func (s *Session) info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infoLocked()
}

func (s *Session) infoLocked() Info {
	if s.state == Ended {
		return s.final
	}
	in := Info{
		ID: s.id, CallID: s.callID, AgentID: s.agentID, Labels: s.labels,
		Policy: s.policy, State: Active, Created: s.created, Capture: s.cap.info(),
		Recording: s.rec.info(), Warnings: s.warningsLocked(),
		Node: s.reg.cfg.Node, Moves: append([]Move(nil), s.moves...),
	}
	for l := Customer; l <= Agent; l++ {
		li := in.Leg(l)
		li.LegSpec = s.legs[l].clone()
		li.Local, li.LocalRTCP = s.media.Local(l)
		if addr, latched := s.media.Remote(l); latched {
			li.Remote, li.Latched = addr, true
		}
		li.Stats = s.media.Stats(l)
	}
	return in
}

// publishLocked sends an event to every watcher without blocking; a watcher whose buffer is
// full is cut off (it re-watches for a fresh snapshot) so one slow client never stalls others.
func (s *Session) publishLocked(e Event) {
	s.seq++
	e.SessionID, e.Seq = s.id, s.seq
	if e.Time.IsZero() {
		e.Time = s.reg.now()
	}
	for sub := range s.subs {
		select {
		case sub.ch <- e:
		default:
			sub.lagged = true
			s.closeSubLocked(sub)
		}
	}
	s.changedLocked(e.Kind == EventEnded, e.Reason)
}

// changedLocked tells Hooks.Changed (the session directory) that the session changed.
func (s *Session) changedLocked(ended bool, reason EndReason) {
	if h := s.reg.cfg.Hooks.Changed; h != nil {
		h(Change{ID: s.id, Ended: ended, Reason: reason})
	}
}

func (s *Session) closeSubLocked(sub *subscriber) {
	if !sub.closed {
		sub.closed = true
		close(sub.ch)
	}
	delete(s.subs, sub)
}

func (s *Session) watch(ctx context.Context) (<-chan Event, func() bool, error) {
	sub := &subscriber{ch: make(chan Event, watchBuffer)}
	s.mu.Lock()
	if s.state == Ended {
		s.mu.Unlock()
		return nil, nil, ErrNotFound
	}
	snap := s.infoLocked()
	s.seq++
	sub.ch <- Event{SessionID: s.id, Seq: s.seq, Time: s.reg.now(), Kind: EventSnapshot, Session: &snap}
	// A session that moved here says so to every new watcher (one that followed it from
	// its old node, above all): the snapshot, then its last move.
	if n := len(s.moves); n > 0 {
		mv := s.moves[n-1]
		s.seq++
		sub.ch <- Event{SessionID: s.id, Seq: s.seq, Time: mv.At, Kind: EventMoved, Move: &mv}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		s.closeSubLocked(sub)
		s.mu.Unlock()
	}()
	lagged := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return sub.lagged
	}
	return sub.ch, lagged, nil
}

// onLatch runs on a packet goroutine: it must only take the session lock briefly.
func (s *Session) onLatch(l Leg, media string, addr netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return
	}
	s.publishLocked(Event{Kind: EventLatched, Leg: l, Addr: addr, Media: media})
	s.reg.log.Info("leg latched", "session_id", s.id, "leg", l.String(), "media", media, "remote", addr)
}

// onLatchReject runs on a packet goroutine, rarely (log-scale): a possible hijack attempt.
func (s *Session) onLatchReject(l Leg, reason string, addr netip.AddrPort, count uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return
	}
	s.publishLocked(Event{Kind: EventLatchRejected, Leg: l, Addr: addr, LatchReason: reason, LatchRejects: count})
	s.reg.log.Warn("media from a source refused as the leg's remote", "session_id", s.id, "leg", l.String(),
		"reason", reason, "source", addr, "refused", count)
}

func (s *Session) update(u Update) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return Info{}, ErrNotFound
	}
	var paths []string
	for l, lu := range [2]*LegUpdate{u.Customer, u.Agent} {
		if lu == nil {
			continue
		}
		leg := Leg(l)
		next, changed := applyLeg(s.legs[leg], lu, leg.String())
		if len(changed) == 0 {
			continue
		}
		if err := s.media.SetLeg(leg, next); err != nil {
			return Info{}, fmt.Errorf("update %s leg: %w", leg, err)
		}
		s.legs[leg] = next
		paths = append(paths, changed...)
	}
	if u.Policy != nil && u.Policy.Recording.Off != s.policy.Recording.Off {
		return Info{}, fmt.Errorf("%w: policy.recording is fixed when the session is created", ErrInvalid)
	}
	if u.Policy != nil && u.Policy.Recording.AutoPauseOnDTMF && !s.policy.Recording.AutoPauseOnDTMF {
		for _, d := range []Direction{CustomerToAgent, AgentToCustomer} {
			if err := s.media.WatchKeys(d); err != nil {
				return Info{}, fmt.Errorf("update policy: %w", err)
			}
		}
	}
	if err := checkFlows(&u); err != nil {
		return Info{}, err
	}
	if u.Policy != nil && *u.Policy != s.policy {
		if err := s.applyMaskingLocked(*u.Policy); err != nil {
			return Info{}, fmt.Errorf("update policy: %w", err)
		}
		s.noteFlowsLocked(s.policy, *u.Policy, u.Actor, u.RequestID)
		s.policy = *u.Policy
		paths = append(paths, "policy")
	}
	fp, err := s.updateFlowsLocked(&u)
	if err != nil {
		return Info{}, err
	}
	paths = append(paths, fp...)
	in := s.infoLocked()
	if len(paths) > 0 {
		snap := in
		s.publishLocked(Event{Kind: EventUpdated, Actor: u.Actor, RequestID: u.RequestID, Paths: paths, Session: &snap})
	}
	return in, nil
}

func applyLeg(cur LegSpec, u *LegUpdate, prefix string) (LegSpec, []string) {
	next := cur.clone()
	var changed []string
	if u.Remote != nil && *u.Remote != cur.Remote {
		next.Remote = *u.Remote
		changed = append(changed, prefix+".remote_addr")
	}
	if u.ExpectedIP != nil && *u.ExpectedIP != cur.ExpectedIP {
		next.ExpectedIP = *u.ExpectedIP
		changed = append(changed, prefix+".expected_ip")
	}
	if u.RemoteRTCP != nil && *u.RemoteRTCP != cur.RemoteRTCP {
		next.RemoteRTCP = *u.RemoteRTCP
		changed = append(changed, prefix+".remote_rtcp_addr")
	}
	if u.Codecs != nil && !sameCodecs(u.Codecs, cur.Codecs) {
		next.Codecs = LegSpec{Codecs: u.Codecs}.clone().Codecs
		changed = append(changed, prefix+".codecs")
	}
	if u.TelephoneEventPT != nil && *u.TelephoneEventPT != cur.TelephoneEventPT {
		next.TelephoneEventPT = *u.TelephoneEventPT
		changed = append(changed, prefix+".telephone_event_pt")
	}
	if u.RTCPMux != nil && *u.RTCPMux != cur.RTCPMux {
		next.RTCPMux = *u.RTCPMux
		changed = append(changed, prefix+".rtcp_mux")
	}
	if u.SetSRTP && !sameKeys(u.SRTP, cur.SRTP) {
		next.SRTP = u.SRTP
		changed = append(changed, prefix+".srtp")
	}
	return next, changed
}

func sameKeys(a, b *srtp.Keys) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Recv.Equal(b.Recv) && a.Send.Equal(b.Send)
}

func sameCodecs(a, b map[uint8]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// end ends the session once. It reports whether this call ended it.
func (s *Session) end(reason EndReason, actor, requestID string) (Info, bool) {
	s.mu.Lock()
	if s.state == Ended {
		in := s.final
		s.mu.Unlock()
		return in, false
	}
	// Take the last stats before the media goes away.
	now := s.reg.now()
	final := s.infoLocked()
	final.State, final.EndedAt, final.EndReason = Ended, now, reason
	final.Capture.On = false
	s.state, s.final = Ended, final
	// Digits never outlive the call; a collecting payment client is told it is over.
	if s.cap.on {
		why := StopSessionEnded
		if reason == EndMoved {
			why = StopMoved
		}
		s.abandonedLocked(actor, requestID, why)
	}
	s.cap.on = false
	s.cap.zero()
	s.cap.n, s.cap.delivered = 0, 0
	if s.cap.signal != nil {
		s.cap.wake()
	}
	s.mu.Unlock()

	// Without the lock: closing waits for packet goroutines, which may be in onLatch.
	_ = s.media.Close()
	// No packet goroutine writes to the recording any more: finish it.
	s.closeRecording()

	s.mu.Lock()
	// Counters may have moved while the media was closing.
	for l := Customer; l <= Agent; l++ {
		final.Leg(l).Stats = s.media.Stats(l)
	}
	s.endActivityLocked(s.reg.now(), final.Customer.Stats.RTPPacketsReceived+final.Agent.Stats.RTPPacketsReceived,
		s.reg.cfg.Recorder != nil && !s.policy.Recording.Off)
	if s.rec.state != RecordingFailed {
		s.rec.state = RecordingStopped
	}
	final.Recording = s.rec.info()
	s.final = final
	snap := final
	s.publishLocked(Event{Kind: EventEnded, Reason: reason, Actor: actor, RequestID: requestID, Session: &snap})
	for sub := range s.subs {
		s.closeSubLocked(sub)
	}
	s.mu.Unlock()

	s.reg.removed(s, reason, final)
	s.logEnd(&final, actor, requestID)
	return final, true
}

// applyMaskingLocked tells the media the masking of policy p, keeping capture's masking of
// the customer->agent direction while capture is on.
func (s *Session) applyMaskingLocked(p Policy) error {
	if err := s.media.SetMasking(AgentToCustomer, p.AgentToCustomer, false); err != nil {
		return err
	}
	if s.cap.begun {
		old := s.policy
		s.policy = p
		defer func() { s.policy = old }()
		return s.media.SetMasking(CustomerToAgent, s.captureMaskLocked(), s.cap.on)
	}
	return s.media.SetMasking(CustomerToAgent, p.CustomerToAgent, false)
}

// idleSince reports whether the session has timed out at now, and whether its media ever
// started: before the first packet the setup timeout runs from creation, after it the
// idle timeout from the last packet.
func (s *Session) idleSince(now time.Time) (timedOut, started bool) {
	s.mu.Lock()
	idle := s.policy.IdleTimeout
	ended := s.state == Ended
	s.mu.Unlock()
	if ended || idle <= 0 {
		return false, false
	}
	last := s.media.LastActivity()
	if last.IsZero() {
		return now.Sub(s.since) >= s.setupTimeout(), false
	}
	if last.Before(s.since) {
		last = s.since
	}
	return now.Sub(last) >= idle, true
}

// setupTimeout is how long the session may wait for its first packet.
func (s *Session) setupTimeout() time.Duration {
	s.mu.Lock()
	idle := s.policy.IdleTimeout
	s.mu.Unlock()
	return max(s.reg.cfg.SetupTimeout, idle)
}
