package session

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/relay"
)

// RecordIndex keeps the list of recordings current: Put gets every sidecar a recorder
// writes, with the recording's directory relative to the root. media/record/index's
// Index is one.
type RecordIndex interface {
	Put(dir string, sc *record.Sidecar) error
}

// RecordFactory is the production RecorderFactory: a media/record stereo WAV per session,
// customer left, agent right, filed under root by the day it starts
// (root/YYYY/MM/DD, see record.DateDir), its sidecars reported to idx (nil: none). opts
// (clock, checkpoint interval, input delay = the recording look-ahead) apply to every
// recording.
func RecordFactory(root string, idx RecordIndex, opts ...record.Option) RecorderFactory {
	return func(m RecorderMeta) (Recorder, error) {
		now := time.Now()
		rel := record.DateDir(now)
		dir := filepath.Join(root, rel)
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("start recording: %w", err)
		}
		all := append([]record.Option(nil), opts...)
		if m.OnFailure != nil {
			all = append(all, record.WithOnFailure(m.OnFailure))
		}
		if on := m.OnUndecodable; on != nil {
			all = append(all, record.WithOnUndecodable(on))
		}
		if idx != nil {
			all = append(all, record.WithOnSidecar(func(sc *record.Sidecar) { _ = idx.Put(rel, sc) }))
		}
		id := m.RecordingID
		if id == "" {
			id = m.SessionID
		}
		meta := record.Meta{
			RecordingID: id, SessionID: m.SessionID, CallID: m.CallID, AgentID: m.AgentID, Labels: m.Labels,
			Segment: m.Segment, PreviousRecordingID: m.PreviousRecordingID,
		}
		if m.Retention > 0 {
			meta.RetainUntil = now.Add(m.Retention).UTC()
		}
		rec, err := record.New(dir, meta, all...)
		if err != nil {
			return nil, fmt.Errorf("start recording: %w", err)
		}
		return recordAdapter{rec}, nil
	}
}

type recordAdapter struct{ r *record.Recorder }

func (a recordAdapter) ID() string { return a.r.ID() }

func (a recordAdapter) Write(l Leg, ssrc, ts uint32, f *mask.RecordFrame) error {
	return a.r.WriteG711(l, ssrc, ts, f.Law, f.Codes, f.Silent)
}

// RecordSink is the recorder itself as the media's recording sink: the relay
// hands it each frame with no call into this package (see mediaSink).
func (a recordAdapter) RecordSink() relay.RecordSink { return a.r }

func (a recordAdapter) Pause(b PauseBehavior, actor, requestID, reason string) (bool, error) {
	return a.r.Pause(b, record.Action{Actor: actor, RequestID: requestID, Reason: reason})
}

func (a recordAdapter) Resume(actor, requestID, reason string) (bool, error) {
	return a.r.Resume(record.Action{Actor: actor, RequestID: requestID, Reason: reason})
}

func (a recordAdapter) Close() error { return a.r.Close() }

// LatePackets makes the adapter a lateCounter: the recorder's late frames per leg (a
// frame is one packet's audio).
func (a recordAdapter) LatePackets() (customer, agent uint64) {
	st := a.r.Stats()
	return st.Late[record.LegCustomer], st.Late[record.LegAgent]
}

// Note makes the adapter a recordNoter: an action in the sidecar.
func (a recordAdapter) Note(action, actor, requestID, reason string) error {
	return a.r.Note(action, record.Action{Actor: actor, RequestID: requestID, Reason: reason})
}

func (a recordAdapter) MarkMaskRTP(l Leg, startTS, endTS uint32) error {
	return a.r.MarkMaskRTP(l, startTS, endTS)
}
