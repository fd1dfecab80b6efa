package dtmf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The acceptance matrix of ITU-T Q.24 as the hush bar states it. Every
// scenario runs through both G.711 laws, over all 160 onset phases of a
// 20 ms frame, and cycles through all 16 keys; tone start phases are random
// (seeded). Frames are 160 samples.

const (
	ms       = SampleRate / 1000
	lead     = 800 // silence before the first tone (plus the phase)
	tail     = 1600
	nPhases  = 160
	baseRuns = 2 * nPhases
)

type scenario struct {
	name string
	runs int
	// tones builds the bursts for one run with the first at sample at.
	tones func(key byte, at int, r *rand.Rand) []tone
	// extra adds noise or other signals; p is the total tone power.
	extra func(sig []float64, r *rand.Rand)
	// digits is the number of digits the run must report (each the key);
	// -1: any.
	digits int
	// mask: every tone must lie inside a mask interval.
	mask bool
}

type result struct {
	runs, ok, masked int
	fails            []string
	delays           []float64 // ms, onset to the return of MaskStart
	lags             []int64   // samples, MaskStart.Pos to its return
	overStart        []float64 // ms the mask starts before the tone
	overEnd          []float64 // ms the mask ends after the tone
}

func one(key byte, dur int, lowDB, highDB float64) func(byte, int, *rand.Rand) []tone {
	return func(k byte, at int, r *rand.Rand) []tone {
		return []tone{{key: k, at: at, dur: dur, lowDB: lowDB, highDB: highDB,
			phLow: r.Float64() * 2 * math.Pi, phHigh: r.Float64() * 2 * math.Pi}}
	}
}

func withOffsets(f func(byte, int, *rand.Rand) []tone, lo, hi float64) func(byte, int, *rand.Rand) []tone {
	return func(k byte, at int, r *rand.Rand) []tone {
		ts := f(k, at, r)
		for i := range ts {
			ts[i].lowOff, ts[i].hiOff = lo, hi
		}
		return ts
	}
}

func runScenario(sc scenario) result {
	runs := sc.runs
	if runs == 0 {
		runs = baseRuns
	}
	res := result{runs: runs}
	r := rand.New(rand.NewPCG(uint64(len(sc.name)), 7))
	d := NewDetector()
	for i := 0; i < runs; i++ {
		l := ulaw
		if (i/nPhases)%2 == 1 {
			l = alaw
		}
		key := digitKeys[i%16]
		at := lead + (i*37)%nPhases
		ts := sc.tones(key, at, r)
		end := ts[len(ts)-1].at + ts[len(ts)-1].dur
		sig := make([]float64, end+tail)
		for _, tn := range ts {
			tn.add(sig)
		}
		if sc.extra != nil {
			sc.extra(sig, r)
		}
		pcm := quantise(sig, l)
		d.Reset()
		evs := run(d, pcm, 160)
		iv := maskIntervals(evs, int64(len(pcm)))
		got := digitsOf(evs)
		want := ""
		for range sc.digits {
			want += string(key)
		}
		good := got == want || sc.digits < 0
		allMasked := true
		if sc.mask {
			segs := sounding(ts)
			for _, seg := range segs {
				a, b := seg[0], seg[1]
				if !covered(iv, a, b) {
					allMasked = false
					continue
				}
				if len(segs) != len(ts) {
					continue // a break inside a tone: over-cover is not defined
				}
				for _, v := range iv {
					if v[0] <= a && b <= v[1] {
						res.overStart = append(res.overStart, float64(a-v[0])/ms)
						res.overEnd = append(res.overEnd, float64(v[1]-b)/ms)
					}
				}
			}
			for _, e := range evs {
				if e.Kind == MaskStart {
					res.delays = append(res.delays, float64(e.at-int64(ts[0].at))/ms)
					res.lags = append(res.lags, e.at-e.Pos)
					break
				}
			}
		}
		// Events never point past the samples fed when they are returned,
		// and a mask is open when a digit is reported.
		for _, e := range evs {
			if e.Pos > e.at {
				good = false
			}
			if e.Kind == DigitStart && !overlaps(iv, e.Pos, e.at) {
				good = false
			}
		}
		if good {
			res.ok++
		}
		if allMasked {
			res.masked++
		}
		if (!good || !allMasked) && len(res.fails) < 3 {
			res.fails = append(res.fails, fmt.Sprintf("%s key %c at %d: digits %q want %q, masked %v, events %v",
				l, key, at, got, want, allMasked, evs))
		}
	}
	return res
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func checkScenarios(t *testing.T, scs []scenario) []result {
	t.Helper()
	var out []result
	for _, sc := range scs {
		res := runScenario(sc)
		out = append(out, res)
		msg := fmt.Sprintf("%-44s digits ok %4d/%4d", sc.name, res.ok, res.runs)
		if sc.mask {
			msg += fmt.Sprintf("  masked %4d/%4d  over-cover start max %.1f ms end max %.1f ms",
				res.masked, res.runs, slices.Max(append(res.overStart, 0)), slices.Max(append(res.overEnd, 0)))
		}
		t.Log(msg)
		if res.ok != res.runs || (sc.mask && res.masked != res.runs) {
			t.Errorf("%s: %d/%d ok, %d/%d masked; e.g. %v", sc.name, res.ok, res.runs, res.masked, res.runs, res.fails)
		}
	}
	return out
}

// TestQ24Detect: every burst the bar says must be detected is reported once,
// as the right key, and masked from its first to its last sample.
func TestQ24Detect(t *testing.T) {
	var scs []scenario
	for _, lv := range []float64{0, -5, -10, -15, -20, -25} {
		scs = append(scs, scenario{name: fmt.Sprintf("level %g dBm0, 40 ms", lv), tones: one(0, 40*ms, lv, lv), digits: 1, mask: true})
	}
	for _, off := range []float64{-0.018, -0.015, 0.015, 0.018} {
		pct := off * 100
		scs = append(scs,
			scenario{name: fmt.Sprintf("low %+.1f%%, -20 dBm0, 40 ms", pct), tones: withOffsets(one(0, 40*ms, -20, -20), off, 0), digits: 1, mask: true},
			scenario{name: fmt.Sprintf("high %+.1f%%, -20 dBm0, 40 ms", pct), tones: withOffsets(one(0, 40*ms, -20, -20), 0, off), digits: 1, mask: true},
			scenario{name: fmt.Sprintf("both %+.1f%%, -20 dBm0, 40 ms", pct), tones: withOffsets(one(0, 40*ms, -20, -20), off, off), digits: 1, mask: true},
			scenario{name: fmt.Sprintf("low %+.1f%% high %+.1f%%, -25 dBm0", pct, -pct), tones: withOffsets(one(0, 40*ms, -25, -25), off, -off), digits: 1, mask: true},
		)
	}
	for _, tw := range []struct{ lo, hi float64 }{{0, -8}, {-17, -25}, {-4, 0}, {-25, -21}} {
		scs = append(scs, scenario{name: fmt.Sprintf("twist %+g dB (low %g, high %g), 40 ms", tw.hi-tw.lo, tw.lo, tw.hi),
			tones: one(0, 40*ms, tw.lo, tw.hi), digits: 1, mask: true})
	}
	scs = append(scs,
		scenario{name: "twist -8 dB, both +1.8%, 40 ms", tones: withOffsets(one(0, 40*ms, -12, -20), 0.018, 0.018), digits: 1, mask: true},
		scenario{name: "twist +4 dB, both -1.8%, 40 ms", tones: withOffsets(one(0, 40*ms, -20, -16), -0.018, -0.018), digits: 1, mask: true},
		scenario{name: "dial tone 10 dB below, -10 dBm0, 40 ms", tones: one(0, 40*ms, -10, -10), digits: 1, mask: true,
			extra: func(sig []float64, _ *rand.Rand) { addSine(sig, 350, -20); addSine(sig, 440, -20) }},
		scenario{name: "dial tone 10 dB below, -25 dBm0, 40 ms", tones: one(0, 40*ms, -25, -25), digits: 1, mask: true,
			extra: func(sig []float64, _ *rand.Rand) { addSine(sig, 350, -35); addSine(sig, 440, -35) }},
		scenario{name: "long tone 500 ms, -10 dBm0", tones: one(0, 500*ms, -10, -10), digits: 1, mask: true},
	)
	checkScenarios(t, scs)
}

// TestQ24Noise: 1000 of 1000 bursts at 15 dB SNR (white noise over the
// whole 0-4 kHz band against the power of both tones).
func TestQ24Noise(t *testing.T) {
	noise := func(lv float64) func([]float64, *rand.Rand) {
		p := 2 * math.Pow(peak(lv), 2) / 2 // two tones of amplitude peak(lv)
		return func(sig []float64, r *rand.Rand) { addNoise(sig, p/math.Pow(10, 1.5), r) }
	}
	checkScenarios(t, []scenario{
		{name: "15 dB SNR, -10 dBm0, 40 ms", runs: 1000, tones: one(0, 40*ms, -10, -10), extra: noise(-10), digits: 1, mask: true},
		{name: "15 dB SNR, -20 dBm0, 50 ms, +-1.5%", runs: 320, tones: withOffsets(one(0, 50*ms, -20, -20), 0.015, -0.015), extra: noise(-20), digits: 1, mask: true},
	})
}

// TestQ24Reject: off-frequency and short bursts are not digits; gaps split
// digits, short interruptions do not.
func TestQ24Reject(t *testing.T) {
	var scs []scenario
	for _, off := range []float64{-0.036, 0.036, -0.042, 0.042, -0.05, 0.05} {
		pct := off * 100
		scs = append(scs,
			scenario{name: fmt.Sprintf("low %+.1f%%, -10 dBm0, 100 ms", pct), tones: withOffsets(one(0, 100*ms, -10, -10), off, 0)},
			scenario{name: fmt.Sprintf("high %+.1f%%, -10 dBm0, 100 ms", pct), tones: withOffsets(one(0, 100*ms, -10, -10), 0, off)},
			scenario{name: fmt.Sprintf("both %+.1f%%, -10 dBm0, 100 ms", pct), tones: withOffsets(one(0, 100*ms, -10, -10), off, off)},
		)
	}
	for _, lv := range []float64{0, -25} {
		for _, off := range []float64{-0.036, 0.036} {
			pct := off * 100
			scs = append(scs,
				scenario{name: fmt.Sprintf("low %+.1f%%, %g dBm0, 100 ms", pct, lv), tones: withOffsets(one(0, 100*ms, lv, lv), off, 0)},
				scenario{name: fmt.Sprintf("high %+.1f%%, %g dBm0, 100 ms", pct, lv), tones: withOffsets(one(0, 100*ms, lv, lv), 0, off)},
			)
		}
	}
	for _, lv := range []float64{0, -10, -25} {
		for _, dur := range []int{10, 20} {
			scs = append(scs, scenario{name: fmt.Sprintf("%d ms at %g dBm0", dur, lv), tones: one(0, dur*ms, lv, lv)})
		}
	}
	two := func(gap int, lv float64) func(byte, int, *rand.Rand) []tone {
		return func(k byte, at int, r *rand.Rand) []tone {
			a := one(0, 50*ms, lv, lv)(k, at, r)[0]
			b := one(0, 50*ms, lv, lv)(k, at+50*ms+gap, r)[0]
			return []tone{a, b}
		}
	}
	interrupted := func(dur, gapAt, gap int, lv float64) func(byte, int, *rand.Rand) []tone {
		return func(k byte, at int, r *rand.Rand) []tone {
			tn := one(0, dur, lv, lv)(k, at, r)
			tn[0].gapAt, tn[0].gapDur = gapAt, gap
			return tn
		}
	}
	scs = append(scs,
		scenario{name: "two 50 ms tones, 40 ms gap", tones: two(40*ms, -10), digits: 2, mask: true},
		scenario{name: "two 50 ms tones, 40 ms gap, -25 dBm0", tones: two(40*ms, -25), digits: 2, mask: true},
		scenario{name: "two 50 ms tones, 40 ms gap, 0 dBm0", tones: two(40*ms, 0), digits: 2, mask: true},
		scenario{name: "two 50 ms tones, 60 ms gap", tones: two(60*ms, -10), digits: 2, mask: true},
		scenario{name: "100 ms tone, 10 ms break in the middle", tones: interrupted(100*ms, 45*ms, 10*ms, -10), digits: 1, mask: true},
		scenario{name: "100 ms tone, 10 ms break after 40 ms", tones: interrupted(100*ms, 40*ms, 10*ms, -10), digits: 1, mask: true},
		scenario{name: "90 ms tone, 10 ms break after 20 ms, -25", tones: interrupted(90*ms, 20*ms, 10*ms, -25), digits: 1, mask: true},
	)
	checkScenarios(t, scs)
}

// TestMaskSensitivity: the mask covers weak tones and short fragments that
// are not digits.
func TestMaskSensitivity(t *testing.T) {
	var scs []scenario
	for _, lv := range []float64{-30, -33, -36} {
		scs = append(scs, scenario{name: fmt.Sprintf("mask only: %g dBm0, 60 ms", lv), tones: one(0, 60*ms, lv, lv), mask: true, digits: -1})
	}
	for _, lv := range []float64{0, -10, -25, -36} {
		scs = append(scs, scenario{name: fmt.Sprintf("mask only: 20 ms fragment at %g dBm0", lv), tones: one(0, 20*ms, lv, lv), mask: true})
	}
	scs = append(scs,
		scenario{name: "mask only: -36 dBm0, twist -8, 60 ms", tones: one(0, 60*ms, -28, -36), mask: true, digits: -1},
		scenario{name: "mask only: -36 dBm0, +1.8% both, 60 ms", tones: withOffsets(one(0, 60*ms, -36, -36), 0.018, 0.018), mask: true, digits: -1},
	)
	checkScenarios(t, scs)
}

// sounding returns the stretches [a, b) where the bursts actually sound (an
// interruption splits a burst in two).
func sounding(ts []tone) [][2]int64 {
	var out [][2]int64
	for _, tn := range ts {
		a, b := int64(tn.at), int64(tn.at+tn.dur)
		if tn.gapDur > 0 {
			out = append(out, [2]int64{a, a + int64(tn.gapAt)})
			a += int64(tn.gapAt + tn.gapDur)
		}
		out = append(out, [2]int64{a, b})
	}
	return out
}
