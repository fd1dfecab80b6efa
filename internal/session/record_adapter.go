package session

import (
	"fmt"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/relay"
)

// RecordFactory is the production RecorderFactory: a media/record stereo WAV per session in
// dir, customer left, agent right. opts (clock, checkpoint interval, input delay = the
// recording look-ahead) apply to every recording.
func RecordFactory(dir string, opts ...record.Option) RecorderFactory {
	return func(m RecorderMeta) (Recorder, error) {
		all := append([]record.Option(nil), opts...)
		if m.OnFailure != nil {
			all = append(all, record.WithOnFailure(m.OnFailure))
		}
		rec, err := record.New(dir, record.Meta{
			RecordingID: m.SessionID, SessionID: m.SessionID, CallID: m.CallID, AgentID: m.AgentID,
		}, all...)
		if err != nil {
			return nil, fmt.Errorf("start recording: %w", err)
		}
		return recordAdapter{rec}, nil
	}
}

type recordAdapter struct{ r *record.Recorder }

func (a recordAdapter) ID() string { return a.r.ID() }

func (a recordAdapter) Write(l Leg, ssrc, ts uint32, f *mask.RecordFrame) error {
	return a.r.WriteG711(record.Leg(l), ssrc, ts, f.Law, f.Codes, f.Silent)
}

// RecordAudio and PrefetchRecord make the adapter the relay's recording sink
// itself (relay.RecordSink, relay.RecordPrefetcher): the relay calls the
// recorder through no closure, and warms its state with the packet's.
func (a recordAdapter) RecordAudio(d relay.Direction, ssrc, ts uint32, at time.Time, f *mask.RecordFrame) {
	_ = a.r.WriteG711At(record.Leg(d.From()), ssrc, ts, at, f.Law, f.Codes, f.Silent)
}

func (a recordAdapter) PrefetchRecord(d relay.Direction, stage int) {
	a.r.PrefetchWrite(record.Leg(d.From()), stage)
}

var pauseBehaviors = map[PauseBehavior]record.PauseBehavior{
	PauseSilence: record.PauseSilence,
	PauseSkip:    record.PauseSkip,
}

func (a recordAdapter) Pause(b PauseBehavior, actor, requestID, reason string) (bool, error) {
	return a.r.Pause(pauseBehaviors[b], record.Action{Actor: actor, RequestID: requestID, Reason: reason})
}

func (a recordAdapter) Resume(actor, requestID, reason string) (bool, error) {
	return a.r.Resume(record.Action{Actor: actor, RequestID: requestID, Reason: reason})
}

func (a recordAdapter) Close() error { return a.r.Close() }

func (a recordAdapter) MarkMaskRTP(l Leg, startTS, endTS uint32) error {
	return a.r.MarkMaskRTP(record.Leg(l), startTS, endTS)
}
