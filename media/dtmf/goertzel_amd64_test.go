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

// TestGoertzelSubAVX2: the fused kernel gives bit for bit the DFTs of
// goertzelAVX2 followed by finishSub, for sub-blocks of silence, extremes,
// noise and tones (the detector's decisions rest on these values).
func TestGoertzelSubAVX2(t *testing.T) {
	if !haveGoertzelAVX2 {
		t.Skip("this processor has no AVX2 and FMA: goertzelGo is the only path")
	}
	r := rand.New(rand.NewPCG(5, 5))
	x := make([]int16, subLen)
	for c := range 20000 {
		for i := range x {
			switch c % 5 {
			case 0:
				x[i] = int16(r.IntN(65536) - 32768)
			case 1:
				x[i] = int16(r.IntN(65536)-32768) >> r.IntN(16)
			case 2:
				x[i] = int16(-32768 + 65535*((i+c)%2))
			case 3:
				x[i] = int16(math.Round(30000 * r.Float64() * math.Sin(2*math.Pi*(600+1200*r.Float64())*float64(i)/SampleRate)))
			case 4:
				x[i] = int16(r.IntN(3) - 1)
			}
		}
		if c == 0 {
			clear(x)
		}
		var s1, s2 [8]float64
		var want, got subBlock
		goertzelAVX2(x, &goertzelCoef, &s1, &s2)
		finishSub(&want, &s1, &s2)
		goertzelSubAVX2(x, &subConstTab, &got.re, &got.im)
		for k := range 8 {
			if math.Float32bits(got.re[k]) != math.Float32bits(want.re[k]) || math.Float32bits(got.im[k]) != math.Float32bits(want.im[k]) {
				t.Fatalf("case %d filter %d: fused (%g, %g), two steps (%g, %g)", c, k, got.re[k], got.im[k], want.re[k], want.im[k])
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
	var sb subBlock
	b.Run("avx2+finish", func(b *testing.B) {
		for range b.N {
			goertzelSubAVX2(x, &subConstTab, &sb.re, &sb.im)
		}
	})
}
