package dtmf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMaskDelay measures how long after a tone's onset the MaskStart event
// is returned (with frames of 10, 20 and 30 ms), over all onset phases,
// all keys, both laws and levels from -10 to -36 dBm0, and checks the lag
// from MaskStart.Pos to the return stays within LookAhead(frame): the
// look-ahead a masker needs.
func TestMaskDelay(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	d := NewDetector()
	for _, frame := range []int{80, 160, 240} {
		var delays []float64
		var lagMax int64
		var over []float64
		for _, lv := range []float64{-10, -25, -36} {
			for _, l := range []law{ulaw, alaw} {
				for ph := 0; ph < frame; ph++ {
					key := digitKeys[ph%16]
					sig := make([]float64, lead+frame+60*ms+tail)
					tn := tone{key: key, at: lead + ph, dur: 60 * ms, lowDB: lv, highDB: lv,
						phLow: r.Float64() * 2 * math.Pi, phHigh: r.Float64() * 2 * math.Pi}
					tn.add(sig)
					d.Reset()
					evs := run(d, quantise(sig, l), frame)
					i := slices.IndexFunc(evs, func(e emitted) bool { return e.Kind == MaskStart })
					if i < 0 {
						t.Fatalf("frame %d %s %g dBm0 key %c at %d: no mask", frame, l, lv, key, tn.at)
					}
					e := evs[i]
					if e.Pos > int64(tn.at) {
						t.Fatalf("MaskStart at %d after onset %d", e.Pos, tn.at)
					}
					delays = append(delays, float64(e.at-int64(tn.at))/ms)
					over = append(over, float64(int64(tn.at)-e.Pos)/ms)
					lagMax = max(lagMax, e.at-e.Pos)
				}
			}
		}
		t.Logf("frame %3d samples: onset to MaskStart returned: p50 %.1f ms, p99 %.1f ms, max %.1f ms; mask starts before onset by p50 %.1f max %.1f ms; max lag %d samples (LookAhead %d)",
			frame, percentile(delays, 0.5), percentile(delays, 0.99), percentile(delays, 1), percentile(over, 0.5), percentile(over, 1), lagMax, LookAhead(frame))
		if lagMax > int64(LookAhead(frame)) {
			t.Errorf("frame %d: lag %d exceeds LookAhead %d", frame, lagMax, LookAhead(frame))
		}
	}
}

// TestLookAheadBound checks the MaskLag promise on noisy and interrupted
// material too, where onset estimates reach furthest back.
func TestLookAheadBound(t *testing.T) {
	for seed := uint64(20); seed < 30; seed++ {
		pcm := mixedSignal(seed)
		d := NewDetector()
		for _, e := range run(d, pcm, 160) {
			if e.Kind == MaskStart && e.at-e.Pos > int64(LookAhead(160)) {
				t.Fatalf("seed %d: MaskStart %d returned at %d: lag %d > %d", seed, e.Pos, e.at, e.at-e.Pos, LookAhead(160))
			}
		}
	}
	if got := fmt.Sprint(LookAhead(160)); got != "419" {
		t.Fatalf("LookAhead(160) = %s, documented as 419", got)
	}
}
