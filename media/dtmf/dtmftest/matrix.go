package dtmftest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hushmedia/hush/media/g711"
)

// The masking matrix: keys that overlap speech or music, as customers key them. Every case
// is one call's worth of carrier (the English prompts or the music on hold of media/corpus,
// at their own level) with KeysPerCase keys laid over active carrier, each at its own onset
// phase, deterministic from the case's seed.

// KeysPerCase is how many keys each case plays.
const KeysPerCase = 9

// Case is one row of the matrix.
type Case struct {
	Name  string // group and parameters, e.g. "speech/-25dBm0/50ms"
	Group string // speech, music, held, fade-in, staggered, offset, twist
	Music bool   // the carrier is music, not speech
	// Codec ("PCMU" or "PCMA") and Ptime (samples per packet: 80, 160, 240) to send it with.
	Codec string
	Ptime int
	// Bursts are the keys, Carrier the sound under them (len a multiple of 240 samples).
	Bursts  []Burst
	Carrier []float64
	seed    uint64
}

// Keys returns where the keys lie.
func (c *Case) Keys() []Placed {
	out := make([]Placed, len(c.Bursts))
	for i, b := range c.Bursts {
		from, to := b.Span()
		out[i] = Placed{Key: b.Key, At: from, Dur: to - from}
	}
	return out
}

// Mix returns the carrier with the keys (the customer's audio) and the carrier alone,
// quantized to 16 bits.
func (c *Case) Mix() (mix, carrier []int16) {
	r := rand.New(rand.NewPCG(c.seed, 99))
	sig := append([]float64(nil), c.Carrier...)
	for _, b := range c.Bursts {
		b.AddTo(sig, r)
	}
	return Quantize(sig), Quantize(c.Carrier)
}

// shape is one class's variation of a key; i counts the keys of a case.
type shape struct {
	group string
	music bool
	dbm0  float64
	durMs int
	mod   func(b *Burst, i int, r *rand.Rand)
}

// Carrier returns every file of list (corpus.Files: the speech prompts; corpus.MusicFiles:
// the music on hold) end to end at its own level, or is Missing when it is not installed.
func Carrier(t testing.TB, list func() ([]string, error)) []float64 {
	t.Helper()
	_, pcm := Prompts(t, list)
	var out []float64
	for _, p := range pcm {
		for _, v := range p {
			out = append(out, float64(v))
		}
	}
	return out
}

// Matrix returns the cases: with full, every level (-15, -20, -25, -30 dBm0) and duration
// (40, 50, 70, 100 ms) over speech and over music, held keys (2 s) over speech at each
// level, and fade-in, staggered, +-2 % and twisted keys over speech; without, one case per
// group whose keys cycle through those parameters. Codecs and packet times rotate across
// the cases. speech(n, skip) and music(n, skip) supply the carriers (n samples from skip
// in, wrapping around: see Carrier).
func Matrix(full bool, speech, music func(n, skip int) []float64) []Case {
	levels := []float64{-15, -20, -25, -30}
	durs := []int{40, 50, 70, 100}
	var shapes [][]shape // one slice per case: a shape per key (cycled)
	grid := func(group string, music bool) {
		if full {
			for _, lv := range levels {
				for _, d := range durs {
					shapes = append(shapes, []shape{{group: group, music: music, dbm0: lv, durMs: d}})
				}
			}
			return
		}
		var s []shape
		for i := range KeysPerCase {
			s = append(s, shape{group: group, music: music, dbm0: levels[i%4], durMs: durs[(i+i/4)%4]})
		}
		shapes = append(shapes, s)
	}
	grid("speech", false)
	grid("music", true)
	variant := func(group string, lvs []float64, durMs int, mod func(b *Burst, i int, r *rand.Rand)) {
		if !full {
			var s []shape
			for _, lv := range lvs {
				s = append(s, shape{group: group, dbm0: lv, durMs: durMs, mod: mod})
			}
			shapes = append(shapes, s)
			return
		}
		for _, lv := range lvs {
			shapes = append(shapes, []shape{{group: group, dbm0: lv, durMs: durMs, mod: mod}})
		}
	}
	variant("held", levels, 2000, nil)
	variant("fade-in", []float64{-15, -20, -25}, 70, func(b *Burst, i int, r *rand.Rand) {
		b.Fade = (10 + 10*(i%3)) * Rate / 1000
	})
	variant("staggered", []float64{-15, -20, -25}, 60, func(b *Burst, i int, r *rand.Rand) {
		b.Stagger = []int{-15, -10, 10, 15}[i%4] * Rate / 1000
	})
	variant("offset", []float64{-15, -20, -25}, 60, func(b *Burst, i int, r *rand.Rand) {
		o := [][2]float64{{0.02, 0.02}, {-0.02, -0.02}, {0.02, -0.02}, {-0.02, 0.02}, {0.02, 0}, {0, -0.02}}[i%6]
		b.LoShift, b.HiShift = o[0], o[1]
	})
	variant("twist", []float64{-15, -20, -25}, 60, func(b *Burst, i int, r *rand.Rand) {
		b.Twist = []float64{-8, 4, -6, 3}[i%4]
	})

	codecs := []string{"PCMU", "PCMA"}
	ptimes := []int{160, 80, 240}
	var cases []Case
	for ci, ss := range shapes {
		seed := uint64(ci)*7919 + 1
		r := rand.New(rand.NewPCG(seed, 15))
		c := Case{Group: ss[0].group, Music: ss[0].music, Codec: codecs[ci%2], Ptime: ptimes[(ci/2)%3], seed: seed}
		c.Name = c.Group
		if len(ss) == 1 {
			c.Name = fmt.Sprintf("%s/%gdBm0/%dms", c.Group, ss[0].dbm0, ss[0].durMs)
		}
		maxDur := 0
		for _, s := range ss {
			maxDur = max(maxDur, s.durMs*Rate/1000)
		}
		slot := maxDur + Rate*7/10 // the key, 100 ms windows and room to place it
		n := (KeysPerCase*slot + Rate/2 + 239) / 240 * 240
		if c.Music {
			c.Carrier = music(n, (ci*53%60)*Rate*15)
		} else {
			c.Carrier = speech(n, (ci*37%60)*Rate*20)
		}
		for i := range KeysPerCase {
			s := ss[i%len(ss)]
			b := Burst{Key: "1234567890"[(i+ci)%10], Dur: s.durMs * Rate / 1000, DBm0: s.dbm0}
			if s.mod != nil {
				s.mod(&b, i, r)
			}
			from := Rate/4 + i*slot
			b.At = from + placeOver(c.Carrier[from:from+slot-Rate/4], b.Dur+abs(b.Stagger), r)
			if b.Stagger < 0 {
				b.At -= b.Stagger
			}
			c.Bursts = append(c.Bursts, b)
		}
		cases = append(cases, c)
	}
	return cases
}

// placeOver returns an offset in carrier for a key of dur samples that lies over active
// carrier (mean power above -35 dBm0), the loudest of a few random tries if none is.
func placeOver(carrier []float64, dur int, r *rand.Rand) int {
	room := len(carrier) - dur - LeakWindow
	best, bestP := LeakWindow/2, -1.0
	for range 40 {
		at := LeakWindow/2 + r.IntN(max(1, room-LeakWindow/2))
		var e float64
		for _, v := range carrier[at : at+dur] {
			e += v * v
		}
		p := e / float64(dur)
		if p >= g711Power0*math.Pow(10, -3.5) {
			return at
		}
		if p > bestP {
			best, bestP = at, p
		}
	}
	return best
}

func abs(x int) int { return max(x, -x) }

// g711Power0 is the mean power of a 0 dBm0 sine in 16-bit linear units.
const g711Power0 = g711.Peak0dBm0 * g711.Peak0dBm0 / 2
