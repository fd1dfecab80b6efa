package dtmftest

import (
	"math"
	"math/rand/v2"

	"github.com/hushmedia/hush/media/g711"
)

// Music returns n samples of generated music on hold at about dbm0 (RMS, against a 0 dBm0
// sine): a chord pad, a bass line and a melody with harmonics and vibrato over the
// progression I-vi-IV-V in a key drawn from seed, hi-hat, snare and kick. It is what a
// customer's keys compete with while they hold: sustained harmonic tones across the DTMF
// band (a melody note can sit within 1 % of a DTMF frequency) and broadband noise bursts.
func Music(n int, dbm0 float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x6d75736963))
	out := make([]float64, n)
	const bpm = 100
	beat := Rate * 60 / bpm // samples per beat
	bar := 4 * beat
	tonic := 48 + r.IntN(12) // MIDI note of the key's tonic, C3..B3
	midi := func(m float64) float64 { return 440 * math.Pow(2, (m-69)/12) }
	major := []int{0, 2, 4, 5, 7, 9, 11}
	chords := [][3]int{{0, 4, 7}, {9, 12, 16}, {5, 9, 12}, {7, 11, 14}} // I vi IV V
	// note adds a harmonic-rich note: harmonics k at 1/k^tilt, vibrato, attack/decay.
	note := func(at, dur int, f, amp, tilt, vib float64, harm int) {
		ph := r.Float64() * 2 * math.Pi
		vph := r.Float64() * 2 * math.Pi
		var acc float64
		for i := 0; i < dur && at+i < n; i++ {
			t := float64(i) / Rate
			inst := f * (1 + vib*math.Sin(2*math.Pi*5.5*t+vph))
			acc += 2 * math.Pi * inst / Rate
			env := math.Min(1, float64(i)/(0.02*Rate)) * math.Exp(-t*1.2)
			if rel := dur - i; rel < Rate/50 {
				env *= float64(rel) / (Rate / 50)
			}
			var v float64
			for k := 1; k <= harm; k++ {
				if f*float64(k) > 3600 {
					break
				}
				v += math.Sin(float64(k)*(acc+ph)) / math.Pow(float64(k), tilt)
			}
			out[at+i] += amp * env * v
		}
	}
	for b := 0; b*bar < n; b++ {
		at := b * bar
		ch := chords[b%len(chords)]
		// The pad: two voices a few cents apart per chord note (an ensemble beats, it is
		// never one steady sine per harmonic).
		for _, iv := range ch {
			for _, cents := range []float64{-6, 6} {
				note(at, bar, midi(float64(tonic+12+iv)+cents/100), 0.25, 2, 0.004, 12)
			}
		}
		note(at, bar/2, midi(float64(tonic-12+ch[0])), 0.6, 1.8, 0, 8)
		note(at+bar/2, bar/2, midi(float64(tonic-12+ch[2])), 0.6, 1.8, 0, 8)
		// Melody: eighth and quarter notes on the scale, an octave or two above the tonic.
		for p := 0; p < bar; {
			d := beat / 2 * (1 + r.IntN(2))
			deg := r.IntN(10)
			m := tonic + 24 + 12*(deg/7) + major[deg%7]
			note(at+p, d, midi(float64(m)), 0.5, 1.6, 0.006, 10)
			p += d
		}
		// Percussion: hi-hat every eighth, snare on 2 and 4, kick on 1 and 3.
		for e := 0; e < 8; e++ {
			hat := at + e*beat/2
			var prev float64
			for i := 0; i < Rate/25 && hat+i < n; i++ {
				w := r.NormFloat64()
				out[hat+i] += 0.25 * (w - prev) * math.Exp(-float64(i)/(0.008*Rate))
				prev = w
			}
		}
		for _, q := range []int{1, 3} {
			sn := at + q*beat
			for i := 0; i < Rate/8 && sn+i < n; i++ {
				out[sn+i] += 0.5 * r.NormFloat64() * math.Exp(-float64(i)/(0.03*Rate))
			}
		}
		for _, q := range []int{0, 2} {
			k := at + q*beat
			var ph float64
			for i := 0; i < Rate/6 && k+i < n; i++ {
				t := float64(i) / Rate
				ph += 2 * math.Pi * (50 + 100*math.Exp(-t*30)) / Rate
				out[k+i] += 1.5 * math.Sin(ph) * math.Exp(-t*20)
			}
		}
	}
	var e float64
	for _, v := range out {
		e += v * v
	}
	target := g711Power0 * math.Pow(10, dbm0/10)
	g := math.Sqrt(target / (e / float64(n)))
	for i := range out {
		out[i] *= g
	}
	return out
}

// g711Power0 is the mean power of a 0 dBm0 sine in 16-bit linear units.
const g711Power0 = g711.Peak0dBm0 * g711.Peak0dBm0 / 2
