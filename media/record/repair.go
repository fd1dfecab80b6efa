package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// RepairResult says what Repair did to one recording.
type RepairResult struct {
	RecordingID    string
	Status         Status // status written to the sidecar
	FileSamples    int64  // stereo frames kept
	TruncatedBytes int64  // partial trailing frame removed
	Note           string
	Err            error // this recording could not be repaired
}

// Repair fixes recordings in dir that a crash left open, so they play.
// Call it at start-up, before any Recorder writes to dir.
//
// A recording needs repair when its sidecar says in_progress, when its
// sidecar is missing or unreadable, or when the WAV header's sizes
// disagree with the file length. Repair keeps every whole stereo frame
// present on disk (audio written after the last checkpoint is kept too),
// truncates a partial trailing frame, rewrites the whole 44-byte header,
// fsyncs, recomputes the SHA-256 and writes the sidecar with status
// repaired (a failed recording keeps status failed but is made playable
// too). Leftover temporary sidecars are removed. Recordings already
// consistent are not touched and not reported.
//
// Options: WithFS, WithClock (repaired_at).
func Repair(dir string, opts ...Option) ([]RepairResult, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ents, err := cfg.fs.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("repair %s: %w", dir, err)
	}
	ids := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, ".json.tmp") {
			cfg.fs.Remove(filepath.Join(dir, name))
			continue
		}
		id, ok := strings.CutSuffix(name, ".json")
		if !ok {
			id, ok = strings.CutSuffix(name, ".wav")
		}
		if ok && ValidateID(id) == nil {
			ids[id] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	var out []RepairResult
	for _, id := range sorted {
		if res, ok := repairOne(cfg, dir, id); ok {
			out = append(out, res)
		}
	}
	return out, nil
}

// repairOne returns ok=false when the recording needed nothing.
func repairOne(cfg *config, dir, id string) (RepairResult, bool) {
	res := RepairResult{RecordingID: id}
	jsonPath := filepath.Join(dir, id+".json")
	wavPath := filepath.Join(dir, id+".wav")
	now := cfg.clock.Now()

	sc, scErr := readSidecar(cfg.fs, jsonPath)
	if scErr != nil {
		var notes []string
		if !errors.Is(scErr, os.ErrNotExist) {
			notes = append(notes, "sidecar unreadable, rebuilt")
		} else {
			notes = append(notes, "sidecar missing, rebuilt")
		}
		sc = Sidecar{
			Version:       sidecarVersion,
			RecordingID:   id,
			Status:        StatusInProgress,
			SampleRate:    SampleRate,
			BitsPerSample: BitsPerSample,
			Channels:      legNames[:],
			WAV:           id + ".wav",
		}
		res.Note = strings.Join(notes, "; ")
	}

	f, err := cfg.fs.OpenFile(wavPath, os.O_RDWR, 0)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			res.Err = fmt.Errorf("repair %s: %w", wavPath, err)
			return res, true
		}
		if scErr != nil || sc.Status != StatusInProgress {
			if scErr != nil && !errors.Is(scErr, os.ErrNotExist) {
				res.Err = scErr // a lone unreadable sidecar: report, leave it
				return res, true
			}
			return res, false
		}
		sc.Status = StatusFailed
		sc.Failure = "wav missing after crash"
		sc.RepairedAt = now
		sc.Revision++
		res.Status = StatusFailed
		res.Err = fmt.Errorf("repair %s: %w", id, ErrMissingWAV)
		if err := writeSidecar(cfg.fs, dir, &sc); err != nil {
			res.Err = errors.Join(res.Err, err)
		}
		return res, true
	}
	defer f.Close()

	st, err := f.Stat()
	if err != nil {
		res.Err = fmt.Errorf("repair %s: %w", wavPath, err)
		return res, true
	}
	size := st.Size()
	var hb [headerSize]byte
	n, _ := f.ReadAt(hb[:], 0)
	hdr, herr := parseHeader(hb[:n])
	dataBytes := max(size-headerSize, 0)
	frames := min(dataBytes/frameBytes, maxDataBytes/frameBytes)
	consistent := herr == nil && int64(hdr.dataSize) == dataBytes && int64(hdr.riffSize) == dataBytes+headerSize-8 &&
		dataBytes%frameBytes == 0
	if scErr == nil && sc.Status != StatusInProgress && consistent {
		return res, false
	}

	keep := headerSize + frames*frameBytes
	if size > keep {
		if err := f.Truncate(keep); err != nil {
			res.Err = fmt.Errorf("repair %s: truncate: %w", wavPath, err)
			return res, true
		}
		res.TruncatedBytes = size - keep
	}
	putHeader(hb[:], uint32(frames*frameBytes))
	if _, err := f.WriteAt(hb[:], 0); err != nil {
		res.Err = fmt.Errorf("repair %s: header: %w", wavPath, err)
		return res, true
	}
	if err := f.Sync(); err != nil {
		res.Err = fmt.Errorf("repair %s: sync: %w", wavPath, err)
		return res, true
	}
	sum, err := hashFile(f, keep)
	if err != nil {
		res.Err = fmt.Errorf("repair %s: hash: %w", wavPath, err)
		return res, true
	}

	var notes []string
	if res.Note != "" {
		notes = append(notes, res.Note)
	}
	if herr != nil {
		notes = append(notes, "header rewritten")
	} else if !consistent {
		notes = append(notes, fmt.Sprintf("header said %d data bytes, file had %d", hdr.dataSize, dataBytes))
	}
	if res.TruncatedBytes > 0 {
		notes = append(notes, fmt.Sprintf("truncated %d bytes of a partial frame", res.TruncatedBytes))
	}
	if sc.Status != StatusFailed {
		sc.Status = StatusRepaired
	}
	sc.FileSamples = frames
	// The timeline is at least as long as the audio kept; skip pauses
	// (left out of the file) make it longer.
	var skipped int64
	for _, p := range sc.Pauses {
		if p.Behavior == PauseSkip {
			skipped += max(p.EndSample-p.StartSample, 0)
		}
	}
	sc.DurationSamples = max(sc.DurationSamples, frames+skipped)
	sc.DurationSeconds = float64(sc.DurationSamples) / SampleRate
	if !sc.Start.IsZero() {
		sc.End = sc.Start.Add(time.Duration(sc.DurationSamples) * sampleDur)
	}
	sc.Size = keep
	sc.SHA256 = sum
	sc.RepairedAt = now
	sc.Revision++
	sc.RepairNote = strings.Join(notes, "; ")
	if err := writeSidecar(cfg.fs, dir, &sc); err != nil {
		res.Err = fmt.Errorf("repair %s: sidecar: %w", id, err)
		return res, true
	}
	res.Status = sc.Status
	res.FileSamples = frames
	res.Note = sc.RepairNote
	return res, true
}
