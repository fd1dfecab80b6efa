package session

import (
	"fmt"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/record"
)

// Recording: each session records its sanitized audio (unless policy turns it off) through a
// Recorder. The media layer hands it G.711 frames with DTMF marked for silence on packet
// goroutines (MediaSpec.Record);
// this file is the control side: pause/resume, max pause, failure, close.

// PauseBehavior is what a pause does to the recording: the recorder's own. The zero
// value is PauseSilence.
type PauseBehavior = record.PauseBehavior

// Pause behaviours; PauseSilence keeps the timeline.
const (
	PauseSilence = record.PauseSilence
	PauseSkip    = record.PauseSkip
)

// RecordingState is a session's recording state.
type RecordingState int

// Recording states.
const (
	RecordingStopped RecordingState = iota // not recording (policy off, no recorder, or ended)
	RecordingActive
	RecordingPaused
	RecordingFailed
)

// RecordWriter takes a leg's audio for the recording, one frame at a time, on a packet
// goroutine; it never blocks. Recorder is one.
type RecordWriter interface {
	Write(l Leg, ssrc, ts uint32, f *mask.RecordFrame) error
}

// Recorder is one session's recording. media/record's Recorder provides it.
type Recorder interface {
	ID() string
	RecordWriter
	Pause(b PauseBehavior, actor, requestID, reason string) (changed bool, err error)
	Resume(actor, requestID, reason string) (changed bool, err error)
	// MarkMaskRTP records a span the media layer masked, for the sidecar.
	MarkMaskRTP(l Leg, startTS, endTS uint32) error
	// Close finishes the file; it waits for the disk, so it is never called on a packet path.
	Close() error
}

// RecorderMeta identifies a recording.
type RecorderMeta struct {
	SessionID, CallID, AgentID string
	Labels                     map[string]string
	// RecordingID names the recording (empty: the session id). A session that moved to
	// another node goes on in segment 2, 3... (Segment), linked to the one before.
	RecordingID         string
	Segment             int
	PreviousRecordingID string
	// OnFailure is called once if the recording fails (disk full, I/O error); the call goes on.
	OnFailure func(error)
	// OnUndecodable is called once per leg when the leg first sends audio in a codec hush
	// cannot decode (pt: its payload type); the recording has silence there.
	OnUndecodable func(l Leg, pt uint8)
	// Retention is how long the recording is kept after it starts (0: until erased).
	Retention time.Duration
}

// RecorderFactory starts a session's recording.
type RecorderFactory func(m RecorderMeta) (Recorder, error)

// RecordingPolicy is the recording part of a session's policy.
type RecordingPolicy struct {
	Off                 bool          // policy turned recording off
	MaxPause            time.Duration // 0: no limit
	ResumeAfterMaxPause bool
	// AutoPauseOnDTMF pauses the recording (silence) while either party keys, and
	// resumes autoPauseHold after the last key.
	AutoPauseOnDTMF bool
	// Retention is how long the recording is kept after it starts (0: until erased).
	Retention time.Duration
}

// autoPauseHold is how long after the last key an automatic pause lasts.
const autoPauseHold = time.Second

type recState struct {
	rec         Recorder
	state       RecordingState
	behavior    PauseBehavior
	pausedAt    time.Time
	maxNotified bool
	failure     string
	// auto is an automatic pause (DTMF); autoUntil is when it ends unless keys go on.
	auto      bool
	autoUntil time.Time
	// segment numbers the recording among the session's (0 or 1: the first).
	segment int
}

// RecordingInfo is the part of Info about recording.
type RecordingInfo struct {
	ID       string
	State    RecordingState
	Behavior PauseBehavior // while paused
	Failure  string
}

func (r *recState) info() RecordingInfo {
	in := RecordingInfo{State: r.state, Failure: r.failure}
	if r.rec != nil {
		in.ID = r.rec.ID()
	}
	if r.state == RecordingPaused {
		in.Behavior = r.behavior
	}
	return in
}

// startRecording runs at create, before media starts.
func (r *Registry) startRecording(s *Session, spec Spec) {
	if r.cfg.Recorder == nil || spec.Policy.Recording.Off {
		return
	}
	rec, err := r.cfg.Recorder(RecorderMeta{
		SessionID: s.id, CallID: s.callID, AgentID: s.agentID, Labels: s.labels,
		OnFailure:     func(err error) { s.recordingFailed(err) },
		OnUndecodable: func(l Leg, pt uint8) { s.undecodableAudio(l, pt) },
		Retention:     spec.Policy.Recording.Retention,
	})
	if err != nil {
		// The call goes on unrecorded; say so.
		s.rec = recState{state: RecordingFailed, failure: "could not start recording"}
		r.log.Error("recording not started", "session_id", s.id, "err", err)
		if h := r.cfg.Hooks.RecordingFailed; h != nil {
			h()
		}
		return
	}
	s.rec = recState{rec: rec, state: RecordingActive, segment: 1}
}

// recordTap is what the media layer hands the audio to record: the recorder
// itself (a nil interface when there is none), so a frame takes one call less.
func (s *Session) recordTap() RecordWriter {
	if s.rec.rec == nil {
		if s.reg.cfg.Recorder != nil && s.rec.state != RecordingFailed {
			s.late = &lateRecorder{}
			return s.late
		}
		return nil
	}
	return s.rec.rec
}

// recordMaskTap is what the media layer calls with spans it masked in the recording.
func (s *Session) recordMaskTap() func(l Leg, startTS, endTS uint32) {
	rec := s.rec.rec
	if rec == nil {
		if s.late != nil {
			return s.late.markMasked(s)
		}
		return nil
	}
	return func(l Leg, startTS, endTS uint32) {
		s.noteKey(l) // a key press (only the time is kept), for agent-activity monitoring
		_ = rec.MarkMaskRTP(l, startTS, endTS)
	}
}

func (s *Session) recordingFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.state == RecordingFailed {
		return
	}
	if s.rec.state == RecordingActive {
		s.recInactiveLocked(s.received())
	}
	s.rec.state = RecordingFailed
	s.rec.failure = "recording write failed"
	s.publishLocked(Event{Kind: EventRecordingFailed, RecordingFailure: s.rec.failure})
	s.reg.log.Error("recording failed; the call goes on", "session_id", s.id, "err", err)
	if h := s.reg.cfg.Hooks.RecordingFailed; h != nil {
		h()
	}
	s.flagLocked(SuspectRecordingFailed, "", "", "the recording failed during the call (a write to disk failed); the call goes on")
}

// undecodableAudio tells the watchers that a leg sends audio the recording gets nothing of.
func (s *Session) undecodableAudio(l Leg, pt uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return
	}
	s.publishLocked(Event{Kind: EventUndecodableAudio, Leg: l, PayloadType: pt})
	s.reg.log.Warn("audio in a codec hush cannot decode: recorded as silence", "session_id", s.id, "leg", l.String(), "payload_type", pt)
}

func (s *Session) pause(b PauseBehavior, actor, requestID, reason string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return Info{}, ErrNotFound
	}
	if s.rec.rec == nil || s.rec.state == RecordingFailed {
		return Info{}, fmt.Errorf("%w: this session is not recording", ErrFailedPrecondition)
	}
	if b == "" {
		b = PauseSilence
	}
	// A request while paused automatically takes the pause over: it no longer ends by itself.
	tookOver := s.rec.auto && s.rec.state == RecordingPaused
	s.rec.auto = false
	if s.rec.state == RecordingActive {
		if _, err := s.rec.rec.Pause(b, actor, requestID, reason); err != nil {
			return Info{}, fmt.Errorf("pause: %w", err)
		}
		now := s.reg.now()
		s.rec.state, s.rec.behavior, s.rec.pausedAt, s.rec.maxNotified = RecordingPaused, b, now, false
		s.recInactiveLocked(s.received())
		s.act.pauses++
		s.publishLocked(Event{Kind: EventRecording, Actor: actor, RequestID: requestID, Recording: s.rec.info(), RecordingReason: reason})
		s.onPauseLocked(actor, requestID, now)
	} else if tookOver {
		s.onPauseLocked(actor, requestID, s.reg.now())
	}
	in := s.infoLocked()
	return in, nil
}

// onKeyActivity runs when either party keys while auto-pause is on. The key itself is
// not looked at, and not kept: only that someone is keying.
func (s *Session) onKeyActivityLocked() {
	if !s.policy.Recording.AutoPauseOnDTMF || s.rec.rec == nil {
		return
	}
	now := s.reg.now()
	switch s.rec.state {
	case RecordingActive:
		if _, err := s.rec.rec.Pause(PauseSilence, "hush", "", "dtmf"); err != nil {
			s.reg.log.Error("auto-pause failed", "session_id", s.id, "err", err)
			return
		}
		s.rec.state, s.rec.behavior, s.rec.pausedAt, s.rec.maxNotified = RecordingPaused, PauseSilence, now, false
		s.rec.auto = true
		s.recInactiveLocked(s.received())
		s.act.pauses++
		s.publishLocked(Event{Kind: EventRecording, Actor: "hush", Recording: s.rec.info(), RecordingReason: "dtmf"})
		fallthrough
	case RecordingPaused:
		if s.rec.auto {
			s.rec.autoUntil = now.Add(autoPauseHold)
		}
	}
}

// endAutoPause resumes a recording paused automatically once the keys have stopped.
func (s *Session) endAutoPause(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended || !s.rec.auto || s.rec.state != RecordingPaused || now.Before(s.rec.autoUntil) {
		return false
	}
	s.rec.auto = false
	if err := s.resumeLocked("hush", "", "dtmf ended"); err != nil {
		s.reg.log.Error("auto-resume failed", "session_id", s.id, "err", err)
		return false
	}
	return true
}

func (s *Session) resume(actor, requestID, reason string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return Info{}, ErrNotFound
	}
	if s.rec.rec == nil || s.rec.state == RecordingFailed {
		return Info{}, fmt.Errorf("%w: this session is not recording", ErrFailedPrecondition)
	}
	if s.rec.state == RecordingPaused {
		s.rec.auto = false
		if err := s.resumeLocked(actor, requestID, reason); err != nil {
			return Info{}, err
		}
	}
	in := s.infoLocked()
	return in, nil
}

func (s *Session) resumeLocked(actor, requestID, reason string) error {
	if _, err := s.rec.rec.Resume(actor, requestID, reason); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	s.rec.state = RecordingActive
	s.publishLocked(Event{Kind: EventRecording, Actor: actor, RequestID: requestID, Recording: s.rec.info(), RecordingReason: reason})
	s.onResumeLocked(s.reg.now(), s.received())
	return nil
}

// checkMaxPause raises the max-pause event once per pause, and resumes when policy says so.
func (s *Session) checkMaxPause(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	max := s.policy.Recording.MaxPause
	if s.state == Ended || s.rec.state != RecordingPaused || max <= 0 || s.rec.maxNotified || now.Sub(s.rec.pausedAt) < max {
		return false
	}
	s.rec.maxNotified = true
	resume := s.policy.Recording.ResumeAfterMaxPause
	s.publishLocked(Event{Kind: EventMaxPause, PausedFor: now.Sub(s.rec.pausedAt), Resumed: resume})
	if resume {
		if err := s.resumeLocked("hush", "", "max pause exceeded"); err != nil {
			s.reg.log.Error("auto-resume failed", "session_id", s.id, "err", err)
		}
	}
	return true
}

// closeRecording finishes the file once the media has stopped writing.
func (s *Session) closeRecording() {
	s.mu.Lock()
	rec := s.rec.rec
	s.mu.Unlock()
	if rec == nil {
		return
	}
	if err := rec.Close(); err != nil {
		s.reg.log.Error("recording close failed", "session_id", s.id, "err", err)
	}
	if lc, ok := rec.(lateCounter); ok {
		if c, a := lc.LatePackets(); c+a > 0 && s.reg.cfg.Hooks.RecordingLate != nil {
			s.reg.cfg.Hooks.RecordingLate(c, a)
		}
	}
}

// lateCounter is a Recorder that counts, per leg, the audio packets that reached it
// after their place in the file was written.
type lateCounter interface {
	LatePackets() (customer, agent uint64)
}
