package session

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/relay"
)

// Starting a recording during a call (ng "start recording", record-call in a re-offer,
// as rtpengine does): the media's recording tap is fixed when the media starts, so a
// session created unrecorded on a hushd that records gets a lateRecorder as its tap. It
// passes nothing on until StartRecording sets a recorder, then everything: one atomic
// load a frame. Such a session pays for the recording tap (the detector on both
// directions) from its start, as a recorded one does.

type lateRecorder struct {
	rec atomic.Pointer[lateBox]
}

type lateBox struct {
	r    Recorder
	sink relay.RecordSink // r as the relay's sink, when it is one
}

func (l *lateRecorder) set(r Recorder) {
	b := &lateBox{r: r}
	b.sink, _ = r.(relay.RecordSink)
	l.rec.Store(b)
}

// Write is RecordWriter: what the media calls without a relay sink.
func (l *lateRecorder) Write(leg Leg, ssrc, ts uint32, f *mask.RecordFrame) error {
	if b := l.rec.Load(); b != nil {
		return b.r.Write(leg, ssrc, ts, f)
	}
	return nil
}

// RecordAudio is relay.RecordSink.
func (l *lateRecorder) RecordAudio(d relay.Direction, ssrc, ts uint32, at time.Time, f *mask.RecordFrame) {
	b := l.rec.Load()
	switch {
	case b == nil:
	case b.sink != nil:
		b.sink.RecordAudio(d, ssrc, ts, at, f)
	default:
		_ = b.r.Write(Leg(d.From()), ssrc, ts, f)
	}
}

// RecordUndecodable is relay.UndecodableRecorder.
func (l *lateRecorder) RecordUndecodable(d relay.Direction, pt uint8) {
	if b := l.rec.Load(); b != nil {
		if u, ok := b.sink.(relay.UndecodableRecorder); ok {
			u.RecordUndecodable(d, pt)
		}
	}
}

// markMasked is the media's masked-span callback for a late recording.
func (l *lateRecorder) markMasked(s *Session) func(leg Leg, startTS, endTS uint32) {
	return func(leg Leg, startTS, endTS uint32) {
		if b := l.rec.Load(); b != nil {
			s.noteKey(leg)
			_ = b.r.MarkMaskRTP(leg, startTS, endTS)
		}
	}
}

// StartRecording starts recording a session that runs unrecorded, from now on; a paused
// recording resumes, and one that runs is left as it is. It fails (ErrFailedPrecondition)
// when this hushd records nothing (recording.enabled) or the recording failed.
func (r *Registry) StartRecording(id, actor string, q Request, reason string) (Info, error) {
	return r.idempotent(opStartRecording, id, q, func() (Info, error) {
		s, err := r.lookup(id)
		if err != nil {
			return Info{}, err
		}
		s.mu.Lock()
		if s.state == Ended {
			s.mu.Unlock()
			return Info{}, ErrNotFound
		}
		if s.rec.rec != nil || s.rec.state == RecordingFailed {
			s.mu.Unlock()
			return s.resume(actor, q.ID, reason)
		}
		defer s.mu.Unlock()
		if r.cfg.Recorder == nil || s.late == nil {
			return Info{}, fmt.Errorf("%w: this hushd records nothing (recording.enabled)", ErrFailedPrecondition)
		}
		rec, err := r.cfg.Recorder(RecorderMeta{
			SessionID: s.id, CallID: s.callID, AgentID: s.agentID, Labels: s.labels, Segment: 1,
			OnFailure:     func(err error) { s.recordingFailed(err) },
			OnUndecodable: func(l Leg, pt uint8) { s.undecodableAudio(l, pt) },
			Retention:     s.policy.Recording.Retention,
		})
		if err != nil {
			r.log.Error("recording not started", "session_id", s.id, "err", err)
			return Info{}, fmt.Errorf("start recording: %w", err)
		}
		s.rec = recState{rec: rec, state: RecordingActive, segment: 1}
		s.policy.Recording.Off = false
		s.late.set(rec)
		s.publishLocked(Event{Kind: EventRecording, Actor: actor, RequestID: q.ID, Recording: s.rec.info(), RecordingReason: reason})
		r.log.Info("recording started during the call", "session_id", s.id, "recording_id", rec.ID(), "actor", actor)
		return s.infoLocked(), nil
	})
}
