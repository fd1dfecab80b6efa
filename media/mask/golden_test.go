package mask

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// The golden digests pin every byte and instant the masker produces over a
// fixed input: the packets it releases (bytes, and when), its due times, the
// recording tap's frames (codes, silence flags, arrival), the masked runs,
// the digits and the counters. Work on the masker's speed must leave them as
// they are; a change to what it sends or records (or to the detector it
// runs) changes them on purpose, and the new digests go in with that change.
var goldenDigests = map[string]string{
	"pcmu-20ms-tone-tap":           "c7ec46cf7ad911be5a2dceb7",
	"pcma-10ms-silence-tap":        "f785c662f1d946a1f94f8032",
	"pcmu-30ms-comfort-noise":      "93e2c7cc101ed6cf5bcb087e",
	"pcmu-20ms-capture-keys-tap":   "bb42f94593987555819ce018",
	"pcma-20ms-observe-tap":        "bf4e1c8c98558c94e229bb0c",
	"pcmu-20ms-tone-tap-lookahead": "7c4bfb67c139d0e5f30bc979",
}

// goldenCase is one run over the golden signal.
type goldenCase struct {
	name    string
	codec   Codec
	frame   int // samples per packet
	policy  Policy
	tap     bool
	observe bool // unmasked throughout: Observe only
}

var goldenCases = []goldenCase{
	{name: "pcmu-20ms-tone-tap", codec: CodecPCMU, frame: 160, policy: Policy{Mode: ModeTone}, tap: true},
	{name: "pcma-10ms-silence-tap", codec: CodecPCMA, frame: 80, policy: Policy{Mode: ModeSilence}, tap: true},
	{name: "pcmu-30ms-comfort-noise", codec: CodecPCMU, frame: 240, policy: Policy{Mode: ModeComfortNoise}},
	{name: "pcmu-20ms-capture-keys-tap", codec: CodecPCMU, frame: 160, policy: Policy{Capture: true, Keys: true}, tap: true},
	{name: "pcma-20ms-observe-tap", codec: CodecPCMA, frame: 160, tap: true, observe: true},
	{name: "pcmu-20ms-tone-tap-lookahead", codec: CodecPCMU, frame: 160, policy: Policy{Mode: ModeTone, LookAhead: 40 * time.Millisecond, ToneHz: 550}, tap: true},
}

// goldenSignal is about 24 s of audio: silence, speech-like sound (voiced
// harmonics gliding in pitch under a syllable envelope, with breath noise),
// keys over silence and over that sound at many levels and lengths, weak and
// malformed DTMF-like tones (single high tones, twisted, off-frequency,
// short, quiet pairs) that draw the notch rather than the mask, and noise.
func goldenSignal() []float64 {
	r := rand.New(rand.NewPCG(2026, 23))
	const n = 24 * rate
	sig := make([]float64, n)
	peak := g711.Peak0dBm0
	// Speech-like from 1 s to 9 s and from 14 s to 20 s.
	voiced := func(from, to int, dbm0 float64) {
		ph := make([]float64, 20)
		a := peak * math.Pow(10, dbm0/20)
		for i := from; i < to; i++ {
			t := float64(i-from) / rate
			f0 := 120 + 60*math.Sin(2*math.Pi*0.7*t) + 20*math.Sin(2*math.Pi*3.1*t)
			env := math.Max(0, math.Sin(2*math.Pi*2.3*t)) * (0.6 + 0.4*math.Sin(2*math.Pi*0.31*t))
			v := 0.0
			for h := range ph {
				f := f0 * float64(h+1)
				if f > 3800 {
					break
				}
				ph[h] += 2 * math.Pi * f / rate
				// Two formant-ish humps.
				w := math.Exp(-math.Pow((f-600)/300, 2)) + 0.6*math.Exp(-math.Pow((f-1500)/400, 2)) + 0.05
				v += w * math.Sin(ph[h])
			}
			sig[i] += a * env * (v/3 + 0.05*r.NormFloat64())
		}
	}
	voiced(1*rate, 9*rate, -12)
	voiced(14*rate, 20*rate, -18)
	// White noise at -35 dBm0 from 20 s to 23 s.
	for i := 20 * rate; i < 23*rate; i++ {
		sig[i] += peak * math.Pow(10, -35.0/20) / math.Sqrt2 * r.NormFloat64()
	}
	add := func(b dtmftest.Burst) { b.AddTo(sig, r) }
	k := 0
	next := func() byte { k++; return keys[k%len(keys)] }
	// Keys over silence (9 s to 14 s): levels and lengths.
	for i, lv := range []float64{-3, -10, -18, -25, -30, -36} {
		add(dtmftest.Burst{Key: next(), At: 9*rate + i*700 + 37*i, Dur: (30 + 25*i) * msS, DBm0: lv})
	}
	// Weak and malformed evidence over silence (12.5 s to 14 s).
	add(dtmftest.Burst{Key: next(), At: 12*rate + 4000, Dur: 18 * msS, DBm0: -12})
	add(dtmftest.Burst{Key: next(), At: 12*rate + 5500, Dur: 60 * msS, DBm0: -15, Twist: 9})
	add(dtmftest.Burst{Key: next(), At: 12*rate + 7000, Dur: 80 * msS, DBm0: -15, HiShift: 0.03})
	add(dtmftest.Burst{Key: next(), At: 13*rate + 1000, Dur: 120 * msS, DBm0: -14, Stagger: 90})
	// Keys over the speech-like sound.
	for i, lv := range []float64{-12, -18, -24, -30} {
		add(dtmftest.Burst{Key: next(), At: 2*rate + i*rate + 311*i, Dur: (60 + 40*i) * msS, DBm0: lv, Fade: 80 * (i % 2)})
	}
	for i := range 3 {
		add(dtmftest.Burst{Key: next(), At: 15*rate + i*9000 + 101, Dur: 70 * msS, DBm0: -20 - 4*float64(i), LoShift: -0.015, HiShift: 0.018})
	}
	// Single high tones (one DTMF frequency alone) over speech and over noise.
	for i, f := range []float64{1209, 1336, 1477, 1633} {
		at := 6*rate + i*3000
		if i >= 2 {
			at = 20*rate + (i-2)*6000
		}
		a := peak * math.Pow(10, -22.0/20)
		for j := range 300 * msS {
			sig[at+j] += a * math.Sin(2*math.Pi*f*float64(j)/rate)
		}
	}
	// A held key and a key right at a packet edge, over noise.
	add(dtmftest.Burst{Key: next(), At: 21*rate + 160*3, Dur: 600 * msS, DBm0: -16})
	add(dtmftest.Burst{Key: next(), At: 22*rate + 4*160 - 1, Dur: 45 * msS, DBm0: -20})
	return sig
}

// goldenInput packetizes the golden signal for a case, with what networks
// and phones do to it: jitter, loss, a reordered pair, a stall that arrives
// as a burst, an SSRC change, comfort noise, and RFC 4733 events, once over
// audio and once while the phone sends no audio.
func goldenInput(c goldenCase, pcm []int16) []timed {
	r := rand.New(rand.NewPCG(uint64(c.frame), 7))
	const tePT = 101
	pt := uint8(0)
	if c.codec == CodecPCMA {
		pt = 8
	}
	s := &stream{pt: pt, ssrc: 0x1234, ts: 0xfffff000, codec: c.codec} // the timestamp wraps
	fdt := time.Duration(c.frame) * sampleDur
	var in []timed
	var pkts [][]byte
	for i := 0; i+c.frame <= len(pcm); i += c.frame {
		if i == 18*rate/c.frame*c.frame {
			s.ssrc, s.ts = 0x5678, 0x40000077 // a new stream, its own timestamps
		}
		pkts = append(pkts, s.packet(pcm[i:i+c.frame], i == 0))
	}
	evAudio := 10 * rate / c.frame // events beside audio from here
	evAlone := 23 * rate / c.frame // events with audio suppressed from here
	stall := 3 * rate / c.frame    // 150 ms late, then a burst
	for i, p := range pkts {
		at := time.Duration(i)*fdt + time.Duration(r.IntN(3000))*time.Microsecond
		if i >= stall && i < stall+8 {
			at = time.Duration(stall+8)*fdt + time.Duration(i-stall)*100*time.Microsecond
		}
		switch {
		case i == 40 || i == 41 || i == 15*rate/c.frame: // lost
			continue
		case i == 60: // swapped with 61
			p = pkts[61]
		case i == 61:
			p = pkts[60]
		case i == 11*rate/c.frame: // comfort noise in place of audio
			p = append([]byte(nil), p[:12+1]...)
			p[1] = p[1]&0x80 | 13
		}
		var h rtp.Header
		h.Unmarshal(p)
		if i >= evAlone && i < evAlone+12 {
			// The phone stops audio during the key and sends only events.
			k := i - evAlone
			in = append(in, timed{at: at, pkt: event(tePT, h.SSRC, uint16(9000+k), h.Timestamp-uint32(k*c.frame), k == 0, 5, k == 11, uint16((k+1)*c.frame))})
			continue
		}
		in = append(in, timed{at: at, pkt: p})
		if k := i - evAudio; k >= 0 && k < 10 {
			in = append(in, timed{at: at + 300*time.Microsecond,
				pkt: event(tePT, h.SSRC, uint16(7000+k), h.Timestamp-uint32(k*c.frame), k == 0, 2, k == 9, uint16((k+1)*c.frame))})
		}
	}
	return in
}

// goldenRun drives a masker as the relay does (wake-ups at NextDue with the
// stall grace, PopDecided after each arrival; a stretch in the middle
// unmasked, its queue drained, then masked again) and returns the digest of
// everything it produced, and its counters.
func goldenRun(t testing.TB, c goldenCase, in []timed) (string, Stats) {
	t.Helper()
	h := sha256.New()
	put := func(vs ...any) {
		for _, v := range vs {
			if err := binary.Write(h, binary.LittleEndian, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	codecs := DefaultCodecs()
	codecs.Set(101, "telephone-event")
	opts := []Option{WithDigits(func(d Digit) { put(uint8('D'), d.Digit, uint8(d.Source), d.RTPTimestamp) })}
	if c.tap {
		opts = append(opts, WithRecordTap(0, func(ssrc, ts uint32, f *RecordFrame) {
			put(uint8('R'), ssrc, ts, uint8(f.Law), int64(f.Arrival), uint32(len(f.Codes)), f.Codes, f.Silent != nil)
			if f.Silent != nil {
				put(f.Silent)
			}
		}, func(ssrc, a, b uint32) { put(uint8('M'), ssrc, a, b) }))
	}
	k := New(opts...)
	released := func(tag uint8, now time.Duration, p []byte) { put(tag, int64(now), uint32(len(p)), p) }
	unmaskFrom, unmaskTo := len(in)*45/100, len(in)*55/100
	var hdr rtp.Header
	for i, p := range in {
		masked := !c.observe && (i < unmaskFrom || i >= unmaskTo)
		if masked {
			for range 4 * Slots {
				due, ok := k.NextDue()
				if !ok || due > p.at {
					break
				}
				pkt, ok := k.Pop(due)
				if !ok {
					break
				}
				released('P', due, pkt)
			}
		}
		if _, err := hdr.Unmarshal(p.pkt); err != nil {
			t.Fatal(err)
		}
		if !masked {
			for range Slots + 1 {
				pkt, ok := k.Drain()
				if !ok {
					break
				}
				released('F', p.at, pkt)
			}
			if i == unmaskFrom && !c.tap {
				k.Reset()
			}
			k.Configure(Policy{Keys: c.policy.Keys}, &codecs)
			k.Observe(&hdr, p.pkt, p.at)
			continue
		}
		k.Configure(c.policy, &codecs)
		put(uint8('V'), uint8(k.Push(&hdr, p.pkt, p.at)))
		due, decided, ok := k.FrontDue()
		put(uint8('Q'), int64(due), decided, ok)
		for range Slots + 1 {
			pkt, ok := k.PopDecided(p.at)
			if !ok {
				break
			}
			released('d', p.at, pkt)
		}
	}
	for range 4 * Slots {
		due, ok := k.NextDue()
		if !ok {
			break
		}
		if pkt, ok := k.Pop(due); ok {
			released('P', due, pkt)
		}
	}
	k.FlushRecord()
	st := k.Stats()
	put(uint8('S'), st)
	return sumHex(h), st
}

func sumHex(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)[:12]) }

// goldenPlatform reports why the digests cannot hold here, or "": they are
// of amd64 with AVX2 and FMA (the detector's filters use them, and a fused
// multiply-add rounds differently from the scalar path) built for GOAMD64
// v1 or v2 (from v3 on the compiler may fuse the notch filter's arithmetic).
func goldenPlatform() string {
	if runtime.GOARCH != "amd64" || !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return "not amd64 with AVX2 and FMA"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOAMD64" && s.Value != "v1" && s.Value != "v2" {
				return "GOAMD64=" + s.Value
			}
		}
	}
	return ""
}

// TestMaskerGolden: over a fixed input the masker sends, times and records
// exactly what goldenDigests says (see there). The input exercises every
// path: masks, notches, both outputs, RFC 4733 events replaced or superseded.
// Where floating point rounds differently (goldenPlatform) only the paths
// are checked.
func TestMaskerGolden(t *testing.T) {
	pcm := clip(goldenSignal())
	why := goldenPlatform()
	if why != "" {
		t.Logf("digests not compared: they are of amd64 with AVX2 and FMA at GOAMD64 v1 or v2, this is %s", why)
	}
	var sum Stats
	for _, c := range goldenCases {
		got, st := goldenRun(t, c, goldenInput(c, pcm))
		if want := goldenDigests[c.name]; why == "" && got != want {
			t.Errorf("%s: digest %q, want %q (stats %+v)", c.name, got, want, st)
		}
		sum.MaskedSamples += st.MaskedSamples
		sum.NotchedSamples += st.NotchedSamples
		sum.RecordMaskedSamples += st.RecordMaskedSamples
		sum.RecordNotchedSamples += st.RecordNotchedSamples
		sum.Converted += st.Converted
		sum.Superseded += st.Superseded
		sum.Digits += st.Digits
	}
	// The input reaches every path the digests are to pin.
	for name, v := range map[string]uint64{
		"masked": sum.MaskedSamples, "notched": sum.NotchedSamples,
		"recorded masked": sum.RecordMaskedSamples, "recorded notched": sum.RecordNotchedSamples,
		"converted": sum.Converted, "superseded": sum.Superseded, "digits": sum.Digits,
	} {
		if v == 0 {
			t.Errorf("the golden input never reaches %s", name)
		}
	}
	if t.Failed() {
		fmt.Println("goldenDigests:")
		for _, c := range goldenCases {
			got, _ := goldenRun(t, c, goldenInput(c, pcm))
			fmt.Printf("\t%q: %q,\n", c.name, got)
		}
	}
}
