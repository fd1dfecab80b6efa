package dtmf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
)

// mixedSignal is a few seconds of digits at assorted levels and offsets,
// fragments, noise and a dial tone: material for the invariance tests.
func mixedSignal(seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	sig := make([]float64, 3*SampleRate)
	at := 400
	for i := 0; at < len(sig)-2000; i++ {
		tn := tone{key: digitKeys[r.IntN(16)], at: at, dur: (10 + r.IntN(120)) * ms,
			lowDB: -5 - 30*r.Float64(), highDB: -5 - 30*r.Float64(),
			lowOff: 0.04 * (r.Float64() - 0.5), hiOff: 0.04 * (r.Float64() - 0.5),
			phLow: r.Float64() * 6, phHigh: r.Float64() * 6}
		tn.add(sig)
		at += tn.dur + (5+r.IntN(80))*ms
	}
	addNoise(sig, math.Pow(peak(-40), 2)/2, r)
	addSine(sig, 440, -30)
	return quantise(sig, ulaw)
}

func collect(d *Detector, pcm []int16, frame int) []Event {
	var out []Event
	evs := make([]Event, 0, 8)
	for i := 0; i < len(pcm); i += frame {
		evs = d.Process(pcm[i:min(i+frame, len(pcm))], evs[:0])
		out = append(out, evs...)
	}
	return out
}

// Events are sample-exact: the same signal cut into frames of any length
// gives the same events at the same positions.
func TestFrameLengthInvariance(t *testing.T) {
	pcm := mixedSignal(3)
	want := collect(NewDetector(), pcm, 160)
	if len(digitsFromEvents(want)) < 5 {
		t.Fatalf("test signal too weak: %d digits", len(digitsFromEvents(want)))
	}
	for _, frame := range []int{1, 7, 40, 80, 240, 1000, len(pcm)} {
		got := collect(NewDetector(), pcm, frame)
		if !slices.Equal(got, want) {
			t.Errorf("frame %d: %d events differ from 160-sample frames (%d)", frame, len(got), len(want))
		}
	}
}

func digitsFromEvents(evs []Event) []byte {
	var b []byte
	for _, e := range evs {
		if e.Kind == DigitStart {
			b = append(b, e.Digit)
		}
	}
	return b
}

// Skip is the same as feeding silence, only cheaper.
func TestSkipEqualsSilence(t *testing.T) {
	pcm := mixedSignal(4)
	for _, gap := range []int64{1, 39, 40, 160, 555, 4000, 123457} {
		a, b := NewDetector(), NewDetector()
		cut := len(pcm) / 2
		ea := collect(a, pcm[:cut], 160)
		eb := collect(b, pcm[:cut], 160)
		ea = a.Process(make([]int16, gap), ea)
		eb = b.Skip(gap, eb)
		ea = append(ea, collect(a, pcm[cut:], 160)...)
		eb = append(eb, collect(b, pcm[cut:], 160)...)
		if a.Pos() != b.Pos() || a.Pos() != int64(len(pcm))+gap {
			t.Fatalf("gap %d: Pos %d vs %d", gap, a.Pos(), b.Pos())
		}
		if !slices.Equal(ea, eb) {
			t.Errorf("gap %d: Skip events differ:\n%v\n%v", gap, ea, eb)
		}
	}
}

func TestResetAndPos(t *testing.T) {
	pcm := mixedSignal(5)
	d := NewDetector()
	first := collect(d, pcm, 160)
	if d.Pos() != int64(len(pcm)) {
		t.Fatalf("Pos = %d", d.Pos())
	}
	d.Reset()
	if d.Pos() != 0 {
		t.Fatalf("Pos after Reset = %d", d.Pos())
	}
	if again := collect(d, pcm, 160); !slices.Equal(first, again) {
		t.Fatal("Reset did not restore the initial state")
	}
}

// Mask and notch intervals are ordered, disjoint and well formed; digits
// alternate start/end inside masks; nothing lies in the future.
func checkEventOrder(t testing.TB, evs []Event, pos int64) {
	open, digit, notch := false, false, false
	last, nlast := int64(math.MinInt64), int64(math.MinInt64)
	for _, e := range evs {
		if e.Pos > pos || e.Pos < 0 {
			t.Fatalf("event %v outside [0, %d]", e, pos)
		}
		switch e.Kind {
		case MaskStart:
			if open || e.Pos < last {
				t.Fatalf("MaskStart %v out of order (open %v, last end %d)", e, open, last)
			}
			open, last = true, e.Pos
		case MaskEnd:
			if !open || e.Pos < last {
				t.Fatalf("MaskEnd %v out of order", e)
			}
			open, last = false, e.Pos
		case DigitStart:
			if digit || !open || !strings.ContainsRune(digitKeys, rune(e.Digit)) {
				t.Fatalf("DigitStart %v: digit open %v, mask open %v", e, digit, open)
			}
			digit = true
		case DigitEnd:
			if !digit {
				t.Fatalf("DigitEnd %v without start", e)
			}
			digit = false
		case NotchStart:
			// Another NotchStart while open adds tones, from its own Pos.
			if e.Pos < nlast || e.Tones == 0 || !notch && e.Tones&NotchHigh != NotchHigh {
				t.Fatalf("NotchStart %v out of order (open %v, last end %d) or tones %08b", e, notch, nlast, e.Tones)
			}
			notch = true
		case NotchEnd:
			if !notch {
				t.Fatalf("NotchEnd %v without start", e)
			}
			notch, nlast = false, e.Pos
		default:
			t.Fatalf("unknown event %v", e)
		}
	}
}

func TestEventOrder(t *testing.T) {
	for seed := uint64(10); seed < 14; seed++ {
		d := NewDetector()
		pcm := mixedSignal(seed)
		checkEventOrder(t, collect(d, pcm, 160), d.Pos())
	}
}

func TestEventStringHidesDigit(t *testing.T) {
	e := Event{Kind: DigitStart, Digit: '7', Pos: 1234}
	if s := e.String(); strings.ContainsRune(s, '7') || s != "DigitStart@1234" {
		t.Fatalf("String() = %q", s)
	}
	if s := fmt.Sprint(Event{Kind: MaskEnd, Pos: -5}); s != "MaskEnd@-5" {
		t.Fatalf("fmt = %q", s)
	}
}

func TestWithMaskLevel(t *testing.T) {
	sig := make([]float64, 4000)
	tone{key: '5', at: 800, dur: 60 * ms, lowDB: -30, highDB: -30}.add(sig)
	pcm := quantise(sig, ulaw)
	if iv := maskIntervals(run(NewDetector(), pcm, 160), 4000); len(iv) != 1 {
		t.Fatalf("default: %v", iv)
	}
	if iv := maskIntervals(run(NewDetector(WithMaskLevel(-20)), pcm, 160), 4000); len(iv) != 0 {
		t.Fatalf("mask level -20 dBm0 still masks a -30 dBm0 tone: %v", iv)
	}
}

func TestDetectorAllocatesNothing(t *testing.T) {
	pcm := mixedSignal(6)
	d := NewDetector()
	evs := make([]Event, 0, 16)
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		if i+160 > len(pcm) {
			i = 0
		}
		evs = d.Process(pcm[i:i+160], evs[:0])
		if i%1600 == 0 {
			evs = d.Skip(480, evs[:0])
		}
		i += 160
	})
	if allocs != 0 {
		t.Fatalf("allocs per frame = %v", allocs)
	}
}

// The full cross product at the hardest corners of the bar: every key at
// every onset phase of a 20 ms frame through both laws.
func TestQ24FullMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("full matrix skipped in -short")
	}
	type corner struct {
		name   string
		dur    int
		lv     float64
		lo, hi float64
		want   int
	}
	corners := []corner{
		{"40 ms at -25 dBm0, low +1.8% high -1.8%", 40 * ms, -25, 0.018, -0.018, 1},
		{"20 ms at 0 dBm0 (reject)", 20 * ms, 0, 0, 0, 0},
	}
	r := rand.New(rand.NewPCG(9, 9))
	d := NewDetector()
	for _, c := range corners {
		bad := 0
		for _, l := range []law{ulaw, alaw} {
			for k := 0; k < 16; k++ {
				for ph := 0; ph < nPhases; ph++ {
					sig := make([]float64, lead+nPhases+c.dur+tail)
					tn := tone{key: digitKeys[k], at: lead + ph, dur: c.dur, lowDB: c.lv, highDB: c.lv,
						lowOff: c.lo, hiOff: c.hi, phLow: r.Float64() * 6, phHigh: r.Float64() * 6}
					tn.add(sig)
					d.Reset()
					evs := run(d, quantise(sig, l), 160)
					iv := maskIntervals(evs, int64(len(sig)))
					got := digitsOf(evs)
					if len(got) != c.want || (c.want == 1 && got[0] != tn.key) || !covered(iv, int64(tn.at), int64(tn.at+tn.dur)) {
						bad++
						if bad <= 3 {
							t.Logf("%s key %c at %d: digits %q, masks %v", l, tn.key, tn.at, got, iv)
						}
					}
				}
			}
		}
		t.Logf("%-40s %d/%d correct and masked", c.name, 2*16*nPhases-bad, 2*16*nPhases)
		if bad != 0 {
			t.Errorf("%s: %d failures", c.name, bad)
		}
	}
}

// FuzzDetector feeds arbitrary audio in arbitrary frame lengths: no panic,
// well-ordered events, and the same events as 160-sample frames.
func FuzzDetector(f *testing.F) {
	tn := make([]float64, 1200)
	tone{key: '8', at: 100, dur: 800, lowDB: -3, highDB: -3}.add(tn)
	seed := quantise(tn, linear)
	b := make([]byte, 2*len(seed))
	for i, v := range seed {
		b[2*i], b[2*i+1] = byte(v), byte(v>>8)
	}
	f.Add(b, uint8(160))
	f.Add([]byte{0xFF, 0x7F, 0x00, 0x80}, uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, frame uint8) {
		pcm := make([]int16, len(data)/2)
		for i := range pcm {
			pcm[i] = int16(uint16(data[2*i]) | uint16(data[2*i+1])<<8)
		}
		fl := int(frame) + 1
		d := NewDetector()
		got := collect(d, pcm, fl)
		checkEventOrder(t, got, d.Pos())
		if want := collect(NewDetector(), pcm, 160); !slices.Equal(got, want) {
			t.Fatalf("frame %d differs from 160", fl)
		}
	})
}

func benchSignal(kind string) []int16 {
	sig := make([]float64, 8000)
	r := rand.New(rand.NewPCG(1, 1))
	switch kind {
	case "tone":
		tone{key: '5', at: 0, dur: len(sig), lowDB: -10, highDB: -10}.add(sig)
	case "noise":
		addNoise(sig, math.Pow(peak(-20), 2), r)
	}
	return quantise(sig, ulaw)
}

// BenchmarkDetector reports the cost of one 160-sample (20 ms) frame.
func BenchmarkDetector(b *testing.B) {
	for _, kind := range []string{"silence", "noise", "tone"} {
		b.Run(kind, func(b *testing.B) {
			pcm := benchSignal(kind)
			d := NewDetector()
			evs := make([]Event, 0, 8)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i+160 > len(pcm) {
					i = 0
				}
				evs = d.Process(pcm[i:i+160], evs[:0])
				i += 160
			}
		})
	}
}

// BenchmarkDetectorSpeech runs 10 s of real speech from the corpus.
func BenchmarkDetectorSpeech(b *testing.B) {
	pcm := quantise(dtmftest.Speech(b, 10*SampleRate, 0), ulaw)
	d := NewDetector()
	evs := make([]Event, 0, 8)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i+160 > len(pcm) {
			i = 0
		}
		evs = d.Process(pcm[i:i+160], evs[:0])
		i += 160
	}
}

// ProcessG711 decodes into the history itself: the same events as decoding
// first and calling Process, for both laws and any frame length; a law that
// is not G.711 analyses nothing.
func TestProcessG711MatchesProcess(t *testing.T) {
	for _, law := range []g711.Law{g711.Ulaw, g711.Alaw} {
		codes := make([]byte, 3*SampleRate)
		r := rand.New(rand.NewPCG(9, uint64(law)))
		pcm := mixedSignal(3)
		for i, v := range pcm {
			if law == g711.Ulaw {
				codes[i] = g711.LinearToUlaw(v)
			} else {
				codes[i] = g711.LinearToAlaw(v)
			}
		}
		dec := make([]int16, len(codes))
		law.Decode(dec, codes)
		want := collect(NewDetector(), dec, 160)
		if len(digitsFromEvents(want)) < 5 {
			t.Fatalf("%v: test signal too weak: %d digits", law, len(digitsFromEvents(want)))
		}
		d := NewDetector()
		var got []Event
		evs := make([]Event, 0, 8)
		for i := 0; i < len(codes); {
			n := min(1+r.IntN(400), len(codes)-i)
			evs = d.ProcessG711(law, codes[i:i+n], evs[:0])
			got = append(got, evs...)
			i += n
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v: %d events, want %d as from Process", law, len(got), len(want))
		}
		if d.Pos() != int64(len(codes)) {
			t.Errorf("%v: Pos %d, want %d", law, d.Pos(), len(codes))
		}
	}
	d := NewDetector()
	if evs := d.ProcessG711(g711.Law(0), make([]byte, 160), nil); len(evs) != 0 || d.Pos() != 0 {
		t.Errorf("law 0: %d events, Pos %d; want nothing analysed", len(evs), d.Pos())
	}
}
