package session

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Agent-activity monitoring. hush sees what is done to a call's recording and payment, and
// flags what a compliance officer would want to know of: each flag is an event on the
// session's watch stream (EventSuspicious), a warning in the log, a count by reason
// (Hooks.Suspected, for hush_agent_suspicious_total{reason}) and, off the session's lock,
// a record for the audit trail (Hooks.Suspicion). A flag names the session, call and
// agent; the metric only its reason, so label sets stay bounded however many agents work.

// Suspicion reasons. SuspicionReasons lists them all; nothing else is ever a reason.
const (
	// SuspectPauseTooLong: a pause lasted longer than the policy's max_pause (or
	// MonitorConfig.MaxPause when the policy sets none).
	SuspectPauseTooLong = "pause_too_long"
	// SuspectPauseOutsidePayment: a pause with no secure capture and no key press by the
	// customer within MonitorConfig.PaymentWindow of it (before, during or after).
	SuspectPauseOutsidePayment = "pause_outside_payment"
	// SuspectManyPauses: one agent paused more than MonitorConfig.PausesPerHour times
	// within an hour.
	SuspectManyPauses = "many_pauses"
	// SuspectCaptureAbandoned: a secure capture was stopped by a request, or by the call's
	// end, before it completed.
	SuspectCaptureAbandoned = "capture_abandoned"
	// SuspectAgentKeyedInCapture: keys came from the agent's phone while a secure capture
	// was on (once per capture).
	SuspectAgentKeyedInCapture = "agent_keyed_during_capture"
	// SuspectRecordingFailed: the recording could not start or failed during the call.
	SuspectRecordingFailed = "recording_failed"
	// SuspectNotRecorded: a call that should have been recorded had media but none of it
	// was recorded (the recording failed, or was paused throughout).
	SuspectNotRecorded = "not_recorded"
	// SuspectUnexpectedSource: an agent controlled a call from a source (IP address or
	// client certificate) other than the one it first controlled the call from.
	SuspectUnexpectedSource = "unexpected_control_source"
)

// SuspicionReasons are every reason a flag may have, for metrics to create at start.
var SuspicionReasons = []string{SuspectPauseTooLong, SuspectPauseOutsidePayment, SuspectManyPauses,
	SuspectCaptureAbandoned, SuspectAgentKeyedInCapture, SuspectRecordingFailed, SuspectNotRecorded,
	SuspectUnexpectedSource}

// MonitorConfig sets agent-activity monitoring's thresholds. The zero value is off.
type MonitorConfig struct {
	Enabled bool
	// MaxPause flags a pause longer than this when the session's policy sets no max_pause
	// (0: only the policy's).
	MaxPause time.Duration
	// PaymentWindow is how close to a pause a secure capture or a customer key press must
	// be for the pause to count as part of a payment.
	PaymentWindow time.Duration
	// PausesPerHour flags an agent's pauses beyond this many within an hour (0: off).
	PausesPerHour int
}

// Suspicion is one flag, as the audit trail records it. Detail says what was seen in
// words, never card data.
type Suspicion struct {
	Reason                     string
	SessionID, CallID, AgentID string
	Actor, RequestID           string // who did it, and with which request, when known
	Detail                     string
	Time                       time.Time
}

// Control is one control request (pause, resume, capture) as the API saw it, for the
// unexpected-source check.
type Control struct {
	Actor, RequestID string
	// Source is where the request came from: the caller's IP address and, with a client
	// certificate, its fingerprint. Empty: unknown, not checked.
	Source string
}

// maxSources bounds the control sources remembered per caller and session.
const maxSources = 8

// maxPending bounds the ended pauses of a session awaiting their payment window.
const maxPending = 8

// suspicionQueue bounds the flags waiting for the audit trail.
const suspicionQueue = 1024

// endedPause is a manual pause that ended; it is judged once its payment window passed.
type endedPause struct {
	start, end       time.Time
	actor, requestID string
}

// activity is a session's monitoring state, guarded by the session's lock except keyAt.
type activity struct {
	// keyAt is when a key press was last seen on each leg (unix ns): the recording tap's
	// mask spans, on packet goroutines, and captured digits.
	keyAt [2]atomic.Int64
	// pause is the manual pause in progress (zero start: none).
	pause        endedPause
	pauseFlagged bool // flagged as too long
	pending      []endedPause
	capAt        time.Time // last start or stop of a secure capture
	agentKeyed   bool      // flagged in the current capture
	sources      map[string][]string
	// Packets received while the recording was active, for not_recorded: recPackets
	// counts finished active spans, recMark is the count when the current one began.
	recPackets, recMark uint64
	// What the session did, for its end-of-call log line (counts only).
	pauses, captures, digits, suspicions int
}

func (r *Registry) monitoring() bool { return r.cfg.Monitor.Enabled }

// flagLocked raises a suspicion on the session: the event, the count, the log line, and the
// audit record queued for delivery off the lock.
func (s *Session) flagLocked(reason, actor, requestID, detail string) {
	r := s.reg
	if !r.monitoring() {
		return
	}
	now := r.now()
	sus := Suspicion{Reason: reason, SessionID: s.id, CallID: s.callID, AgentID: s.agentID,
		Actor: actor, RequestID: requestID, Detail: detail, Time: now}
	s.act.suspicions++
	if h := r.cfg.Hooks.Suspected; h != nil {
		h(reason)
	}
	s.publishLocked(Event{Kind: EventSuspicious, Actor: actor, RequestID: requestID, Time: now, Suspicion: sus})
	r.log.Warn("suspicious agent activity", "reason", reason, "session_id", s.id, "call_id", s.callID,
		"agent_id", s.agentID, "actor", actor, "request_id", requestID, "detail", detail)
	select {
	case r.suspicions <- sus:
	default:
		r.SuspicionsLost.Add(1)
		r.log.Error("suspicious agent activity not audited: queue full", "reason", reason, "session_id", s.id)
	}
}

// deliverSuspicions hands queued flags to Hooks.Suspicion until ctx is done, then the ones
// still queued.
func (r *Registry) deliverSuspicions(ctx context.Context) {
	h := r.cfg.Hooks.Suspicion
	for {
		select {
		case sus := <-r.suspicions:
			if h != nil {
				h(sus)
			}
		case <-ctx.Done():
			for {
				select {
				case sus := <-r.suspicions:
					if h != nil {
						h(sus)
					}
				default:
					return
				}
			}
		}
	}
}

// noteKey records a key press on a leg: on a packet goroutine (recording mask spans) or the
// digit goroutine. Only the time is kept.
func (s *Session) noteKey(l Leg) {
	s.act.keyAt[l].Store(s.reg.now().UnixNano())
}

// keySince reports whether the leg keyed at or after t.
func (s *Session) keySince(l Leg, t time.Time) bool {
	at := s.act.keyAt[l].Load()
	return at != 0 && at >= t.UnixNano()
}

// paymentNearLocked reports whether a pause from start counts as part of a payment: a
// capture is on, or one started or stopped, or the customer keyed, within the window
// before start or since.
func (s *Session) paymentNearLocked(start time.Time) bool {
	from := start.Add(-s.reg.cfg.Monitor.PaymentWindow)
	return s.cap.on || !s.act.capAt.IsZero() && !s.act.capAt.Before(from) || s.keySince(Customer, from)
}

// onPauseLocked runs when a manual pause begins (not hush's automatic pauses on DTMF).
func (s *Session) onPauseLocked(actor, requestID string, now time.Time) {
	if !s.reg.monitoring() {
		return
	}
	s.act.pause = endedPause{start: now, actor: actor, requestID: requestID}
	s.act.pauseFlagged = false
	if n, over := s.reg.pauses.add(s.pauseOwner(actor), now, s.reg.cfg.Monitor.PausesPerHour); over {
		s.flagLocked(SuspectManyPauses, actor, requestID,
			fmt.Sprintf("%d pauses by agent %s within an hour (more than %d)", n, s.pauseOwner(actor), s.reg.cfg.Monitor.PausesPerHour))
	}
}

// pauseOwner is whose pauses count toward many_pauses: the session's agent, else the caller.
func (s *Session) pauseOwner(actor string) string {
	if s.agentID != "" {
		return s.agentID
	}
	return actor
}

// onResumeLocked runs when a paused recording resumes (by request, automatically, or at
// the session's end with end set).
func (s *Session) onResumeLocked(now time.Time, received uint64) {
	s.recActiveLocked(received)
	p := s.act.pause
	if !s.reg.monitoring() || p.start.IsZero() {
		return
	}
	s.act.pause = endedPause{}
	p.end = now
	if s.paymentNearLocked(p.start) {
		return
	}
	if len(s.act.pending) == maxPending {
		s.judgePauseLocked(s.act.pending[0], true)
		s.act.pending = s.act.pending[1:]
	}
	s.act.pending = append(s.act.pending, p)
	s.judgePendingLocked(now, false)
}

// judgePendingLocked decides ended pauses whose payment window has passed (all of them
// when final: the session ended).
func (s *Session) judgePendingLocked(now time.Time, final bool) {
	w := s.reg.cfg.Monitor.PaymentWindow
	keep := s.act.pending[:0]
	for _, p := range s.act.pending {
		if final || !now.Before(p.end.Add(w)) {
			s.judgePauseLocked(p, final)
			continue
		}
		keep = append(keep, p)
	}
	s.act.pending = keep
}

func (s *Session) judgePauseLocked(p endedPause, final bool) {
	if s.paymentNearLocked(p.start) {
		return
	}
	detail := fmt.Sprintf("recording paused for %s with no secure capture and no key press by the customer within %s of it",
		p.end.Sub(p.start).Round(time.Millisecond), s.reg.cfg.Monitor.PaymentWindow)
	if final && p.end.IsZero() {
		detail = "recording paused until the call ended, with no secure capture and no key press by the customer"
	}
	s.flagLocked(SuspectPauseOutsidePayment, p.actor, p.requestID, detail)
}

// checkActivity runs on the registry's tick: pauses too long, and ended pauses whose
// payment window has passed.
func (s *Session) checkActivity(now time.Time) {
	if !s.reg.monitoring() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return
	}
	s.judgePendingLocked(now, false)
	p := s.act.pause
	limit := s.policy.Recording.MaxPause
	if limit <= 0 {
		limit = s.reg.cfg.Monitor.MaxPause
	}
	if p.start.IsZero() || s.act.pauseFlagged || limit <= 0 || now.Sub(p.start) < limit {
		return
	}
	s.act.pauseFlagged = true
	s.flagLocked(SuspectPauseTooLong, p.actor, p.requestID,
		fmt.Sprintf("recording paused for more than %s", limit))
}

// onCaptureLocked runs when a secure capture starts or stops.
func (s *Session) onCaptureLocked(started bool) {
	if !s.reg.monitoring() {
		return
	}
	s.act.capAt = s.reg.now()
	if started {
		s.act.agentKeyed = false
		// The agent's keys are not card data: watch them for keying during capture.
		if err := s.media.WatchKeys(AgentToCustomer); err != nil {
			s.reg.log.Error("cannot watch the agent's keys during capture", "session_id", s.id, "err", err)
		}
	}
}

// onAgentKeyInCaptureLocked runs when the agent keys while capture is on.
func (s *Session) onAgentKeyInCaptureLocked() {
	if s.act.agentKeyed {
		return
	}
	s.act.agentKeyed = true
	s.flagLocked(SuspectAgentKeyedInCapture, "", "",
		fmt.Sprintf("the agent's phone sent a key press during secure capture (after %d digits)", s.cap.n))
}

// received is the count of RTP packets the session's legs have received.
func (s *Session) received() uint64 {
	if s.media == nil {
		return 0
	}
	return s.media.Stats(Customer).RTPPacketsReceived + s.media.Stats(Agent).RTPPacketsReceived
}

// recInactiveLocked ends a span of active recording at received packets.
func (s *Session) recInactiveLocked(received uint64) {
	s.act.recPackets += received - min(received, s.act.recMark)
}

// recActiveLocked starts a span of active recording at received packets.
func (s *Session) recActiveLocked(received uint64) { s.act.recMark = received }

// endActivityLocked runs once the session's media has stopped: pauses still open or
// awaiting their window are judged, and a call that should have been recorded and was
// not is flagged.
func (s *Session) endActivityLocked(now time.Time, received uint64, recordingWanted bool) {
	if s.rec.state == RecordingActive {
		s.recInactiveLocked(received)
	}
	if !s.reg.monitoring() {
		return
	}
	if p := s.act.pause; !p.start.IsZero() {
		s.act.pause = endedPause{}
		if !s.paymentNearLocked(p.start) {
			s.act.pending = append(s.act.pending, p)
		}
	}
	s.judgePendingLocked(now, true)
	if !recordingWanted || received == 0 || s.act.recPackets > 0 {
		return
	}
	why := "the recording was paused for all of the call's media"
	switch {
	case s.rec.rec == nil:
		why = "the recording could not start"
	case s.rec.state == RecordingFailed:
		why = "the recording failed before any audio was recorded"
	}
	s.flagLocked(SuspectNotRecorded, "", "", fmt.Sprintf("%s (%d packets received)", why, received))
}

// NoteControl checks where a control request on a session came from: an agent's first
// control of a call sets its source, a later one from another source (another IP address,
// another client certificate) is flagged once per source. Unknown sessions are ignored:
// the request itself reports them.
func (r *Registry) NoteControl(id string, c Control) {
	if !r.monitoring() || c.Source == "" || c.Actor == "" {
		return
	}
	s, err := r.lookup(id)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return
	}
	if s.act.sources == nil {
		s.act.sources = make(map[string][]string)
	}
	seen := s.act.sources[c.Actor]
	switch {
	case len(seen) == 0:
		if len(s.act.sources) < maxSources {
			s.act.sources[c.Actor] = []string{c.Source}
		}
		return
	case slices.Contains(seen, c.Source):
		return
	case len(seen) < maxSources:
		s.act.sources[c.Actor] = append(seen, c.Source)
	}
	s.flagLocked(SuspectUnexpectedSource, c.Actor, c.RequestID,
		fmt.Sprintf("control of the call from %s; this caller's first control of it came from %s", c.Source, seen[0]))
}

// pauseRate counts manual pauses per agent over the last hour, bounded: at most
// maxAgents agents and PausesPerHour+1 times per agent are kept.
type pauseRate struct {
	mu      sync.Mutex
	byAgent map[string]*agentPauses
	swept   time.Time
}

type agentPauses struct {
	times   []time.Time // oldest first
	flagged time.Time   // the last flag; one per hour at most
}

// maxAgents bounds the agents whose pauses are counted; beyond it the least recently
// pausing are forgotten.
const maxAgents = 100000

// add counts a pause by agent at now and reports how many fell within the hour and
// whether that is over limit (once per agent and hour).
func (p *pauseRate) add(agent string, now time.Time, limit int) (int, bool) {
	if limit <= 0 || agent == "" {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byAgent == nil {
		p.byAgent = make(map[string]*agentPauses)
	}
	from := now.Add(-time.Hour)
	if now.Sub(p.swept) >= time.Minute || len(p.byAgent) >= maxAgents {
		p.sweep(from)
		p.swept = now
	}
	a := p.byAgent[agent]
	if a == nil {
		a = &agentPauses{}
		p.byAgent[agent] = a
	}
	a.times = append(a.times, now)
	i := 0
	for i < len(a.times) && a.times[i].Before(from) {
		i++
	}
	if keep := limit + 1; len(a.times)-i > keep {
		i = len(a.times) - keep
	}
	a.times = append(a.times[:0], a.times[i:]...)
	n := len(a.times)
	if n <= limit || !a.flagged.IsZero() && !a.flagged.Before(from) {
		return n, false
	}
	a.flagged = now
	return n, true
}

// sweep forgets agents with no pause since from, and when still full the ones whose last
// pause is oldest.
func (p *pauseRate) sweep(from time.Time) {
	for k, a := range p.byAgent {
		if last := a.times[len(a.times)-1]; last.Before(from) && a.flagged.Before(from) {
			delete(p.byAgent, k)
		}
	}
	if len(p.byAgent) < maxAgents {
		return
	}
	// Still full: forget the tenth whose last pause is oldest, so this runs rarely.
	type last struct {
		agent string
		at    time.Time
	}
	all := make([]last, 0, len(p.byAgent))
	for k, a := range p.byAgent {
		all = append(all, last{k, a.times[len(a.times)-1]})
	}
	slices.SortFunc(all, func(a, b last) int { return a.at.Compare(b.at) })
	for _, l := range all[:len(all)/10+1] {
		delete(p.byAgent, l.agent)
	}
}

// len is the number of agents counted (tests).
func (p *pauseRate) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byAgent)
}

// logEnd writes the one line of a session's end with its counters: packets, drops by
// reason, masked time, pauses, captures and flags; counts only, never a digit.
func (s *Session) logEnd(f *Info, actor, requestID string) {
	s.mu.Lock()
	pauses, captures, digits, flags := s.act.pauses, s.act.captures, s.act.digits, s.act.suspicions
	s.mu.Unlock()
	attrs := []any{"session_id", s.id, "call_id", s.callID, "agent_id", s.agentID,
		"reason", f.EndReason.String(), "actor", actor, "request_id", requestID,
		"duration", f.EndedAt.Sub(s.created).Round(time.Millisecond),
		"recording", f.Recording.State.String(), "pauses", pauses, "captures", captures,
		"digits_captured", digits, "suspicious", flags}
	for l := Customer; l <= Agent; l++ {
		st := f.Leg(l).Stats
		drops := make([]any, 0, len(st.Drops))
		for _, d := range st.Drops {
			drops = append(drops, slog.Uint64(d.Reason, d.N))
		}
		attrs = append(attrs, slog.Group(l.String(),
			"rtp_in", st.RTPPacketsReceived, "rtp_out", st.RTPPacketsSent,
			"rtcp_in", st.RTCPPacketsReceived, "rtcp_out", st.RTCPPacketsSent,
			"dropped", st.PacketsDropped, slog.Group("drops", drops...),
			"latch_rejected", st.LatchRejected,
			"masked_seconds", float64(st.MaskedSamples)/8000))
	}
	s.reg.log.Info("session ended", attrs...)
}
