package dtmf

import (
	"path/filepath"
	"testing"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
)

// TestTalkOff runs the Asterisk English prompts (about 25 minutes of real
// speech) through G.711 and the detector: no digit may be reported and the
// mask may cover at most 0.1 % of the time.
func TestTalkOff(t *testing.T) {
	files, prompts := dtmftest.Prompts(t, corpus.AllFiles)
	for _, l := range []law{ulaw, alaw} {
		d := NewDetector()
		var total, masked int64
		var digits int
		var masks int
		evs := make([]Event, 0, 8)
		var worst []string
		maskFiles := map[string]int{}
		for fi, s := range prompts {
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
			l, len(prompts), float64(total)/SampleRate/60, digits, masks, float64(masked)/SampleRate, pct)
		if l == ulaw {
			t.Logf("masks by file: %v", maskFiles)
		}
		if digits != 0 {
			t.Errorf("%s: %d digits reported on speech (in %v)", l, digits, worst)
		}
		if pct > 0.1 {
			t.Errorf("%s: masked %.4f %% of speech, limit 0.1 %%", l, pct)
		}
	}
}
