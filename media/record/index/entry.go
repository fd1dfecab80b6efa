package index

import (
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/hushmedia/hush/media/record"
)

// Entry is what the index holds of one recording.
type Entry struct {
	// Dir is the recording's directory relative to the root ("" or
	// YYYY/MM/DD; see record.DateDir).
	Dir string
	// Sidecar is the recording's sidecar without its action list; of
	// Dropped only the undecodable counts are kept.
	Sidecar record.Sidecar
}

// stored is an entry's encoding: short keys, the sidecar's summary.
type stored struct {
	Dir         string             `json:"d,omitempty"`
	Session     string             `json:"s,omitempty"`
	Call        string             `json:"c,omitempty"`
	Agent       string             `json:"a,omitempty"`
	Labels      map[string]string  `json:"l,omitempty"`
	Status      record.Status      `json:"st"`
	Content     record.Content     `json:"ct,omitempty"`
	Rev         uint64             `json:"r,omitempty"`
	Start       int64              `json:"t0,omitempty"` // unix nanoseconds
	End         int64              `json:"t1,omitempty"`
	Samples     int64              `json:"n,omitempty"`
	FileSamples int64              `json:"fn,omitempty"`
	Size        int64              `json:"sz,omitempty"`
	SHA256      string             `json:"h,omitempty"`
	Failure     string             `json:"f,omitempty"`
	Undecodable [2]uint64          `json:"u,omitzero"`
	Pauses      []record.PauseSpan `json:"p,omitempty"`
	Masks       []record.MaskSpan  `json:"m,omitempty"`
	RepairedAt  int64              `json:"ra,omitempty"`
	RepairNote  string             `json:"rn,omitempty"`
	Encrypted   bool               `json:"e,omitempty"`
	RetainUntil int64              `json:"ru,omitempty"`
	Hold        *record.Hold       `json:"lh,omitempty"`
	Location    string             `json:"loc,omitempty"`
	Encoding    string             `json:"en,omitempty"`
	Segment     int                `json:"sg,omitempty"`
	Previous    string             `json:"pv,omitempty"`
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func toStored(dir string, sc *record.Sidecar) stored {
	return stored{
		Dir: dir, Session: sc.SessionID, Call: sc.CallID, Agent: sc.AgentID, Labels: sc.Labels,
		Status: sc.Status, Content: sc.Content, Rev: sc.Revision,
		Start: nanos(sc.Start), End: nanos(sc.End), Samples: sc.DurationSamples, FileSamples: sc.FileSamples,
		Size: sc.Size, SHA256: sc.SHA256, Failure: sc.Failure,
		Undecodable: [2]uint64{sc.Dropped.CustomerUndecodable, sc.Dropped.AgentUndecodable},
		Pauses:      sc.Pauses, Masks: sc.Masks,
		RepairedAt: nanos(sc.RepairedAt), RepairNote: sc.RepairNote,
		Encrypted: sc.Encrypted, RetainUntil: nanos(sc.RetainUntil), Hold: sc.LegalHold, Location: sc.Location,
		Encoding: sc.Encoding,
		Segment:  sc.Segment, Previous: sc.PreviousRecordingID,
	}
}

func (s *stored) entry(id string) Entry {
	e := Entry{Dir: s.Dir, Sidecar: record.Sidecar{
		Version: 1, RecordingID: id, SessionID: s.Session, CallID: s.Call, AgentID: s.Agent, Labels: s.Labels,
		Status: s.Status, Content: s.Content, Revision: s.Rev,
		Start: fromNanos(s.Start), End: fromNanos(s.End),
		DurationSamples: s.Samples, DurationSeconds: float64(s.Samples) / record.SampleRate,
		FileSamples: s.FileSamples, SampleRate: record.SampleRate, BitsPerSample: record.BitsPerSample,
		Channels: []string{"customer", "agent"}, Pauses: s.Pauses, Masks: s.Masks,
		WAV: id + ".wav", Size: s.Size, SHA256: s.SHA256, Failure: s.Failure,
		Dropped:    record.DropCounts{CustomerUndecodable: s.Undecodable[0], AgentUndecodable: s.Undecodable[1]},
		RepairedAt: fromNanos(s.RepairedAt), RepairNote: s.RepairNote,
		Encrypted: s.Encrypted, RetainUntil: fromNanos(s.RetainUntil), LegalHold: s.Hold, Location: s.Location,
		Encoding: s.Encoding,
		Segment:  s.Segment, PreviousRecordingID: s.Previous,
	}}
	if s.Encoding == "ulaw" {
		e.Sidecar.BitsPerSample = 8
	}
	return e
}

func (s *stored) marshal() ([]byte, error) { return json.Marshal(s) }

func unmarshal(b []byte) (stored, error) {
	var s stored
	err := json.Unmarshal(b, &s)
	return s, err
}

// sortKey orders recordings newest first, then by id: the start time's
// nanoseconds inverted, big-endian, then the id.
func sortKey(start int64, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, ^uint64(start))
	return append(k, id...)
}

// keyStart and keyID split a sort key.
func keyStart(k []byte) int64 { return int64(^binary.BigEndian.Uint64(k[:8])) }
func keyID(k []byte) string   { return string(k[8:]) }

// Secondary key prefixes: the value, then a 0 byte (call ids, agent ids and
// label keys and values hold no control characters; see the API's checks).
func callPrefix(call string) []byte   { return append([]byte(call), 0) }
func agentPrefix(agent string) []byte { return append([]byte(agent), 0) }
func labelPrefix(k, v string) []byte {
	b := append([]byte(k), 0)
	b = append(b, v...)
	return append(b, 0)
}
func dirPrefix(dir string) []byte { return append([]byte(dir), 0) }

// expireKey orders recordings by the end of their retention, oldest first.
func expireKey(until int64, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(until))
	return append(k, id...)
}

func join(prefix, key []byte) []byte {
	out := make([]byte, 0, len(prefix)+len(key))
	return append(append(out, prefix...), key...)
}
