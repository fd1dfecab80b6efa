package mask

import (
	"math"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
)

// The notch: where the detector sees weak DTMF-like evidence (NotchStart/
// NotchEnd), the masker removes the bands of the DTMF frequencies it names
// (the four high ones always, a low one once a pair shows it) instead of
// replacing the audio. A key, and any decoder, needs both tones; a voice
// or music loses only narrow bands (the high group's hold about 3 % of a
// voice's energy).

// Each DTMF frequency f gets notchSections second-order notches at
// f(1+s) for s in notchSpread, each of bandwidth notchBW Hz: together at
// least 12 dB down over f +-2.5 % (an off-frequency key), and within 1 dB
// of unity 10 % from every DTMF frequency.
var notchSpread = [...]float64{-0.018, 0, 0.018}

const (
	notchBW       = 60.0
	notchSections = len(notchSpread)
)

// biquad is a second-order section y = (b0 + b1 z^-1 + b0 z^-2) x /
// (1 + a1 z^-1 + a2 z^-2): a notch.
type biquad struct{ b0, b1, a1, a2 float64 }

// notchBank[k] are the sections of DTMF frequency k (697 Hz first).
var notchBank = func() (q [8][notchSections]biquad) {
	r := math.Exp(-math.Pi * notchBW / 8000)
	for k, f := range dtmfFreqs {
		for i, s := range notchSpread {
			c := math.Cos(2 * math.Pi * f * (1 + s) / 8000)
			g := (1 + r*r) / 2 // unity gain far from the notch
			q[k][i] = biquad{b0: g, b1: -2 * c * g, a1: -2 * r * c, a2: r * r}
		}
	}
	return q
}()

// notchSpan is a notched interval [start, end) of the detector timeline
// and the DTMF frequencies it takes out (dtmf.Event.Tones). Open while end
// is math.MaxInt64.
type notchSpan struct {
	start, end int64
	tones      uint8
}

// notchFilter is the bank's state along one output (forwarded or
// recorded): it runs over the timeline in order, one frequency's sections
// wherever a span names it, each starting from rest where its notched
// samples are not contiguous.
type notchFilter struct {
	next [8]int64 // timeline position of the sample each frequency's sections expect next
	st   [8][notchSections]biquadState
}

type biquadState struct{ x1, x2, y1, y2 float64 }

// apply notches the samples of codes (law, at timeline position pos0)
// that lie in spans and are not set in skip (replaced anyway; the filter
// still runs over them), re-encoding them in place. It returns the count
// of samples changed.
func (f *notchFilter) apply(codes []byte, skip []bool, pos0 int64, law g711.Law, spans []notchSpan) int {
	p1 := pos0 + int64(len(codes))
	// The spans over this stretch (at most maxSpans).
	var over [maxSpans]notchSpan
	n := 0
	for _, sp := range spans {
		if sp.start < p1 && sp.end > pos0 {
			over[n] = sp
			n++
		}
	}
	if n == 0 {
		return 0
	}
	changed := 0
	for i := range codes {
		p := pos0 + int64(i)
		var tones uint8
		for _, sp := range over[:n] {
			if p >= sp.start && p < sp.end {
				tones |= sp.tones
			}
		}
		if tones == 0 {
			continue
		}
		var v float64
		if law == g711.Alaw {
			v = float64(g711.AlawToLinear(codes[i]))
		} else {
			v = float64(g711.UlawToLinear(codes[i]))
		}
		for k := range 8 {
			if tones&(1<<k) == 0 {
				continue
			}
			if f.next[k] != p {
				f.st[k] = [notchSections]biquadState{}
			}
			f.next[k] = p + 1
			for j := range notchSections {
				q, s := &notchBank[k][j], &f.st[k][j]
				y := q.b0*(v+s.x2) + q.b1*s.x1 - q.a1*s.y1 - q.a2*s.y2
				s.x2, s.x1 = s.x1, v
				s.y2, s.y1 = s.y1, y
				v = y
			}
		}
		if skip != nil && skip[i] {
			continue
		}
		s := int16(max(-32768, min(32767, math.Round(v))))
		if law == g711.Alaw {
			codes[i] = g711.LinearToAlaw(s)
		} else {
			codes[i] = g711.LinearToUlaw(s)
		}
		changed++
	}
	return changed
}

// notchEvent applies a detector NotchStart or NotchEnd to the spans.
func (k *Masker) notchEvent(e dtmf.Event) {
	if e.Kind == dtmf.NotchStart {
		if k.nnotches == maxSpans {
			// Full: drop the span that ended first (it is the furthest
			// behind what is still queued).
			victim := -1
			for i := range k.nnotches {
				if k.notches[i].end != math.MaxInt64 && (victim < 0 || k.notches[i].end < k.notches[victim].end) {
					victim = i
				}
			}
			if victim < 0 {
				victim = 0
			}
			k.nnotches--
			k.notches[victim] = k.notches[k.nnotches]
		}
		k.notches[k.nnotches] = notchSpan{start: e.Pos, end: math.MaxInt64, tones: e.Tones}
		k.nnotches++
		return
	}
	for i := range k.nnotches {
		if k.notches[i].end == math.MaxInt64 {
			k.notches[i].end = e.Pos
		}
	}
}
