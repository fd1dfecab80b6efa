package mask

import (
	"math"

	"github.com/hushmedia/hush/media/g711"
)

// The notch: where the detector sees weak DTMF-like evidence (NotchStart/
// NotchEnd), the masker removes the DTMF bands from the audio instead of
// replacing it. A key, and any decoder, needs both tones; speech or music
// loses only the narrow bands around the eight DTMF frequencies.

// Each DTMF frequency f gets notchSections second-order notches at
// f(1+s) for s in notchSpread, each of bandwidth notchBW Hz: together at
// least 12 dB down over f +-2.5 % (an off-frequency key), and within 1 dB
// of unity 10 % from every DTMF frequency.
var notchSpread = [...]float64{-0.018, 0, 0.018}

const (
	notchBW       = 60.0
	notchSections = 8 * len(notchSpread)
)

// biquad is a second-order section y = (b0 + b1 z^-1 + b2 z^-2) x /
// (1 + a1 z^-1 + a2 z^-2); a notch has b2 = b0.
type biquad struct{ b0, b1, a1, a2 float64 }

var notchBank = func() (q [notchSections]biquad) {
	i := 0
	r := math.Exp(-math.Pi * notchBW / 8000)
	for _, f := range dtmfFreqs {
		for _, s := range notchSpread {
			c := math.Cos(2 * math.Pi * f * (1 + s) / 8000)
			g := (1 + r*r) / 2 // unity gain far from the notch
			q[i] = biquad{b0: g, b1: -2 * c * g, a1: -2 * r * c, a2: r * r}
			i++
		}
	}
	return q
}()

// notchFilter is the bank's state along one output (forwarded or
// recorded): it runs over the timeline in order and starts from rest
// wherever the notched samples are not contiguous.
type notchFilter struct {
	next int64 // timeline position of the next sample it expects
	on   bool
	x    [notchSections][2]float64 // each section's last two inputs
	y    [notchSections][2]float64 // and outputs
}

// apply notches the samples of codes (law, at timeline position pos0)
// that lie in spans and are not set in skip (replaced anyway; the filter
// still runs over them), re-encoding them in place. It returns the count
// of samples changed.
func (f *notchFilter) apply(codes []byte, skip []bool, pos0 int64, law g711.Law, spans []span) int {
	n := 0
	p1 := pos0 + int64(len(codes))
	for _, sp := range spans {
		from, to := max(sp.start, pos0), min(sp.end, p1)
		if from >= to {
			continue
		}
		if !f.on || f.next != from {
			f.x, f.y = [notchSections][2]float64{}, [notchSections][2]float64{}
			f.on = true
		}
		for p := from; p < to; p++ {
			i := int(p - pos0)
			var v float64
			if law == g711.Alaw {
				v = float64(g711.AlawToLinear(codes[i]))
			} else {
				v = float64(g711.UlawToLinear(codes[i]))
			}
			for s := range notchBank {
				q, x, y := &notchBank[s], &f.x[s], &f.y[s]
				out := q.b0*(v+x[1]) + q.b1*x[0] - q.a1*y[0] - q.a2*y[1]
				x[1], x[0] = x[0], v
				y[1], y[0] = y[0], out
				v = out
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
			n++
		}
		f.next = to
	}
	return n
}
