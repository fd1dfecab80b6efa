package session

import (
	"fmt"
	"sync/atomic"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/relay"
)

// Starting a recording during a call (ng "start recording", record-call in a re-offer,
// as rtpengine does): the media's recording tap is fixed when the media starts, so a
// session created unrecorded on a hushd that records gets a lateRecorder as its tap. It
// passes nothing on until StartRecording sets a recorder, then everything: one atomic
// load a frame. Such a session pays for the recording tap (the detector on both
// directions) from its start, as a recorded one does. The frames go from the relay to the
// recorder through a relay.SwitchSink: none passes through this package.

type lateRecorder struct {
	rec  atomic.Pointer[Recorder]
	sink relay.SwitchSink // the media's sink: the recorder's once set
}

func (l *lateRecorder) set(r Recorder) {
	l.rec.Store(&r)
	l.sink.Set(mediaSink(r))
}

// Write is RecordWriter: what a media other than the relay calls.
func (l *lateRecorder) Write(leg Leg, ssrc, ts uint32, f *mask.RecordFrame) error {
	if r := l.rec.Load(); r != nil {
		return (*r).Write(leg, ssrc, ts, f)
	}
	return nil
}

// RecordSink is the relay's sink: the switch, which passes frames straight to the
// recorder once one is set.
func (l *lateRecorder) RecordSink() relay.RecordSink { return &l.sink }

// markMasked is the media's masked-span callback for a late recording.
func (l *lateRecorder) markMasked(s *Session) func(leg Leg, startTS, endTS uint32) {
	return func(leg Leg, startTS, endTS uint32) {
		if r := l.rec.Load(); r != nil {
			s.noteKey(leg)
			_ = (*r).MarkMaskRTP(leg, startTS, endTS)
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
