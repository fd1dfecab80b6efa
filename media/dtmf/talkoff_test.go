package dtmf

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// speechDir is where Debian's asterisk-core-sounds-en-wav installs the
// English prompts (a symlink through /etc/alternatives).
const speechDir = "/usr/share/asterisk/sounds/en"

// readWAV16 returns the samples of a 16-bit mono 8 kHz PCM WAV file, or an
// error for anything else. A minimal RIFF walk: "fmt " then "data".
func readWAV16(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not RIFF/WAVE")
	}
	fmtOK := false
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := b[p+8 : min(p+8+size, len(b))]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, errors.New("short fmt chunk")
			}
			format := binary.LittleEndian.Uint16(body[0:2])
			ch := binary.LittleEndian.Uint16(body[2:4])
			rate := binary.LittleEndian.Uint32(body[4:8])
			bitsPer := binary.LittleEndian.Uint16(body[14:16])
			if format != 1 || ch != 1 || rate != SampleRate || bitsPer != 16 {
				return nil, errors.New("not 16-bit mono 8 kHz PCM")
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, errors.New("data before fmt")
			}
			out := make([]int16, len(body)/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return out, nil
		}
		p += 8 + size + size&1
	}
	return nil, errors.New("no data chunk")
}

// speechCorpus loads every usable WAV under speechDir, sorted by path, or
// skips (fails under CI=true) when the package is not installed.
func speechCorpus(t *testing.T) (files []string, pcm [][]int16) {
	t.Helper()
	root, err := filepath.EvalSymlinks(speechDir)
	if err == nil {
		_, err = os.Stat(root)
	}
	if err != nil {
		msg := "speech corpus missing: install Debian package asterisk-core-sounds-en-wav (" + err.Error() + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var paths []string
	filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".wav") {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths)
	for _, p := range paths {
		s, err := readWAV16(p)
		if err != nil {
			t.Logf("skipping %s: %v", p, err)
			continue
		}
		files = append(files, p)
		pcm = append(pcm, s)
	}
	if len(files) == 0 {
		t.Fatal("no usable WAV files under " + root)
	}
	return files, pcm
}

// TestTalkOff runs the Asterisk English prompts (about 25 minutes of real
// speech) through G.711 and the detector: no digit may be reported and the
// mask may cover no more of the time than the bar (falseMaskPct).
func TestTalkOff(t *testing.T) {
	files, corpus := speechCorpus(t)
	for _, l := range []law{ulaw, alaw} {
		d := NewDetector()
		var total, masked int64
		var digits int
		var masks int
		evs := make([]Event, 0, 8)
		var worst []string
		maskFiles := map[string]int{}
		for fi, s := range corpus {
			f := make([]float64, len(s))
			for i, v := range s {
				f[i] = float64(v)
			}
			pcm := quantise(f, l)
			open := int64(-1)
			for i := 0; i < len(pcm); i += 160 {
				evs = d.Process(pcm[i:min(i+160, len(pcm))], evs[:0])
				for _, e := range evs {
					switch e.Kind {
					case DigitStart:
						digits++
						worst = append(worst, filepath.Base(files[fi]))
					case MaskStart:
						open = e.Pos
						masks++
						if l == ulaw {
							maskFiles[filepath.Base(files[fi])]++
						}
					case MaskEnd:
						masked += e.Pos - open
						open = -1
					}
				}
			}
			total += int64(len(pcm))
			// Close the file with silence so masks end inside it.
			evs = d.Skip(2000, evs[:0])
			for _, e := range evs {
				switch e.Kind {
				case DigitStart:
					digits++
				case MaskEnd:
					masked += e.Pos - open
				}
			}
		}
		pct := 100 * float64(masked) / float64(total)
		t.Logf("talk-off %s: %d files, %.1f min of speech: %d digit events, %d masks, masked %.3f s = %.4f %%",
			l, len(corpus), float64(total)/SampleRate/60, digits, masks, float64(masked)/SampleRate, pct)
		if l == ulaw {
			t.Logf("masks by file: %v", maskFiles)
		}
		if digits != 0 {
			t.Errorf("%s: %d digits reported on speech (in %v)", l, digits, worst)
		}
		if pct > falseMaskPct {
			t.Errorf("%s: masked %.4f %% of speech (bar %.1f %%)", l, pct, falseMaskPct)
		}
	}
}
