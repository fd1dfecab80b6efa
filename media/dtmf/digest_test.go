package dtmf

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
)

// The decision digest guards the detector's speed work: a change meant to
// make it cheaper must change no decision. TestDecisionDigest runs the
// detector over a broad, deterministic input set and hashes everything a
// masker takes from it (every event's kind, digit, tones and position, and
// the detector position of the call that returned it) and compares the
// hashes with testdata/decisions.digest, written from the detector as it
// was. A mismatch means some event moved, appeared or vanished.
//
// Regenerate only for a change meant to alter decisions:
//
//	go test ./media/dtmf -run TestDecisionDigest -update-digest
var updateDigest = flag.Bool("update-digest", false, "rewrite testdata/decisions.digest from the current detector")

const digestFile = "testdata/decisions.digest"

// digest hashes a group's inputs and the detector's outputs separately, so
// a mismatch says whether the inputs or the decisions differ.
type digest struct {
	in, out hash.Hash
	counts  [NotchEnd + 1]int
	buf     []byte
	evs     []Event
}

func newDigest() *digest {
	return &digest{in: sha256.New(), out: sha256.New(), evs: make([]Event, 0, 64)}
}

func (g *digest) emit(d *Detector) {
	b := g.buf[:0]
	for _, e := range g.evs {
		g.counts[e.Kind]++
		b = append(b, byte(e.Kind), e.Digit, e.Tones)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Pos))
		b = binary.LittleEndian.AppendUint64(b, uint64(d.Pos()))
	}
	g.buf = b
	g.out.Write(b)
}

// digestCase is one input case: its samples (G.711 codes of law, or linear PCM
// when law is 0) fed in frames cycling through frames, with skips[i]
// samples skipped (lost packets) before frame i where set; then silence
// closes whatever is open.
type digestCase struct {
	law    g711.Law
	codes  []byte
	pcm    []int16
	frames []int
	skips  map[int]int64
	opts   []Option
}

func (g *digest) run(f digestCase) {
	d := NewDetector(f.opts...)
	var hdr []byte
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(f.law))
	for _, n := range f.frames {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(n))
	}
	g.in.Write(hdr)
	if f.law != 0 {
		g.in.Write(f.codes)
	} else {
		for _, v := range f.pcm {
			g.in.Write([]byte{byte(v), byte(v >> 8)})
		}
	}
	n := len(f.codes)
	if f.law == 0 {
		n = len(f.pcm)
	}
	for i, at := 0, 0; at < n; i++ {
		if s, ok := f.skips[i]; ok {
			g.in.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint32(nil, uint32(i)), uint64(s)))
			g.evs = d.Skip(s, g.evs[:0])
			g.emit(d)
		}
		end := min(at+f.frames[i%len(f.frames)], n)
		if f.law != 0 {
			g.evs = d.ProcessG711(f.law, f.codes[at:end], g.evs[:0])
		} else {
			g.evs = d.Process(f.pcm[at:end], g.evs[:0])
		}
		g.emit(d)
		at = end
	}
	g.evs = d.Skip(4000, g.evs[:0])
	g.emit(d)
	g.out.Write([]byte{0xff}) // case separator
}

func (g *digest) line(variant, group string) string {
	var c []string
	for k := MaskStart; k <= NotchEnd; k++ {
		c = append(c, fmt.Sprintf("%s=%d", k, g.counts[k]))
	}
	return fmt.Sprintf("%s %s in=%s out=%s %s", variant, group,
		hex.EncodeToString(g.in.Sum(nil))[:16], hex.EncodeToString(g.out.Sum(nil)), strings.Join(c, " "))
}

func encode(law g711.Law, pcm []int16) []byte {
	codes := make([]byte, len(pcm))
	if law == g711.Ulaw {
		g711.EncodeUlaw(codes, pcm)
	} else {
		g711.EncodeAlaw(codes, pcm)
	}
	return codes
}

func clip16(sig []float64) []int16 {
	out := make([]int16, len(sig))
	for i, v := range sig {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// frameSets are the feeding patterns: the masker's 10, 20 and 30 ms, and
// ragged lengths.
var frameSets = [][]int{{160}, {80}, {240}, {160}, {1, 7, 40, 333, 160, 19}}

// randomBurst draws a key burst from wide ranges: levels from clipping
// down past the mask's floor, twists and offsets past the limits, tones
// from fragments to held keys, breaks, staggered and faded tones.
func randomBurst(r *rand.Rand, at int) (dtmftest.Burst, int) {
	b := dtmftest.Burst{
		Key:     dtmftest.Keys[r.IntN(16)],
		At:      at,
		Dur:     (5 + r.IntN(300)) * SampleRate / 1000,
		DBm0:    -50 + 56*r.Float64(),
		Twist:   -16 + 28*r.Float64(),
		LoShift: 0.1 * (r.Float64() - 0.5),
		HiShift: 0.1 * (r.Float64() - 0.5),
	}
	switch r.IntN(6) {
	case 0:
		b.LoShift, b.HiShift = 0.02*(r.Float64()-0.5), 0.02*(r.Float64()-0.5)
	case 1:
		b.Fade = r.IntN(240)
	case 2:
		b.Stagger = r.IntN(321) - 160
	}
	if r.IntN(8) == 0 {
		b.Dur = (1000 + r.IntN(1000)) * SampleRate / 1000 // held
	}
	return b, b.Dur + max(0, b.Stagger)
}

// synthetic is the group of generated inputs, each through a fresh
// detector.
func synthetic(g *digest) {
	r := rand.New(rand.NewPCG(23, 2026))
	// Single keys on a grid of levels and durations, every key, random
	// phase within the frame, small offsets and twist, through both laws.
	levels := []float64{3, 0, -10, -20, -25, -28, -31, -34, -36, -40, -43, -46}
	durs := []int{10, 20, 25, 30, 35, 40, 60, 150}
	for _, lv := range levels {
		for _, dur := range durs {
			for k := 0; k < 16; k++ {
				sig := make([]float64, 3200+160)
				b := dtmftest.Burst{Key: dtmftest.Keys[k], At: 800 + r.IntN(160), Dur: dur * SampleRate / 1000, DBm0: lv,
					Twist: -8 + 12*r.Float64(), LoShift: 0.036 * (r.Float64() - 0.5), HiShift: 0.036 * (r.Float64() - 0.5)}
				b.AddTo(sig, r)
				law := g711.Law(1 + k%2)
				g.run(digestCase{law: law, codes: encode(law, clip16(sig)), frames: []int{160}})
			}
		}
	}
	// Keys long enough for a digit with offsets around the digit's and the
	// mask's limits (2.5 to 3.1 %), on either tone or both.
	for _, off := range []float64{0.025, 0.026, 0.027, 0.028, 0.029, 0.031} {
		for k := 0; k < 16; k++ {
			sig := make([]float64, 3200+160)
			lo, hi := off, off
			switch k % 4 {
			case 1:
				lo = -off
			case 2:
				hi = 0.01 * (r.Float64() - 0.5)
			case 3:
				lo, hi = 0.01*(r.Float64()-0.5), -off
			}
			dtmftest.Burst{Key: dtmftest.Keys[k], At: 800 + r.IntN(160), Dur: (40 + r.IntN(80)) * SampleRate / 1000,
				DBm0: -5 - 20*r.Float64(), LoShift: lo, HiShift: hi}.AddTo(sig, r)
			law := g711.Law(1 + k%2)
			g.run(digestCase{law: law, codes: encode(law, clip16(sig)), frames: []int{160}})
		}
	}
	// Streams of random keys over random backgrounds, fed in assorted
	// frames with lost packets.
	for s := 0; s < 240; s++ {
		sig := make([]float64, 2*SampleRate)
		switch s % 8 {
		case 0: // digital silence
		case 1, 2: // white noise from -70 to -15 dBm0
			addNoise(sig, math.Pow(peak(-70+55*r.Float64()), 2)/2, r)
		case 3: // a dial tone
			lv := -35 + 30*r.Float64()
			addSine(sig, 350, lv)
			addSine(sig, 440, lv)
		case 4: // sines anywhere in the band, some near DTMF frequencies
			for range 1 + r.IntN(3) {
				addSine(sig, 300+3100*r.Float64(), -40+35*r.Float64())
			}
		case 5: // a chirp sweeping the band
			lv, f0, f1 := peak(-40+35*r.Float64()), 300+1000*r.Float64(), 600+2800*r.Float64()
			ph := 0.0
			for i := range sig {
				ph += 2 * math.Pi * (f0 + (f1-f0)*float64(i)/float64(len(sig))) / SampleRate
				sig[i] += lv * math.Sin(ph)
			}
		case 6: // harmonic series, as a voice or an instrument makes
			f0, lv := 90+300*r.Float64(), -30+20*r.Float64()
			for h := 1; f0*float64(h) < 3800; h++ {
				addSine(sig, f0*float64(h), lv-3*float64(h))
			}
		case 7: // noise and a dial tone, loud: clipping
			addNoise(sig, math.Pow(peak(-20), 2)/2, r)
			addSine(sig, 350, 0)
		}
		for at := r.IntN(2000); at < len(sig)-400; {
			b, n := randomBurst(r, at)
			b.AddTo(sig, r)
			at += n + r.IntN(1200)
		}
		if s%5 == 4 {
			for i := range sig {
				sig[i] *= 2 + 6*r.Float64() // clipped hard
			}
		}
		f := digestCase{frames: frameSets[s%len(frameSets)]}
		if s%3 == 0 {
			f.skips = map[int]int64{}
			for range 1 + r.IntN(4) {
				f.skips[r.IntN(80)] = 1 + int64(r.IntN(5000))
			}
		}
		switch s % 10 {
		case 3:
			f.opts = []Option{WithMaskLevel(-20)}
		case 7:
			f.opts = []Option{WithMaskLevel(-50)}
		}
		pcm := clip16(sig)
		switch s % 4 {
		case 0, 1:
			f.law = g711.Ulaw
		case 2:
			f.law = g711.Alaw
		}
		if f.law != 0 {
			f.codes = encode(f.law, pcm)
		} else {
			f.pcm = pcm // linear: values off the G.711 grid
		}
		g.run(f)
	}
	// Inputs no phone sends: random codes (full-scale noise), a square
	// wave, alternating extremes, impulses, a DC offset.
	for _, law := range []g711.Law{g711.Ulaw, g711.Alaw} {
		codes := make([]byte, SampleRate)
		for i := range codes {
			codes[i] = byte(r.IntN(256))
		}
		g.run(digestCase{law: law, codes: codes, frames: []int{160}})
	}
	odd := [][]int16{make([]int16, SampleRate), make([]int16, SampleRate), make([]int16, SampleRate), make([]int16, SampleRate)}
	for i := range SampleRate {
		if math.Sin(2*math.Pi*770*float64(i)/SampleRate)+math.Sin(2*math.Pi*1336*float64(i)/SampleRate) > 0 {
			odd[0][i] = 32767
		} else {
			odd[0][i] = -32768
		}
		odd[1][i] = int16(-32768 + 65535*(i%2))
		if i%97 == 0 {
			odd[2][i] = 30000
		}
		odd[3][i] = 12000
	}
	for _, pcm := range odd {
		g.run(digestCase{pcm: pcm, frames: []int{160}})
	}
}

// overCarrier is a corpus group: the carrier through each law as it is,
// then with keys laid over it (-15 to -30 dBm0, 30 to 200 ms, within
// +-2 %) every one to two seconds.
func overCarrier(g *digest, carrier []float64, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2026))
	for i, law := range []g711.Law{g711.Ulaw, g711.Alaw} {
		g.run(digestCase{law: law, codes: encode(law, clip16(carrier)), frames: frameSets[i]})
	}
	sig := append([]float64(nil), carrier...)
	for at := r.IntN(8000); at < len(sig)-2000; at += SampleRate + r.IntN(SampleRate) {
		dtmftest.Burst{Key: dtmftest.Keys[r.IntN(16)], At: at, Dur: (30 + r.IntN(170)) * SampleRate / 1000,
			DBm0: -30 + 15*r.Float64(), Twist: -4 + 6*r.Float64(),
			LoShift: 0.04 * (r.Float64() - 0.5), HiShift: 0.04 * (r.Float64() - 0.5)}.AddTo(sig, r)
	}
	for i, law := range []g711.Law{g711.Ulaw, g711.Alaw} {
		g.run(digestCase{law: law, codes: encode(law, clip16(sig)), frames: frameSets[2+i]})
	}
}

// TestDecisionDigest: the detector's events over the input set match the
// golden digest, with each Goertzel implementation this processor runs
// (the vector one rounds differently, so each has its own line).
func TestDecisionDigest(t *testing.T) {
	if !digestTarget {
		t.Skip("the golden digest is for amd64 without FMA contraction (GOAMD64 v1/v2): other targets may round differently")
	}
	want := map[string]string{}
	if !*updateDigest {
		f, err := os.Open(digestFile)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
				fs := strings.Fields(l)
				want[fs[0]+" "+fs[1]] = l
			}
		}
		f.Close()
	}
	variants := []bool{false}
	if haveGoertzelAVX2 {
		variants = append(variants, true)
	}
	defer func(v bool) { haveGoertzelAVX2 = v }(haveGoertzelAVX2)
	groups := []struct {
		name string
		gen  func(*testing.T, *digest)
	}{
		{"synthetic", func(_ *testing.T, g *digest) { synthetic(g) }},
		{"speech", func(t *testing.T, g *digest) { overCarrier(g, dtmftest.Carrier(t, corpus.Files), 1) }},
		{"music", func(t *testing.T, g *digest) { overCarrier(g, dtmftest.Carrier(t, corpus.MusicFiles), 2) }},
	}
	var lines []string
	for _, avx := range variants {
		haveGoertzelAVX2 = avx
		variant := "go"
		if avx {
			variant = "avx2"
		}
		for _, gr := range groups {
			t.Run(variant+"/"+gr.name, func(t *testing.T) {
				g := newDigest()
				gr.gen(t, g)
				got := g.line(variant, gr.name)
				lines = append(lines, got)
				if *updateDigest {
					return
				}
				w, ok := want[variant+" "+gr.name]
				switch {
				case !ok:
					t.Fatalf("no golden line for %s %s in %s", variant, gr.name, digestFile)
				case strings.Fields(w)[2] != strings.Fields(got)[2]:
					// A different corpus (another package version) or a
					// changed generator: the digest cannot judge this.
					dtmftest.Missing(t, fmt.Sprintf("the inputs differ from those %s was made from (%s, golden %s): regenerate it from the detector as it was (-update-digest at the commit it was made)",
						digestFile, strings.Fields(got)[2], strings.Fields(w)[2]))
				case w != got:
					t.Errorf("decisions changed:\n got %s\nwant %s", got, w)
				}
			})
		}
	}
	if *updateDigest {
		if len(lines) != len(variants)*len(groups) {
			t.Fatal("not writing a partial digest: a group skipped")
		}
		out := "# TestDecisionDigest (digest_test.go): the detector's events over its input set.\n" +
			"# variant group in=inputs out=events counts\n" + strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(digestFile, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
