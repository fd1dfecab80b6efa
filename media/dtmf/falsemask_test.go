package dtmf

import (
	"fmt"
	"sort"
	"testing"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
)

// maskTally is what the detector did over keyless audio.
type maskTally struct {
	samples, masked int64
	spans           []int64 // lengths of the masks
	digits          int
	notched         int64   // samples in notch spans
	notchSpans      []int64 // their lengths
	lowNotches      int     // notches that took a low tone too
}

func (m *maskTally) String() string {
	s := append([]int64(nil), m.spans...)
	sort.Slice(s, func(i, j int) bool { return s[i] > s[j] })
	longest := int64(0)
	if len(s) > 0 {
		longest = s[0]
	}
	n := append([]int64(nil), m.notchSpans...)
	sort.Slice(n, func(i, j int) bool { return n[i] > n[j] })
	nlongest := int64(0)
	if len(n) > 0 {
		nlongest = n[0]
	}
	return fmt.Sprintf("%.1f min: %d digits, %d masks, masked %.3f s = %.4f %%, longest %.1f ms; %d notches (%d with a low tone), notched %.4f %%, longest %.1f ms",
		float64(m.samples)/SampleRate/60, m.digits, len(m.spans), float64(m.masked)/SampleRate,
		100*float64(m.masked)/float64(m.samples), float64(longest)/8,
		len(m.notchSpans), m.lowNotches, 100*float64(m.notched)/float64(m.samples), float64(nlongest)/8)
}

// tallyMasks runs pcm through a fresh detector in 20 ms frames (then silence, so every
// mask closes) and adds what it masked to m.
func tallyMasks(m *maskTally, pcm []int16) {
	d := NewDetector()
	evs := make([]Event, 0, 16)
	open, nopen := int64(-1), int64(-1)
	var lows uint8
	apply := func() {
		for _, e := range evs {
			switch e.Kind {
			case NotchStart:
				// Another NotchStart while open adds tones: the notch runs
				// from the earliest.
				if nopen < 0 || e.Pos < nopen {
					nopen = e.Pos
				}
				lows |= e.Tones &^ NotchHigh
			case NotchEnd:
				m.notchSpans = append(m.notchSpans, e.Pos-nopen)
				m.notched += e.Pos - nopen
				nopen = -1
				if lows != 0 {
					m.lowNotches++
				}
				lows = 0
			case DigitStart:
				m.digits++
			case MaskStart:
				open = e.Pos
			case MaskEnd:
				m.spans = append(m.spans, e.Pos-open)
				m.masked += e.Pos - open
				open = -1
			}
		}
	}
	for i := 0; i < len(pcm); i += 160 {
		evs = d.Process(pcm[i:min(i+160, len(pcm))], evs[:0])
		apply()
	}
	evs = d.Skip(2000, evs[:0])
	apply()
	m.samples += int64(len(pcm))
}

// The bar for false masks over keyless speech and music: at most 0.5 % of the time
// masked, and no false mask longer than 100 ms.
const (
	falseMaskPct     = 0.5
	falseMaskLongest = 100 * 8 // samples
)

// TestFalseMasks: over the speech corpus and the music on hold of media/corpus, with no
// keys, through both G.711 laws, no digit is reported and the mask holds the bar (at most
// falseMaskPct of the time, no span over falseMaskLongest). It logs the figures
// docs/MASKING.md reports, the notch's among them.
func TestFalseMasks(t *testing.T) {
	speech := dtmftest.Carrier(t, corpus.Files)
	music := dtmftest.Carrier(t, corpus.MusicFiles)
	for _, src := range []struct {
		name string
		sig  []float64
	}{{"speech", speech}, {"music", music}} {
		for _, l := range []law{ulaw, alaw} {
			var m maskTally
			tallyMasks(&m, quantise(src.sig, l))
			t.Logf("%s %v: %v", src.name, l, &m)
			if m.digits != 0 {
				t.Errorf("%s %v: %d digits reported", src.name, l, m.digits)
			}
			if pct := 100 * float64(m.masked) / float64(m.samples); pct > falseMaskPct {
				t.Errorf("%s %v: masked %.3f %% of the time (bar %.1f %%)", src.name, l, pct, falseMaskPct)
			}
			for _, s := range m.spans {
				if s > falseMaskLongest {
					t.Errorf("%s %v: a false mask of %.1f ms (bar %d ms)", src.name, l, float64(s)/8, falseMaskLongest/8)
				}
			}
		}
	}
}

// BenchmarkDetectorSources reports the cost of one 20 ms frame of real speech and music on
// hold (the corpus), noise and a held key, through mu-law: the mask's evidence costs most
// where sound fills the DTMF band.
func BenchmarkDetectorSources(b *testing.B) {
	srcs := []struct {
		name string
		pcm  func() []int16
	}{
		{"speech", func() []int16 { return quantise(dtmftest.Speech(b, 120*SampleRate, 0), ulaw) }},
		{"music", func() []int16 { return quantise(dtmftest.Carrier(b, corpus.MusicFiles)[:120*SampleRate], ulaw) }},
		{"noise", func() []int16 { return benchSignal("noise") }},
		{"tone", func() []int16 { return benchSignal("tone") }},
	}
	for _, src := range srcs {
		b.Run(src.name, func(b *testing.B) {
			pcm := src.pcm()
			d := NewDetector()
			evs := make([]Event, 0, 8)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i+160 > len(pcm) {
					i = 0
				}
				evs = d.Process(pcm[i:i+160], evs[:0])
				i += 160
			}
		})
	}
}
