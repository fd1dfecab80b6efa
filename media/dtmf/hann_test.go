package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// hannHarm gives bit for bit what hannDFT2 and harmPower give, for every
// window position in the history ring (wrapped or not), every pair, with
// and without the earlier window, over noise, tones, extremes and silence.
func TestHannHarmMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var hist [histLen]int16
	for c := range 4000 {
		for i := range hist {
			switch c % 4 {
			case 0:
				hist[i] = int16(r.IntN(65536) - 32768)
			case 1:
				hist[i] = int16(r.IntN(65536)-32768) >> r.IntN(16)
			case 2:
				hist[i] = int16(math.Round(20000 * math.Sin(2*math.Pi*(650+1000*r.Float64())*float64(i)/SampleRate)))
			case 3:
				hist[i] = int16(-32768 + 65535*(i%2))
			}
		}
		if c == 0 {
			clear(hist[:])
		}
		start := subLen * int64(1+r.IntN(20))
		lo, hi := r.IntN(4), 4+r.IntN(4)
		prev := c%3 != 0
		cur, before, harm := hannHarm(&hist, start, lo, hi, prev)
		var want, wantBefore [4]float64
		want[0], want[1], want[2], want[3] = hannDFT2(&hist, start, lo, hi)
		if prev {
			wantBefore[0], wantBefore[1], wantBefore[2], wantBefore[3] = hannDFT2(&hist, start-subLen, lo, hi)
		}
		wantHarm := harmPower(&hist, start, hi)
		if cur != want || before != wantBefore || math.Float64bits(harm) != math.Float64bits(wantHarm) {
			t.Fatalf("case %d start %d tones %d %d prev %v:\n got %v %v %g\nwant %v %v %g", c, start, lo, hi, prev, cur, before, harm, want, wantBefore, wantHarm)
		}
	}
}
