package dtmf

import (
	"math"
	"math/rand/v2"

	"github.com/hushmedia/hush/media/g711"
)

// Test signal generation. Levels are dBm0 per tone, with 0 dBm0 the G.711
// sine of peak amplitude g711.Peak0dBm0 (see package g711).

type law int

const (
	linear law = iota
	ulaw
	alaw
)

func (l law) String() string { return [...]string{"linear", "ulaw", "alaw"}[l] }

var digitKeys = "0123456789*#ABCD"

// tonePair returns the nominal low and high frequencies of a key.
func tonePair(key byte) (lo, hi float64) {
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			if keypad[r][c] == key {
				return toneFreqs[r], toneFreqs[c+4]
			}
		}
	}
	panic("not a key")
}

func peak(dbm0 float64) float64 { return g711.Peak0dBm0 * math.Pow(10, dbm0/20) }

// tone describes one DTMF burst.
type tone struct {
	key           byte
	at, dur       int     // samples
	lowDB, highDB float64 // dBm0 per tone
	lowOff, hiOff float64 // relative frequency offset
	phLow, phHigh float64 // start phases
	gapAt, gapDur int     // optional interruption inside the tone (relative to at)
}

// add mixes the burst into sig.
func (t tone) add(sig []float64) {
	fl, fh := tonePair(t.key)
	fl *= 1 + t.lowOff
	fh *= 1 + t.hiOff
	al, ah := peak(t.lowDB), peak(t.highDB)
	wl, wh := 2*math.Pi*fl/SampleRate, 2*math.Pi*fh/SampleRate
	for n := 0; n < t.dur && t.at+n < len(sig); n++ {
		if t.gapDur > 0 && n >= t.gapAt && n < t.gapAt+t.gapDur {
			continue
		}
		sig[t.at+n] += al*math.Sin(wl*float64(n)+t.phLow) + ah*math.Sin(wh*float64(n)+t.phHigh)
	}
}

// addNoise adds white Gaussian noise of the given power (linear units^2).
func addNoise(sig []float64, power float64, r *rand.Rand) {
	s := math.Sqrt(power)
	for i := range sig {
		sig[i] += s * r.NormFloat64()
	}
}

// addSine adds a continuous sine (dial tone components).
func addSine(sig []float64, f, dbm0 float64) {
	a := peak(dbm0)
	w := 2 * math.Pi * f / SampleRate
	for i := range sig {
		sig[i] += a * math.Sin(w*float64(i))
	}
}

// quantise clips to int16 and passes the signal through a G.711 round trip.
func quantise(sig []float64, l law) []int16 {
	out := make([]int16, len(sig))
	for i, v := range sig {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	codes := make([]byte, len(out))
	switch l {
	case ulaw:
		g711.EncodeUlaw(codes, out)
		g711.DecodeUlaw(out, codes)
	case alaw:
		g711.EncodeAlaw(codes, out)
		g711.DecodeAlaw(out, codes)
	}
	return out
}

// run feeds pcm in frames of frameLen and returns the events with the
// detector position at which each was returned.
type emitted struct {
	Event
	at int64 // d.Pos() after the Process call that returned it
}

func run(d *Detector, pcm []int16, frameLen int) []emitted {
	var out []emitted
	evs := make([]Event, 0, 8)
	for i := 0; i < len(pcm); i += frameLen {
		evs = d.Process(pcm[i:min(i+frameLen, len(pcm))], evs[:0])
		for _, e := range evs {
			out = append(out, emitted{e, d.Pos()})
		}
	}
	return out
}

// digitsOf returns the keys of the DigitStart events.
func digitsOf(evs []emitted) string {
	var b []byte
	for _, e := range evs {
		if e.Kind == DigitStart {
			b = append(b, e.Digit)
		}
	}
	return string(b)
}

// maskIntervals pairs MaskStart/MaskEnd events (an open mask runs to end).
func maskIntervals(evs []emitted, end int64) [][2]int64 {
	var iv [][2]int64
	open := int64(-1)
	for _, e := range evs {
		switch e.Kind {
		case MaskStart:
			open = e.Pos
		case MaskEnd:
			if open >= 0 {
				iv = append(iv, [2]int64{open, e.Pos})
			}
			open = -1
		}
	}
	if open >= 0 {
		iv = append(iv, [2]int64{open, end})
	}
	// Touching intervals (a mask that closed in a tone break and reopened
	// where it ended) cover as one.
	var merged [][2]int64
	for _, v := range iv {
		if n := len(merged); n > 0 && v[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], v[1])
			continue
		}
		merged = append(merged, v)
	}
	return merged
}

// covered reports whether [a, b) lies inside one mask interval.
func covered(iv [][2]int64, a, b int64) bool {
	for _, v := range iv {
		if v[0] <= a && b <= v[1] {
			return true
		}
	}
	return false
}

// overlaps reports whether [a, b) meets a mask interval.
func overlaps(iv [][2]int64, a, b int64) bool {
	for _, v := range iv {
		if v[0] < b && a < v[1] {
			return true
		}
	}
	return false
}
