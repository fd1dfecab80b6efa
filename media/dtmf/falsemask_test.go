package dtmf

import (
	"fmt"
	"sort"
	"testing"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
)

// maskTally is what the detector did over keyless audio.
type maskTally struct {
	samples, masked int64
	spans           []int64 // lengths of the masks
	digits          int
}

func (m *maskTally) String() string {
	s := append([]int64(nil), m.spans...)
	sort.Slice(s, func(i, j int) bool { return s[i] > s[j] })
	longest := int64(0)
	if len(s) > 0 {
		longest = s[0]
	}
	return fmt.Sprintf("%.1f min: %d digits, %d masks, masked %.3f s = %.4f %%, longest %.1f ms",
		float64(m.samples)/SampleRate/60, m.digits, len(m.spans), float64(m.masked)/SampleRate,
		100*float64(m.masked)/float64(m.samples), float64(longest)/8)
}

// tallyMasks runs pcm through a fresh detector in 20 ms frames (then silence, so every
// mask closes) and adds what it masked to m.
func tallyMasks(m *maskTally, pcm []int16) {
	d := NewDetector()
	evs := make([]Event, 0, 16)
	open := int64(-1)
	apply := func() {
		for _, e := range evs {
			switch e.Kind {
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

// falseMaskGuard is what TestFalseMasks holds the mask to, per source: the share of time
// masked and the longest false mask. The bar (docs/MASKING.md) is 0.5 % and 100 ms; the
// mask's stronger evidence for keys over speech and music does not meet it yet on generated
// music nor in its longest spans, so these hold today's figures: a change that masks more
// fails.
var falseMaskGuard = map[string]struct {
	pct     float64
	longest int64 // samples
}{
	"speech": {0.55, 160 * 8},
	"music":  {1.2, 500 * 8},
}

// TestFalseMasks: over the speech corpus and generated music on hold, with no keys, through
// both G.711 laws, no digit is reported, and the mask covers no more time, nor longer spans,
// than falseMaskGuard allows. It logs the figures docs/MASKING.md reports.
func TestFalseMasks(t *testing.T) {
	speech := dtmftest.Speech(t, 0, 0)
	var music []float64
	for seed := range uint64(6) {
		music = append(music, dtmftest.Music(60*SampleRate, -20+3*float64(int(seed%3)-1), seed+1)...)
	}
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
			g := falseMaskGuard[src.name]
			if pct := 100 * float64(m.masked) / float64(m.samples); pct > g.pct {
				t.Errorf("%s %v: masked %.3f %% of the time, guard %.2f %% (bar 0.5 %%)", src.name, l, pct, g.pct)
			}
			long := 0
			for _, s := range m.spans {
				if s > 100*8 {
					long++
				}
				if s > g.longest {
					t.Errorf("%s %v: a false mask of %.1f ms, guard %d ms (bar 100 ms)", src.name, l, float64(s)/8, g.longest/8)
				}
			}
			t.Logf("%s %v: %d false masks longer than 100 ms", src.name, l, long)
		}
	}
}

// BenchmarkDetectorSources reports the cost of one 20 ms frame of real speech (the corpus),
// generated music, noise and a held key, through mu-law: the mask's evidence costs most
// where sound fills the DTMF band.
func BenchmarkDetectorSources(b *testing.B) {
	srcs := []struct {
		name string
		pcm  func() []int16
	}{
		{"speech", func() []int16 { return quantise(dtmftest.Speech(b, 0, 0)[:120*SampleRate], ulaw) }},
		{"music", func() []int16 { return quantise(dtmftest.Music(60*SampleRate, -20, 1), ulaw) }},
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
