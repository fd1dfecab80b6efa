package mask

import (
	"math"

	"github.com/hushmedia/hush/media/g711"
)

// The masking audio. Every replacement is a function of the detector
// timeline position, so a tone stays phase-continuous across packets and
// across spans however the packets were cut.

// sineTab holds one period of the masking tone's waveform at ToneLevel
// sampled at 8000 points: the sample at timeline position pos of a tone of
// f Hz is sineTab[pos*f mod 8000]. Read-only after start-up, like the
// G.711 tables.
var sineTab = func() *[8000]int16 {
	var t [8000]int16
	a := g711.Peak0dBm0 * math.Pow(10, ToneLevel/20.0)
	for i := range t {
		t[i] = int16(math.Round(a * math.Sin(2*math.Pi*float64(i)/8000)))
	}
	return &t
}()

// noiseAmp is the peak of the uniform comfort noise: about -60 dBm0 RMS
// (uniform noise of peak a has RMS a/sqrt(3)).
var noiseAmp = uint32(math.Round(g711.Peak0dBm0 / math.Sqrt2 * math.Pow(10, -60/20.0) * math.Sqrt(3)))

// generator writes masking audio into G.711 payload bytes.
type generator struct {
	mode  Mode
	hz    int64
	noise uint32 // xorshift32 state, never 0
}

// fill replaces codes[i] for every i with mark[i] set by the masking audio
// for timeline positions pos0+i, encoded with codec. It returns the count.
func (g *generator) fill(codes []byte, mark []bool, pos0 int64, codec Codec) int {
	enc := g711.LinearToUlaw
	if codec == CodecPCMA {
		enc = g711.LinearToAlaw
	}
	n := 0
	switch g.mode {
	case ModeTone:
		phase := (pos0 % 8000) * g.hz % 8000
		if phase < 0 {
			phase += 8000
		}
		for i := range codes {
			if mark[i] {
				codes[i] = enc(sineTab[phase])
				n++
			}
			if phase += g.hz; phase >= 8000 {
				phase -= 8000
			}
		}
	case ModeComfortNoise:
		span := 2*noiseAmp + 1
		for i := range codes {
			if mark[i] {
				x := g.noise
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				g.noise = x
				codes[i] = enc(int16(int32(x%span) - int32(noiseAmp)))
				n++
			}
		}
	default: // silence; also the fail-closed choice for anything else
		s := g711.UlawSilence
		if codec == CodecPCMA {
			s = g711.AlawSilence
		}
		for i := range codes {
			if mark[i] {
				codes[i] = s
				n++
			}
		}
	}
	return n
}
