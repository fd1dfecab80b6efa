package record

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hushmedia/hush/media/record/seal"
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
		if strings.HasSuffix(name, ".json.tmp") || strings.HasSuffix(name, ".wav.tmp") {
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

	sc, key, scErr := readSidecar(cfg, jsonPath)
	if sealErr(scErr) {
		// Sealed with a key this keyring lacks, or altered: leave it as it is
		// (rebuilding it would lose what it holds).
		res.Err = scErr
		return res, true
	}
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
		if err := writeSidecar(cfg.fs, dir, &sc, key); err != nil {
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
	var magic [len(seal.Magic)]byte
	if n, _ := f.ReadAt(magic[:], 0); seal.IsSealed(magic[:n]) {
		return repairSealed(cfg, dir, f, size, sc, scErr, res)
	}
	var hb [maxHeaderSize]byte
	n, _ := f.ReadAt(hb[:], 0)
	format, hdr, herr := headerOf(hb[:n], &sc)
	hs, fb := format.headerSize(), format.frameBytes()
	dataBytes := max(size-hs, 0)
	frames := min(dataBytes/fb, format.maxData()/fb)
	consistent := herr == nil && int64(hdr.dataSize) == dataBytes && int64(hdr.riffSize) == dataBytes+hs-8 &&
		dataBytes%fb == 0
	if scErr == nil && sc.Status != StatusInProgress && consistent {
		return res, false
	}

	keep := hs + frames*fb
	if size > keep {
		if err := f.Truncate(keep); err != nil {
			res.Err = fmt.Errorf("repair %s: truncate: %w", wavPath, err)
			return res, true
		}
		res.TruncatedBytes = size - keep
	}
	putFormatHeader(hb[:], format, uint32(frames*fb))
	if _, err := f.WriteAt(hb[:hs], 0); err != nil {
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
	if herr != nil {
		notes = append(notes, "header rewritten")
	} else if !consistent {
		notes = append(notes, fmt.Sprintf("header said %d data bytes, file had %d", hdr.dataSize, dataBytes))
	}
	if res.TruncatedBytes > 0 {
		notes = append(notes, fmt.Sprintf("truncated %d bytes of a partial frame", res.TruncatedBytes))
	}
	return repaired(cfg, dir, sc, nil, format, res, frames, keep, sum, notes)
}

// headerOf reads a WAV header of either format; when it does not parse, the
// format is the sidecar's.
func headerOf(b []byte, sc *Sidecar) (Format, wavHeader, error) {
	format, hdr, err := parseFormatHeader(b)
	if err != nil && sc.Encoding == "ulaw" {
		format = FormatULaw
	} else if err != nil {
		format = FormatPCM16
	}
	return format, hdr, err
}

// sealErr reports errors that say a sealed file cannot be opened with the
// keys at hand, or was altered: Repair leaves such files alone.
func sealErr(err error) bool {
	for _, e := range []error{seal.ErrUnknownKey, seal.ErrUnwrap, seal.ErrWrongRecording, seal.ErrTampered, seal.ErrBadHeader} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// repairSealed repairs a sealed WAV: the records that authenticate are kept
// (a crash cuts at most the one being appended), the plaintext is cut to
// whole stereo frames, and the result is written as a new sealed file with
// the same data key, ending in a final record, then renamed over the old.
func repairSealed(cfg *config, dir string, f File, size int64, sc Sidecar, scErr error, res RepairResult) (RepairResult, bool) {
	id := res.RecordingID
	wavPath := filepath.Join(dir, id+".wav")
	rd, err := seal.Open(f, size, cfg.keyring, id)
	if err != nil {
		res.Err = fmt.Errorf("repair %s: %w", wavPath, err)
		return res, true
	}
	psize := rd.Size()
	var hb [maxHeaderSize]byte
	n, _ := rd.ReadAt(hb[:], 0)
	format, hdr, herr := headerOf(hb[:n], &sc)
	hs, fb := format.headerSize(), format.frameBytes()
	dataBytes := max(psize-hs, 0)
	frames := min(dataBytes/fb, format.maxData()/fb)
	consistent := herr == nil && int64(hdr.dataSize) == dataBytes && int64(hdr.riffSize) == dataBytes+hs-8 &&
		dataBytes%fb == 0 && rd.Final()
	if scErr == nil && sc.Status != StatusInProgress && consistent {
		return res, false
	}
	keep := hs + frames*fb
	sum, err := rewriteSealed(cfg, dir, wavPath, rd, format, frames)
	if err != nil {
		res.Err = fmt.Errorf("repair %s: %w", wavPath, err)
		return res, true
	}
	res.TruncatedBytes = max(psize-keep, 0)
	var notes []string
	if herr != nil {
		notes = append(notes, "header rewritten")
	} else if !consistent && int64(hdr.dataSize) != dataBytes {
		notes = append(notes, fmt.Sprintf("header said %d data bytes, file had %d", hdr.dataSize, dataBytes))
	}
	if t := rd.Tail(); t != "" {
		notes = append(notes, "sealed "+t+": dropped")
	}
	if res.TruncatedBytes > 0 {
		notes = append(notes, fmt.Sprintf("truncated %d bytes of a partial frame", res.TruncatedBytes))
	}
	return repaired(cfg, dir, sc, rd.Key(), format, res, frames, keep, sum, notes)
}

// rewriteSealed writes the header for frames and the audio rd holds up to
// them to a new sealed file, finishes it and renames it over wavPath. It
// returns the SHA-256 of the plaintext WAV.
func rewriteSealed(cfg *config, dir, wavPath string, rd *seal.Reader, format Format, frames int64) (string, error) {
	tmp := wavPath + ".tmp"
	tf, err := cfg.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		tf.Close()
		cfg.fs.Remove(tmp)
		return "", err
	}
	w, err := seal.NewWriter(tf, rd.Key(), seal.KindWAV)
	if err != nil {
		return fail(err)
	}
	h := sha256.New()
	var hb [maxHeaderSize]byte
	hs := format.headerSize()
	putFormatHeader(hb[:], format, uint32(frames*format.frameBytes()))
	if _, err := w.WriteAt(hb[:hs], 0); err != nil {
		return fail(err)
	}
	h.Write(hb[:hs])
	keep := hs + frames*format.frameBytes()
	buf := make([]byte, 1<<20)
	for off := hs; off < keep; {
		k := min(int64(len(buf)), keep-off)
		if _, err := rd.ReadAt(buf[:k], off); err != nil && err != io.EOF {
			return fail(err)
		}
		if _, err := w.WriteAt(buf[:k], off); err != nil {
			return fail(err)
		}
		h.Write(buf[:k])
		off += k
	}
	if err := w.Finish(); err != nil {
		return fail(err)
	}
	if err := w.Sync(); err != nil {
		return fail(err)
	}
	if err := tf.Close(); err != nil {
		cfg.fs.Remove(tmp)
		return "", err
	}
	if err := cfg.fs.Rename(tmp, wavPath); err != nil {
		cfg.fs.Remove(tmp)
		return "", err
	}
	if err := cfg.fs.SyncDir(dir); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// repaired writes the sidecar of a repaired recording: frames kept, the
// file's size and hash, what was done.
func repaired(cfg *config, dir string, sc Sidecar, key *seal.Key, format Format, res RepairResult, frames, keep int64, sum string, notes []string) (RepairResult, bool) {
	id := res.RecordingID
	now := cfg.clock.Now()
	if res.Note != "" {
		notes = append([]string{res.Note}, notes...)
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
	sc.Encrypted = key != nil
	sc.BitsPerSample, sc.Encoding = format.bits(), format.encoding()
	sc.RepairedAt = now
	sc.Revision++
	sc.RepairNote = strings.Join(notes, "; ")
	if err := writeSidecar(cfg.fs, dir, &sc, key); err != nil {
		res.Err = fmt.Errorf("repair %s: sidecar: %w", id, err)
		return res, true
	}
	res.Status = sc.Status
	res.FileSamples = frames
	res.Note = sc.RepairNote
	return res, true
}
