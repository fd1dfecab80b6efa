package mask

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
)

// TestOnsetDelayMeasured measures what the look-ahead rests on: how far
// past the end of the packet holding a tone's first sample the detector
// must be fed before it returns MaskStart, over all 160 onset phases, all
// keys, -10 to -25 dBm0 (and the weakest mask-only level), 40 ms tones,
// through G.711 with a low noise floor. The release guard waits for
// dtmf.MaskLag-1 = 259 samples (two 20 ms packets); the measured worst case
// must stay within it, and MaskStart.Pos must never be after the onset.
func TestOnsetDelayMeasured(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	var past []int // samples fed past the onset packet's end at MaskStart
	var early []int
	for i := 0; i < 16*frame/2; i++ {
		lv := []float64{-10, -15, -20, -25, -33}[i%5]
		at := 1600 + (i*7)%frame
		sig := make([]float64, 4800)
		for j := range sig {
			sig[j] = 20 * r.NormFloat64()
		}
		burst{key: keys[i%16], at: at, dur: 40 * msS, dbm0: lv}.add(sig, r)
		pcm := clip(sig)
		codes := make([]byte, len(pcm))
		g711.EncodeUlaw(codes, pcm)
		g711.DecodeUlaw(pcm, codes)
		d := dtmf.NewDetector()
		var evs []dtmf.Event
		onsetEnd := (at/frame + 1) * frame
		found := false
		for f := 0; f+frame <= len(pcm) && !found; f += frame {
			evs = d.Process(pcm[f:f+frame], evs[:0])
			for _, e := range evs {
				if e.Kind == dtmf.MaskStart {
					past = append(past, int(d.Pos())-onsetEnd)
					early = append(early, at-int(e.Pos))
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("tone at %d, %g dBm0: no MaskStart", at, lv)
		}
	}
	slices.Sort(past)
	slices.Sort(early)
	q := func(v []int, p float64) float64 { return float64(v[min(len(v)-1, int(p*float64(len(v))))]) / msS }
	t.Logf("%d tones: fed past the onset packet at MaskStart p50 %.1f ms p99 %.1f ms max %.1f ms (guard %.1f ms); MaskStart.Pos before onset p50 %.1f max %.1f ms",
		len(past), q(past, 0.5), q(past, 0.99), q(past, 1), float64(dtmf.MaskLag-1)/msS, q(early, 0.5), q(early, 1))
	if past[len(past)-1] > dtmf.MaskLag-1 {
		t.Fatalf("detector needed %d samples past the packet, guard is %d", past[len(past)-1], dtmf.MaskLag-1)
	}
	if early[0] < 0 {
		t.Fatalf("MaskStart.Pos %d samples after the onset", -early[0])
	}
}
