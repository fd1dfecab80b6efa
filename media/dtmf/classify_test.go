package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// groupPeak picks what a scan picks: the first of the strongest, and the
// largest of the rest, with ties and zeros.
func TestGroupPeak(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	levels := []float64{0, 1, 2, 1e-300, 3e9}
	for c := range 100000 {
		var g [4]float64
		for k := range g {
			if c%2 == 0 {
				g[k] = levels[r.IntN(len(levels))]
			} else {
				g[k] = r.Float64() * 1e6
			}
		}
		best, want := 0, 0.0
		for k := 1; k < 4; k++ {
			if g[k] > g[best] {
				best = k
			}
		}
		for k := range g {
			if k != best && g[k] > want {
				want = g[k]
			}
		}
		if b, s := groupPeak(&g); b != best || s != want {
			t.Fatalf("%v: groupPeak %d, %g; scan %d, %g", g, b, s, best, want)
		}
	}
}

// A silent sub-block's stored DFTs are what the filters give, whichever
// filter implementation runs (the digest runs both).
func TestSilentSub(t *testing.T) {
	defer func(v bool) { haveGoertzelAVX2 = v }(haveGoertzelAVX2)
	for _, avx := range []bool{false, haveGoertzelAVX2} {
		haveGoertzelAVX2 = avx
		var zeros [subLen]int16
		var sb subBlock
		subDFTOf(zeros[:], &sb)
		for k := range 8 {
			if math.Float32bits(sb.re[k]) != math.Float32bits(silentSub.re[k]) || math.Float32bits(sb.im[k]) != math.Float32bits(silentSub.im[k]) {
				t.Fatalf("avx2 %v filter %d: silentSub (%g, %g), filters (%g, %g)", avx, k, silentSub.re[k], silentSub.im[k], sb.re[k], sb.im[k])
			}
		}
	}
}

// The gate's energy threshold makes the decision the division made, at
// the boundary and around it, for the default floor and others.
func TestGateEnergy(t *testing.T) {
	for _, dbm0 := range []float64{-43, -60, -36, -20, -10, 0, 3, -90} {
		mp := dbm0Power(dbm0)
		g := gateEnergyFor(mp)
		if g <= 0 || g >= 1<<53 {
			t.Fatalf("%v dBm0: gate energy %v", dbm0, g)
		}
		for e := max(g-1000, 0); e <= g+1000; e++ {
			if (e < g) != gated(e, mp) {
				t.Fatalf("%v dBm0: energy %v: threshold says %v, the division %v", dbm0, e, e < g, gated(e, mp))
			}
		}
		if d := NewDetector(WithMaskLevel(dbm0)); d.gateEnergy != g {
			t.Fatalf("%v dBm0: detector's gate energy %v, want %v", dbm0, d.gateEnergy, g)
		}
	}
	if g := gateEnergyFor(math.NaN()); g != 0 {
		t.Fatalf("NaN floor: gate energy %v, want 0 (nothing gated, as the division's comparison)", g)
	}
}
