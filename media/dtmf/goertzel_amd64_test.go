package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGoertzelAVX2 checks the vector filters against the portable ones: the
// same states up to the fused multiply-add's rounding, for every length
// (odd ones take the tail path) and for silence, full-scale extremes and noise.
func TestGoertzelAVX2(t *testing.T) {
	if !haveGoertzelAVX2 {
		t.Skip("this processor has no AVX2 and FMA: goertzelGo is the only path")
	}
	r := rand.New(rand.NewPCG(4, 4))
	gens := map[string]func(i int) int16{
		"silence":    func(int) int16 { return 0 },
		"max":        func(int) int16 { return 32767 },
		"alternate":  func(i int) int16 { return int16(-32768 + 65535*(i%2)) },
		"noise":      func(int) int16 { return int16(r.IntN(65536) - 32768) },
		"tone 941Hz": func(i int) int16 { return int16(math.Round(20000 * math.Sin(2*math.Pi*941*float64(i)/SampleRate))) },
	}
	for name, gen := range gens {
		for n := 0; n <= 2*subLen+1; n++ {
			x := make([]int16, n)
			for i := range x {
				x[i] = gen(i)
			}
			var a1, a2, g1, g2 [8]float64
			goertzelAVX2(x, &goertzelCoef, &a1, &a2)
			goertzelGo(x, &g1, &g2)
			// The states grow to about n*32768/sin(w); rounding differs by a
			// few ulps of that per step.
			tol := 1e-12 * (1 + float64(n)*32768*4)
			for k := range 8 {
				if math.Abs(a1[k]-g1[k]) > tol || math.Abs(a2[k]-g2[k]) > tol {
					t.Fatalf("%s, %d samples, filter %d: AVX2 (%g, %g), Go (%g, %g)", name, n, k, a1[k], a2[k], g1[k], g2[k])
				}
			}
		}
	}
}

func BenchmarkGoertzel(b *testing.B) {
	x := make([]int16, subLen)
	for i := range x {
		x[i] = int16(i*977%65536 - 32768)
	}
	var s1, s2 [8]float64
	b.Run("go", func(b *testing.B) {
		for range b.N {
			s1, s2 = [8]float64{}, [8]float64{}
			goertzelGo(x, &s1, &s2)
		}
	})
	if !haveGoertzelAVX2 {
		return
	}
	b.Run("avx2", func(b *testing.B) {
		for range b.N {
			goertzelAVX2(x, &goertzelCoef, &s1, &s2)
		}
	})
}
