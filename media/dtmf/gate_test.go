package dtmf

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// quietBurstSignal is silence and low-level noise around the quiet-window
// gate's threshold, with weak and strong DTMF bursts and gaps of digital
// silence: every window kind the gate sees, on both sides of it.
func quietBurstSignal(seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 7))
	sig := make([]float64, 4*SampleRate)
	for at := 0; at < len(sig); {
		n := min((20+r.IntN(200))*ms, len(sig)-at)
		switch r.IntN(4) {
		case 0: // digital silence
		case 1: // noise from -75 to -45 dBm0: the gate sits near -53
			lvl := -75 + 30*r.Float64()
			addNoise(sig[at:at+n], math.Pow(peak(lvl), 2)/2, r)
		case 2, 3: // a burst from -50 to -5 dBm0 per tone
			db := -50 + 45*r.Float64()
			tone{key: digitKeys[r.IntN(16)], at: at, dur: n, lowDB: db, highDB: db - 2*r.Float64(),
				phLow: r.Float64() * 6, phHigh: r.Float64() * 6}.add(sig)
		}
		at += n
	}
	return quantise(sig, ulaw)
}

// The gate only skips windows that could not pass: the events with it and
// without it are identical, for every frame length a masker uses.
func TestEnergyGateChangesNothing(t *testing.T) {
	defer func() { energyGate = true }()
	for seed := range uint64(6) {
		sigs := [][]int16{quietBurstSignal(seed), mixedSignal(seed)}
		for i, pcm := range sigs {
			for _, frame := range []int{80, 160, 240} {
				energyGate = false
				want := collect(NewDetector(), pcm, frame)
				energyGate = true
				got := collect(NewDetector(), pcm, frame)
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d signal %d frame %d: %d events with the gate, %d without; first difference at %d",
						seed, i, frame, len(got), len(want), firstDiff(got, want))
				}
				if i == 0 && len(want) == 0 {
					t.Fatalf("seed %d: the quiet signal raised no event: the comparison shows nothing", seed)
				}
			}
		}
	}
}

func firstDiff(a, b []Event) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// The gate is what makes silence cheap: a quiet stream runs no filter.
func TestEnergyGateSkipsQuietWindows(t *testing.T) {
	d := NewDetector()
	pcm := make([]int16, 8*160)
	for i := range pcm {
		pcm[i] = int16(i%3) - 1 // about -80 dBm0
	}
	_ = collect(d, pcm, 160)
	for i := range d.dft {
		if d.dft[i].dftOf != 0 {
			t.Fatalf("sub-block slot %d filtered in quiet audio", i)
		}
	}
}
