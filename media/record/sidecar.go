package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hushmedia/hush/media/record/seal"
)

// Status is the life-cycle state of a recording, as stored in its sidecar.
type Status string

// Recording statuses.
const (
	StatusInProgress Status = "in_progress" // being written, or cut by a crash
	StatusComplete   Status = "complete"    // closed cleanly
	StatusRepaired   Status = "repaired"    // cut by a crash, fixed by Repair
	StatusFailed     Status = "failed"      // stopped by a write error
)

func (s Status) valid() bool {
	switch s {
	case StatusInProgress, StatusComplete, StatusRepaired, StatusFailed:
		return true
	}
	return false
}

// Content says whether a recording holds all the audio hush received.
type Content string

// Recording contents.
const (
	ContentFull        Content = "full"        // every audio packet decoded and recorded
	ContentPartial     Content = "partial"     // some packets in a codec hush cannot decode: silence there
	ContentUndecodable Content = "undecodable" // no audio could be decoded: the file is silence
)

// PauseBehavior says what a pause does to the recording.
type PauseBehavior string

// Pause behaviours.
const (
	// PauseSilence writes silence for the paused time: the timeline is kept.
	PauseSilence PauseBehavior = "silence"
	// PauseSkip leaves the paused time out of the file.
	PauseSkip PauseBehavior = "skip"
)

// sidecarVersion is bumped on incompatible sidecar changes.
const sidecarVersion = 1

// maxSidecarBytes bounds how much of a sidecar file is read.
const maxSidecarBytes = 4 << 20

// Sidecar is the JSON document stored next to each WAV as
// <recording_id>.json. Sample positions are on the recording timeline
// (8 kHz samples since Start); file_* positions are sample frames in the
// WAV data, which differ only after a skip pause. It has no field that
// could hold card digits.
type Sidecar struct {
	Version     int    `json:"version"`
	RecordingID string `json:"recording_id"`
	SessionID   string `json:"session_id,omitempty"`
	CallID      string `json:"call_id,omitempty"`
	AgentID     string `json:"agent_id,omitempty"`
	Status      Status `json:"status"`
	// Labels are the session's labels (digit runs that could be card data
	// redacted).
	Labels map[string]string `json:"labels,omitempty"`
	// Content says whether the file holds all the audio hush received.
	Content Content `json:"content,omitempty"`
	// Revision counts the versions of this document: a reader holding two
	// takes the higher.
	Revision uint64 `json:"revision,omitempty"`
	// Segment numbers the recordings of one session from 1 (absent: 1); a
	// call taken over by another node goes on in the next segment, which
	// names the one before in PreviousRecordingID.
	Segment             int    `json:"segment,omitempty"`
	PreviousRecordingID string `json:"previous_recording_id,omitempty"`

	Start           time.Time `json:"start"`
	End             time.Time `json:"end,omitzero"`
	DurationSeconds float64   `json:"duration_seconds"`
	DurationSamples int64     `json:"duration_samples"` // timeline length
	FileSamples     int64     `json:"file_samples"`     // stereo frames in the WAV
	SampleRate      int       `json:"sample_rate"`
	BitsPerSample   int       `json:"bits_per_sample"`
	// Encoding is "ulaw" for G.711 mu-law audio (8 bits a sample), "" for 16-bit PCM.
	Encoding string   `json:"encoding,omitempty"`
	Channels []string `json:"channels"`

	Pauses  []PauseSpan    `json:"pauses"`
	Masks   []MaskSpan     `json:"masks"`
	Actions []ActionRecord `json:"actions"`

	WAV    string `json:"wav"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Encrypted: the WAV and this sidecar are sealed at rest (package seal);
	// Size and SHA256 are of the plaintext WAV.
	Encrypted bool `json:"encrypted,omitempty"`
	// RetainUntil is when the recording's retention ends: hushd deletes it
	// then, unless it is on legal hold. Zero: kept until erased.
	RetainUntil time.Time `json:"retain_until,omitzero"`
	// LegalHold, when set, keeps the recording past its retention.
	LegalHold *Hold `json:"legal_hold,omitempty"`
	// Location is the object key of the recording in the object store once
	// it was uploaded there and its local WAV removed; "" while local.
	Location string `json:"location,omitempty"`

	Dropped DropCounts `json:"dropped"`

	Failure    string    `json:"failure,omitempty"`
	RepairedAt time.Time `json:"repaired_at,omitzero"`
	RepairNote string    `json:"repair_note,omitempty"`
}

// Hold is a legal hold: who placed it, when and why.
type Hold struct {
	Actor  string    `json:"actor,omitempty"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason,omitempty"`
}

// PauseSpan is one pause. EndSample is the resume position (or the end of
// the recording if it was never resumed).
type PauseSpan struct {
	StartSample     int64         `json:"start_sample"`
	EndSample       int64         `json:"end_sample"`
	FileStartSample int64         `json:"file_start_sample"`
	FileEndSample   int64         `json:"file_end_sample"`
	StartTime       time.Time     `json:"start_time"`
	EndTime         time.Time     `json:"end_time,omitzero"`
	Behavior        PauseBehavior `json:"behavior"`
	Actor           string        `json:"actor,omitempty"`
	RequestID       string        `json:"request_id,omitempty"`
	Reason          string        `json:"reason,omitempty"`
	ResumeActor     string        `json:"resume_actor,omitempty"`
	ResumeRequestID string        `json:"resume_request_id,omitempty"`
}

// MaskSpan is a span the upstream masker replaced (DTMF) on one leg.
type MaskSpan struct {
	Leg             string    `json:"leg"`
	StartSample     int64     `json:"start_sample"`
	EndSample       int64     `json:"end_sample"`
	FileStartSample int64     `json:"file_start_sample"`
	FileEndSample   int64     `json:"file_end_sample"`
	StartTime       time.Time `json:"start_time"`
	EndTime         time.Time `json:"end_time"`
}

// ActionRecord is one control action on the recording: who did what, when.
type ActionRecord struct {
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor,omitempty"`
	Action    string    `json:"action"`
	RequestID string    `json:"request_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// DropCounts counts audio lost before it reached the file, per leg.
type DropCounts struct {
	CustomerRingFull uint64 `json:"customer_ring_full"`
	CustomerLate     uint64 `json:"customer_late"`
	AgentRingFull    uint64 `json:"agent_ring_full"`
	AgentLate        uint64 `json:"agent_late"`
	// Packets in a codec hush cannot decode.
	CustomerUndecodable uint64 `json:"customer_undecodable"`
	AgentUndecodable    uint64 `json:"agent_undecodable"`
}

// ParseSidecar decodes and validates a sidecar document.
func ParseSidecar(b []byte) (Sidecar, error) {
	var s Sidecar
	if err := json.Unmarshal(b, &s); err != nil {
		return Sidecar{}, fmt.Errorf("%w: %v", ErrBadSidecar, err)
	}
	if err := s.validate(); err != nil {
		return Sidecar{}, err
	}
	return s, nil
}

func (s *Sidecar) validate() error {
	if s.Version != sidecarVersion {
		return fmt.Errorf("%w: version %d", ErrBadSidecar, s.Version)
	}
	if err := ValidateID(s.RecordingID); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSidecar, err)
	}
	if !s.Status.valid() {
		return fmt.Errorf("%w: status %q", ErrBadSidecar, s.Status)
	}
	pcm := s.BitsPerSample == BitsPerSample && s.Encoding == ""
	ulaw := s.BitsPerSample == 8 && s.Encoding == "ulaw"
	if s.SampleRate != SampleRate || !(pcm || ulaw) || len(s.Channels) != NumChannels {
		return fmt.Errorf("%w: format %d Hz %d bit %d channels", ErrBadSidecar, s.SampleRate, s.BitsPerSample, len(s.Channels))
	}
	if s.WAV != s.RecordingID+".wav" {
		return fmt.Errorf("%w: wav name %q does not match id", ErrBadSidecar, s.WAV)
	}
	if s.Segment < 0 || (s.PreviousRecordingID != "" && ValidateID(s.PreviousRecordingID) != nil) {
		return fmt.Errorf("%w: segment %d or previous recording id invalid", ErrBadSidecar, s.Segment)
	}
	if s.DurationSamples < 0 || s.FileSamples < 0 || s.Size < 0 {
		return fmt.Errorf("%w: negative length", ErrBadSidecar)
	}
	return nil
}

// ReadSidecar reads and validates the sidecar at path, plain or sealed.
// Options: WithFS, WithKeyring (for a sealed one).
func ReadSidecar(path string, opts ...Option) (Sidecar, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Sidecar{}, err
	}
	s, _, err := readSidecar(cfg, path)
	return s, err
}

// readSidecar reads a sidecar; for a sealed one it also returns the
// recording's data key, which writes it back sealed.
func readSidecar(cfg *config, path string) (Sidecar, *seal.Key, error) {
	b, err := readFileLimit(cfg.fs, path, maxSidecarBytes, ErrBadSidecar)
	if err != nil {
		return Sidecar{}, nil, fmt.Errorf("read sidecar %s: %w", path, err)
	}
	var key *seal.Key
	if seal.IsSealed(b) {
		id := strings.TrimSuffix(filepath.Base(path), ".json")
		if b, key, err = seal.OpenBytes(cfg.keyring, b, id); err != nil {
			return Sidecar{}, nil, fmt.Errorf("read sidecar %s: %w", path, err)
		}
	}
	s, err := ParseSidecar(b)
	if err != nil {
		return Sidecar{}, nil, fmt.Errorf("read sidecar %s: %w", path, err)
	}
	return s, key, nil
}

// writeSidecar writes s atomically, sealed with key when it is not nil.
func writeSidecar(fsys FS, dir string, s *Sidecar, key *seal.Key) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if key != nil {
		if b, err = key.SealBytes(seal.KindSidecar, b); err != nil {
			return err
		}
	}
	return writeFileAtomic(fsys, dir, filepath.Join(dir, s.RecordingID+".json"), b)
}

// List reads every sidecar in dir, newest start first. Sidecars that do
// not parse are left out and reported in the joined error, so one corrupt
// file does not hide the others. Options: WithFS.
func List(dir string, opts ...Option) ([]Sidecar, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ents, err := cfg.fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []Sidecar
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		s, _, err := readSidecar(cfg, filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b Sidecar) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(a.RecordingID, b.RecordingID)
	})
	return out, errors.Join(errs...)
}

// ValidateID accepts recording ids that are safe as file names on any
// system: 1-128 of [A-Za-z0-9._-], not starting with a dot.
func ValidateID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: length %d", ErrBadID, len(id))
	}
	if id[0] == '.' {
		return fmt.Errorf("%w: starts with a dot", ErrBadID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: byte %d is not [A-Za-z0-9._-]", ErrBadID, i)
		}
	}
	return nil
}

// Digit-run lengths redactDigits treats as possible card data.
const (
	textDigitRun = 4  // free text: card numbers are typed in groups of four
	idDigitRun   = 12 // identifiers: the shortest PAN (ISO/IEC 7812)
)

// redactDigits replaces every run of minRun or more ASCII digits with '#'
// of the same length. Text reaches the sidecar from people and platforms;
// a card number pasted there must not reach the disk.
func redactDigits(s string, minRun int) string {
	run := 0
	need := false
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= minRun {
				need = true
				break
			}
		} else {
			run = 0
		}
	}
	if !need {
		return s
	}
	b := []byte(s)
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j-i >= minRun {
			for k := i; k < j; k++ {
				b[k] = '#'
			}
		}
		if j == i {
			j++
		}
		i = j
	}
	return string(b)
}

// Get reads the sidecar of one recording. The id is validated first, so
// an id from an API request cannot reach outside dir. Options: WithFS.
func Get(dir, id string, opts ...Option) (Sidecar, error) {
	if err := ValidateID(id); err != nil {
		return Sidecar{}, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return Sidecar{}, err
	}
	s, _, err := readSidecar(cfg, filepath.Join(dir, id+".json"))
	return s, err
}

// WAVPath returns <dir>/<id>.wav after validating id, for serving a
// recording for download.
func WAVPath(dir, id string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	return filepath.Join(dir, id+".wav"), nil
}
