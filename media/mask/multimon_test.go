package mask

import (
	"fmt"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"math/rand/v2"
	"testing"
)

// multimon runs the independent judge, multimon-ng's DTMF decoder (Debian
// package multimon-ng), on pcm and returns the digits it reports in order.
func multimon(t testing.TB, dir, name string, pcm []int16) string {
	t.Helper()
	return dtmftest.Judge(t, dir, name, pcm)
}

// judgeCase is one row of the masking matrix.
type judgeCase struct {
	durMs int
	dbm0  float64
	codec Codec
}

// judgeSignal builds 16 bursts (every key once) of one duration and level,
// onsets at varied positions inside a 20 ms packet, with speech from the
// corpus between and under nothing else.
func judgeSignal(t testing.TB, c judgeCase, r *rand.Rand) (pcm []int16, bursts []burst) {
	const between = 400 * msS
	at := between
	for i := 0; i < 16; i++ {
		b := burst{key: keys[i], dur: c.durMs * msS, dbm0: c.dbm0}
		b.at = at + (i*41+c.durMs)%frame // onset phase inside the packet
		bursts = append(bursts, b)
		at = b.at + b.dur + between
	}
	n := (at + between) / frame * frame
	sp := speech(t, n)
	// Speech only between the tones, 20 ms clear of them: a tone over
	// speech is a test of the detector, not of the delay line, and the
	// judge misses a weak 40 ms tone that speech follows at once.
	sig := make([]float64, n)
	for i := range sig {
		inTone := false
		for _, b := range bursts {
			if i >= b.at-20*msS && i < b.at+b.dur+20*msS {
				inTone = true
			}
		}
		if !inTone {
			sig[i] = sp[i]
		}
	}
	for _, b := range bursts {
		b.add(sig, r)
	}
	return clip(sig), bursts
}

// TestMultimonJudge: for 40, 50, 100 and 500 ms tones at -10 and -25 dBm0
// per tone, in both G.711 laws, multimon-ng finds all 16 digits in the
// input (through G.711) and none in the masked output, for every masking
// mode. Speech outside the tones (one packet before, 40 ms after) is never
// replaced; where the notch took the DTMF bands out of it is logged.
func TestMultimonJudge(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(21, 22))
	var cases []judgeCase
	for _, d := range []int{40, 50, 100, 500} {
		for _, lv := range []float64{-10, -25} {
			for _, c := range []Codec{CodecPCMU, CodecPCMA} {
				cases = append(cases, judgeCase{d, lv, c})
			}
		}
	}
	modes := []Mode{ModeSilence, ModeComfortNoise, ModeTone}
	for i, c := range cases {
		pcm, bursts := judgeSignal(t, c, r)
		pt := map[Codec]uint8{CodecPCMU: 0, CodecPCMA: 8}[c.codec]
		s := &stream{pt: pt, ssrc: 1, codec: c.codec}
		pkts := s.packets(pcm)
		var inPkts []released
		for _, p := range pkts {
			inPkts = append(inPkts, released{pkt: p})
		}
		in := decode(t, inPkts)
		name := fmt.Sprintf("%dms_%gdBm0_%v", c.durMs, c.dbm0, c.codec)
		want := keys
		if got := multimon(t, dir, name+"_in", in); got != want {
			t.Errorf("%s: multimon-ng finds %q in the input, want %q (the judge must see every digit)", name, got, want)
		}
		mode := modes[i%len(modes)]
		// The recording tap flags the replaced samples.
		replaced := make([]bool, len(in))
		k := New(WithRecordTap(0, func(_, ts uint32, f *RecordFrame) {
			for i, v := range f.Silent {
				replaced[int(ts)+i] = v
			}
		}, nil))
		k.Configure(Policy{Mode: mode}, nil)
		out, _ := drive(t, k, evenly(pkts, 0))
		k.FlushRecord()
		got := decode(t, out)
		if d := multimon(t, dir, name+"_out", got); d != "" {
			t.Errorf("%s %v: multimon-ng finds %d digits in the masked output", name, mode, len(d))
		}
		// Outside the tones (one packet before, 40 ms after), speech is
		// never replaced.
		rep, notched, outside := 0, 0, 0
		for j := range in {
			near := false
			for _, b := range bursts {
				near = near || (j >= b.at-frame && j < b.at+b.dur+40*msS)
			}
			if near {
				continue
			}
			outside++
			switch {
			case replaced[j]:
				rep++
			case in[j] != got[j]:
				notched++
			}
		}
		if rep != 0 {
			t.Errorf("%s: %d speech samples outside the tones replaced", name, rep)
		}
		if st := k.Stats(); st.LateMasks != 0 {
			t.Errorf("%s: %d late masks", name, st.LateMasks)
		}
		t.Logf("%-22s %-13v input %2d/16 digits, output 0/16; masked %.0f ms; %.1f %% of the speech notched", name, mode, len(want),
			float64(k.Stats().MaskedSamples)/msS, 100*float64(notched)/float64(outside))
	}
}
