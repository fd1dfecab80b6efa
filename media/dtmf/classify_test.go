package dtmf

import (
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
