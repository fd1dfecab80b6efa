package mask

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// TestDelayExact: speech-only packets leave exactly LookAhead after they
// arrived, in order, with the same header (seq, timestamp, SSRC) and
// length, none lost, for several look-aheads and both laws; nothing is
// replaced, and a payload sample changes only where the notch removed the
// DTMF bands (Stats.NotchedSamples).
func TestDelayExact(t *testing.T) {
	sp := speech(t, 400*frame)
	pcm := clip(sp)
	for _, la := range []time.Duration{0, 40 * time.Millisecond, 60 * time.Millisecond, 100 * time.Millisecond} {
		for _, codec := range []Codec{CodecPCMU, CodecPCMA} {
			pt := map[Codec]uint8{CodecPCMU: 0, CodecPCMA: 8}[codec]
			s := &stream{pt: pt, ssrc: 77, seq: 65500, ts: 1 << 31, codec: codec}
			in := evenly(s.packets(pcm), time.Second)
			k := New()
			k.Configure(Policy{Mode: ModeTone, LookAhead: la}, nil)
			out, _ := drive(t, k, in)
			want := la
			if want == 0 {
				want = DefaultLookAhead
			}
			if len(out) != len(in) {
				t.Fatalf("%v %v: %d of %d packets left", la, codec, len(out), len(in))
			}
			// The last two packets have no samples after them to decide
			// with (end of stream): they wait StallGrace more.
			changed := 0
			for i, o := range out {
				if len(o.pkt) != len(in[i].pkt) || !bytes.Equal(o.pkt[:12], in[i].pkt[:12]) {
					t.Fatalf("%v %v: packet %d changed", la, codec, i)
				}
				for j := 12; j < len(o.pkt); j++ {
					if o.pkt[j] != in[i].pkt[j] {
						changed++
					}
				}
				w := want
				if i >= len(out)-2 {
					w += StallGrace
				}
				if d := o.at - in[i].at; d != w {
					t.Fatalf("%v %v: packet %d delayed %v, want %v", la, codec, i, d, w)
				}
			}
			st := k.Stats()
			if st.MaskedSamples != 0 || st.LateMasks != 0 {
				t.Fatalf("%v %v: speech masked: %+v", la, codec, st)
			}
			if uint64(changed) > st.NotchedSamples {
				t.Fatalf("%v %v: %d samples changed, %d notched", la, codec, changed, st.NotchedSamples)
			}
		}
	}
}

// maskedRuns returns the stretches [a, b) where out differs from in,
// joined across samples where the input already was the silence value
// (replaced by itself).
func maskedRuns(in, out []int16, silence int16) (runs [][2]int) {
	defer func() {
		var merged [][2]int
		for _, r := range runs {
			if n := len(merged); n > 0 {
				gapSilent := true
				for i := merged[n-1][1]; i < r[0]; i++ {
					gapSilent = gapSilent && out[i] == silence
				}
				if gapSilent {
					merged[n-1][1] = r[1]
					continue
				}
			}
			merged = append(merged, r)
		}
		runs = merged
	}()
	for i := 0; i < len(in); {
		if in[i] == out[i] {
			i++
			continue
		}
		j := i
		for j < len(in) && in[j] != out[j] {
			j++
		}
		runs = append(runs, [2]int{i, j})
		i = j
	}
	return runs
}

// TestMaskBounds: synthetic tones at known positions, every onset phase
// inside a packet, 40-500 ms, -10 and -25 dBm0, over a low noise floor.
// Every tone sample is replaced; masking starts no earlier than one packet
// before the tone and ends no later than 40 ms after it; the notch around
// a tone stays within 40 ms of it; everything else is byte-identical; no
// late masks.
func TestMaskBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	durs := []int{40, 50, 100, 500}
	levels := []float64{-10, -25}
	var maxEarly, maxLate int
	var n int
	for _, codec := range []Codec{CodecPCMU, CodecPCMA} {
		var bursts []burst
		at := 4000
		for i := 0; i < 64; i++ {
			b := burst{key: keys[i%16], dur: durs[i%4] * msS, dbm0: levels[(i/4)%2]}
			b.at = at + (i*37)%frame
			bursts = append(bursts, b)
			at = b.at + b.dur + 2400 + (i*53)%frame
		}
		sig := make([]float64, at+4000)
		for i := range sig {
			sig[i] = 20 * r.NormFloat64() // about -60 dBm0 line noise
		}
		for _, b := range bursts {
			b.add(sig, r)
		}
		pcm := clip(sig)
		pt := map[Codec]uint8{CodecPCMU: 0, CodecPCMA: 8}[codec]
		s := &stream{pt: pt, ssrc: 9, codec: codec}
		pkts := s.packets(pcm)
		in := decode(t, func() []released {
			var rs []released
			for _, p := range pkts {
				rs = append(rs, released{pkt: p})
			}
			return rs
		}())
		// The recording tap flags the replaced samples (the same spans the
		// forwarded packets get); other changed samples were notched.
		flags := make([]bool, len(in))
		k := New(WithRecordTap(0, func(_, ts uint32, f *RecordFrame) {
			for i, v := range f.Silent {
				flags[int(ts)+i] = v
			}
		}, nil))
		k.Configure(Policy{Mode: ModeSilence}, nil)
		out, _ := drive(t, k, evenly(pkts, 0))
		k.FlushRecord()
		got := decode(t, out)
		silence := g711.UlawToLinear(g711.UlawSilence)
		if codec == CodecPCMA {
			silence = g711.AlawToLinear(g711.AlawSilence)
		}
		replaced := append([]int16(nil), in...)
		var notched []int
		for i := range got {
			switch {
			case flags[i]:
				if got[i] != silence {
					t.Fatalf("%v: sample %d flagged but not silence", codec, i)
				}
				replaced[i] = silence
			case got[i] != in[i]:
				notched = append(notched, i)
			}
		}
		runs := maskedRuns(in, replaced, silence)
		for _, i := range notched {
			ok := false
			for _, b := range bursts {
				ok = ok || i >= b.at-40*msS && i < b.at+b.dur+40*msS
			}
			if !ok {
				t.Fatalf("%v: sample %d notched, no tone within 40 ms", codec, i)
			}
		}
		for _, b := range bursts {
			var cover *[2]int
			for i := range runs {
				if runs[i][0] <= b.at && b.at+b.dur <= runs[i][1] {
					cover = &runs[i]
				}
			}
			if cover == nil {
				t.Fatalf("%v: tone %c at %d, %d ms not masked whole; runs near: %v", codec, b.key, b.at, b.dur/msS, near(runs, b.at))
			}
			early, late := b.at-cover[0], cover[1]-(b.at+b.dur)
			maxEarly, maxLate = max(maxEarly, early), max(maxLate, late)
			if early > frame || late > 40*msS {
				t.Errorf("%v: tone at %d, %d ms: mask %v starts %d samples early, ends %d late", codec, b.at, b.dur/msS, *cover, early, late)
			}
			n++
		}
		if len(runs) != len(bursts) {
			t.Errorf("%v: %d masked stretches for %d tones", codec, len(runs), len(bursts))
		}
		if st := k.Stats(); st.LateMasks != 0 {
			t.Errorf("%v: %d late masks", codec, st.LateMasks)
		}
	}
	t.Logf("%d tones: mask starts at most %.1f ms before a tone and ends at most %.1f ms after it",
		n, float64(maxEarly)/msS, float64(maxLate)/msS)
}

func near(runs [][2]int, at int) [][2]int {
	var out [][2]int
	for _, r := range runs {
		if r[1] > at-2000 && r[0] < at+6000 {
			out = append(out, r)
		}
	}
	return out
}

// TestStallLateMask: when the stream stalls right after a tone's first
// samples, the packet holding them leaves after StallGrace without the
// look-ahead, and the mask the resumed stream opens is counted late.
func TestStallLateMask(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	sig := make([]float64, 40*frame)
	burst{key: '5', at: 20*frame - 60, dur: 100 * msS, dbm0: -10}.add(sig, r)
	s := &stream{pt: 0, ssrc: 1, codec: CodecPCMU}
	in := evenly(s.packets(clip(sig)), 0)
	for i := 20; i < len(in); i++ {
		in[i].at += 300 * time.Millisecond // network stall, then a burst
	}
	k := New()
	k.Configure(Policy{Mode: ModeSilence}, nil)
	drive(t, k, in)
	if n := k.Stats().LateMasks; n != 1 {
		t.Fatalf("%d late masks, want 1", n)
	}
}

// TestPopDecided: a caller that may still have unread packets (an engine
// that fell behind) pops with PopDecided: a due packet the detector has not
// decided about waits for them, even past its StallGrace, while Pop lets it
// go at its StallGrace.
func TestPopDecided(t *testing.T) {
	s := &stream{pt: 0, ssrc: 1, codec: CodecPCMU}
	pkts := s.packets(make([]int16, 3*frame))
	k := New()
	k.Configure(Policy{Mode: ModeSilence}, nil)
	var h rtp.Header
	for i, p := range pkts {
		if _, err := h.Unmarshal(p); err != nil {
			t.Fatal(err)
		}
		k.Push(&h, p, time.Duration(i)*frameDt)
	}
	// The last packet's due time has passed long ago; only the samples after
	// it (unread, or never sent) can decide it.
	due, decided, ok := k.FrontDue()
	for ok && decided {
		if _, popped := k.PopDecided(due); !popped {
			t.Fatal("a decided, due packet did not leave")
		}
		due, decided, ok = k.FrontDue()
	}
	if !ok {
		t.Fatal("every packet decided without the samples after it")
	}
	late := due + 10*StallGrace
	if _, popped := k.PopDecided(late); popped {
		t.Fatal("PopDecided let an undecided packet go")
	}
	if _, popped := k.Pop(due + StallGrace - time.Nanosecond); popped {
		t.Fatal("Pop let an undecided packet go before its StallGrace")
	}
	if _, popped := k.Pop(due + StallGrace); !popped {
		t.Fatal("Pop held an undecided packet past its StallGrace")
	}
}

// TestRFC4733: telephone-events are never queued; audio overlapping an
// event is masked even when it carries no detectable tone; captured digits
// are delivered once per key press when phones send both in-band and RFC
// 4733, and not at all without Capture.
func TestRFC4733(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const tePT = 101
	codecs := DefaultCodecs()
	if err := codecs.Set(tePT, "telephone-event/8000"); err != nil {
		t.Fatal(err)
	}
	for _, capture := range []bool{false, true} {
		for _, inband := range []bool{false, true} {
			t.Run(fmt.Sprintf("capture=%v/inband=%v", capture, inband), func(t *testing.T) {
				sig := make([]float64, 60*frame)
				for i := range sig {
					sig[i] = 30 * r.NormFloat64()
				}
				// Key '7' from packet 10 for 8 packets (160 ms); key '7' again
				// from packet 30 for 5 packets.
				presses := [][2]int{{10, 8}, {30, 5}}
				if inband {
					for _, p := range presses {
						burst{key: '7', at: p[0] * frame, dur: p[1] * frame, dbm0: -10}.add(sig, r)
					}
				}
				pcm := clip(sig)
				s := &stream{pt: 0, ssrc: 42, codec: CodecPCMU}
				var in []timed
				evSeq := uint16(0)
				for i := 0; i < 60; i++ {
					at := time.Duration(i) * frameDt
					ts := s.ts
					in = append(in, timed{at: at, pkt: s.packet(pcm[i*frame:(i+1)*frame], false)})
					for _, p := range presses {
						if i >= p[0] && i < p[0]+p[1] {
							// The event packet for this 20 ms, sent with the audio.
							d := uint16((i - p[0] + 1) * frame)
							end := i == p[0]+p[1]-1
							pkt := event(tePT, 42, 1000+evSeq, uint32(p[0]*frame), i == p[0], 7, end, d)
							evSeq++
							in = append(in, timed{at: at, pkt: pkt})
							if end { // RFC 4733 §2.5.1.4: the end packet three times
								for range 2 {
									in = append(in, timed{at: at, pkt: event(tePT, 42, 1000+evSeq, uint32(p[0]*frame), false, 7, true, d)})
									evSeq++
								}
							}
						}
					}
					_ = ts
				}
				var got []Digit
				k := New(WithDigits(func(d Digit) { got = append(got, d) }))
				k.Configure(Policy{Mode: ModeTone, Capture: capture}, &codecs)
				out, verdicts := drive(t, k, in)
				nev := 0
				conv := 0
				for _, v := range verdicts {
					if v == DropEvent || v == Converted {
						nev++
					}
					if v == Converted {
						conv++
					}
				}
				// Audio covered every event stretch: no synthetic packet left.
				if st := k.Stats(); st.Converted != 0 || st.Superseded != uint64(conv) {
					t.Fatalf("%d converted, %d superseded of %d queued", st.Converted, st.Superseded, conv)
				}
				if len(out) != 60 || nev != len(in)-60 {
					t.Fatalf("%d packets out (want the 60 audio), %d events dropped of %d", len(out), nev, len(in)-60)
				}
				var h rtp.Header
				for i, o := range out {
					h.Unmarshal(o.pkt)
					if h.PayloadType == tePT {
						t.Fatal("a telephone-event reached the listener")
					}
					inPress := false
					for _, p := range presses {
						inPress = inPress || (i >= p[0] && i < p[0]+p[1])
					}
					orig := in[0].pkt
					for _, x := range in {
						h2 := rtp.Header{}
						h2.Unmarshal(x.pkt)
						if h2.PayloadType == 0 && h2.SequenceNumber == h.SequenceNumber {
							orig = x.pkt
						}
					}
					changed := !bytes.Equal(o.pkt, orig)
					if inPress && !changed {
						t.Fatalf("packet %d overlaps an event but was not masked", i)
					}
				}
				want := 0
				if capture {
					want = 2
				}
				if len(got) != want {
					t.Fatalf("got %d digits, want %d: %v", len(got), want, got)
				}
				for i, d := range got {
					if d.Digit != '7' || d.RTPTimestamp-uint32(presses[i][0]*frame) > 800 && uint32(presses[i][0]*frame)-d.RTPTimestamp > 800 {
						t.Fatalf("digit %d: %v at ts %d", i, d.Source, d.RTPTimestamp)
					}
				}
				if capture && inband {
					t.Logf("sources: %v %v", got[0].Source, got[1].Source)
				}
			})
		}
	}
}

// TestFailClosed: an undecodable payload type is dropped in a masked
// direction, an oversize packet and a full queue drop the newcomer, a
// short telephone-event is dropped as malformed; CN passes untouched.
func TestFailClosed(t *testing.T) {
	codecs := DefaultCodecs()
	codecs.Set(101, "telephone-event")
	k := New()
	k.Configure(Policy{Mode: ModeSilence}, &codecs)
	var h rtp.Header
	push := func(pkt []byte, now time.Duration) Verdict {
		if _, err := h.Unmarshal(pkt); err != nil {
			t.Fatal(err)
		}
		return k.Push(&h, pkt, now)
	}
	g729 := (&stream{pt: 18, ssrc: 1}).packet(make([]int16, 20), false)
	if v := push(g729, 0); v != DropUndecodable {
		t.Fatalf("G.729 in a masked direction: %v", v)
	}
	big := (&stream{pt: 0, ssrc: 1}).packet(make([]int16, SlotSize), false)
	if v := push(big, 0); v != DropOverflow {
		t.Fatalf("oversize: %v", v)
	}
	short := event(101, 1, 1, 0, true, 5, false, 160)[:14]
	if v := push(short, 0); v != DropMalformed {
		t.Fatalf("short event: %v", v)
	}
	cn := (&stream{pt: 13, ssrc: 1}).packet(make([]int16, 1), false)
	if v := push(cn, 0); v != Queued {
		t.Fatalf("CN: %v", v)
	}
	s := &stream{pt: 8, ssrc: 1, codec: CodecPCMA}
	for i := 1; i < Slots; i++ {
		if v := push(s.packet(make([]int16, frame), false), 0); v != Queued {
			t.Fatalf("packet %d: %v", i, v)
		}
	}
	if v := push(s.packet(make([]int16, frame), false), 0); v != DropOverflow {
		t.Fatalf("full queue: %v", v)
	}
	p, ok := k.Pop(time.Hour)
	if !ok || !bytes.Equal(p, cn) {
		t.Fatal("CN did not leave first and untouched")
	}
	for k.Len() > 0 {
		if _, ok := k.Drain(); !ok {
			t.Fatal("Drain failed with packets queued")
		}
	}
	st := k.Stats()
	if st.Undecodable != 1 || st.Overflows != 2 || st.Malformed != 1 || st.Released != Slots {
		t.Fatalf("stats %+v", st)
	}
}

// TestMaskingAudioNeverDTMF: each mode's replacement, fed to the detector,
// never opens a mask or reports a digit, for a range of tone frequencies.
func TestMaskingAudioNeverDTMF(t *testing.T) {
	for _, c := range []struct {
		mode Mode
		hz   int
	}{{ModeTone, 400}, {ModeTone, 100}, {ModeTone, 1000}, {ModeTone, 2000}, {ModeTone, 3400}, {ModeComfortNoise, 0}, {ModeSilence, 0}} {
		g := generator{mode: c.mode, hz: int64(c.hz), noise: 1}
		codes := make([]byte, 16000)
		mark := make([]bool, len(codes))
		for i := range mark {
			mark[i] = true
		}
		// Fill in packet-sized pieces to exercise phase continuity.
		for i := 0; i < len(codes); i += frame {
			g.fill(codes[i:i+frame], mark[i:i+frame], int64(i), CodecPCMU)
		}
		pcm := make([]int16, len(codes))
		g711.DecodeUlaw(pcm, codes)
		d := dtmf.NewDetector()
		if evs := d.Process(pcm, nil); len(evs) != 0 {
			t.Errorf("%v %d Hz: detector events %v", c.mode, c.hz, evs)
		}
		if c.mode == ModeTone && !phaseContinuous(pcm, c.hz) {
			t.Errorf("%d Hz tone is not phase-continuous across packets", c.hz)
		}
	}
}

// phaseContinuous checks the tone has no jump larger than its slope allows.
func phaseContinuous(pcm []int16, hz int) bool {
	maxStep := 2 * 3.1416 * float64(hz) / rate * 2300 * 1.2
	for i := 1; i < len(pcm); i++ {
		d := float64(pcm[i]) - float64(pcm[i-1])
		if d > maxStep+64 || -d > maxStep+64 {
			return false
		}
	}
	return true
}

// TestTimestampGapsAndReorder: lost packets (timestamp gaps) and a
// reordered pair keep tones masked and the queue in arrival order.
func TestTimestampGapsAndReorder(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	sig := make([]float64, 80*frame)
	burst{key: '9', at: 30*frame + 57, dur: 200 * msS, dbm0: -15}.add(sig, r)
	s := &stream{pt: 0, ssrc: 5, codec: CodecPCMU}
	pkts := s.packets(clip(sig))
	var in []timed
	for i, p := range pkts {
		switch i {
		case 20, 21, 50: // lost
			continue
		case 33: // swapped with 34
			p = pkts[34]
		case 34:
			p = pkts[33]
		}
		in = append(in, timed{at: time.Duration(i) * frameDt, pkt: p})
	}
	k := New()
	k.Configure(Policy{Mode: ModeSilence}, nil)
	out, _ := drive(t, k, in)
	if len(out) != len(in) {
		t.Fatalf("%d of %d left", len(out), len(in))
	}
	for i := range out {
		if !bytes.Equal(out[i].pkt[:12], in[i].pkt[:12]) {
			t.Fatalf("packet %d out of arrival order", i)
		}
	}
	d := dtmf.NewDetector()
	if evs := d.Process(decode(t, out), nil); len(evs) != 0 {
		t.Fatalf("tone left: %v", evs)
	}
	if k.Stats().LateMasks != 0 {
		t.Fatal("late masks")
	}
}

// TestPolicySwitchAndReset: a mode change takes effect on the next
// release; Reset forgets an open mask.
func TestPolicySwitchAndReset(t *testing.T) {
	k := New()
	k.Configure(Policy{Capture: true}, nil)
	if p := k.Policy(); p.Mode != ModeTone || p.LookAhead != DefaultLookAhead || p.ToneHz != DefaultToneHz {
		t.Fatalf("capture with mode off: %+v", p)
	}
	k.Configure(Policy{Mode: ModeComfortNoise, LookAhead: 80 * time.Millisecond}, nil)
	if p := k.Policy(); p.Mode != ModeComfortNoise || p.LookAhead != 80*time.Millisecond {
		t.Fatalf("%+v", p)
	}
	r := rand.New(rand.NewPCG(11, 12))
	sig := make([]float64, 20*frame)
	burst{key: '1', at: 5 * frame, dur: 15 * frame, dbm0: -10}.add(sig, r)
	s := &stream{pt: 0, ssrc: 5, codec: CodecPCMU}
	var h rtp.Header
	for i, p := range s.packets(clip(sig)) {
		h.Unmarshal(p)
		k.Push(&h, p, time.Duration(i)*frameDt)
	}
	k.Reset()
	if k.Len() != 0 || k.nspans != 0 || k.openSpan != -1 {
		t.Fatal("Reset left state")
	}
	p := s.packet(make([]int16, frame), false)
	h.Unmarshal(p)
	k.Push(&h, p, time.Second)
	out, ok := k.Drain()
	if !ok || !bytes.Equal(out, p) {
		t.Fatal("silence after Reset was masked: the old tone's mask carried over")
	}
}

// TestQueueOrderAndReuse: whatever the mix of pushes and releases, packets
// leave in the order they came, byte for byte, and a queue that never holds
// more than four packets keeps reusing the same few slots (the point of
// the free stack: a small working set per stream).
func TestQueueOrderAndReuse(t *testing.T) {
	k := New()
	k.Configure(Policy{Mode: ModeSilence}, nil)
	s := &stream{pt: 0, ssrc: 9, codec: CodecPCMU}
	r := rand.New(rand.NewPCG(7, 7))
	var queued [][]byte
	var h rtp.Header
	// Packets are compared by header and length: a notch may touch a
	// payload of random samples.
	release := func(op int) []byte {
		got, ok := k.Drain()
		if !ok || len(got) != len(queued[0]) || !bytes.Equal(got[:12], queued[0][:12]) {
			t.Fatalf("op %d: released packet is not the oldest queued (ok %v)", op, ok)
		}
		queued = queued[1:]
		return got
	}
	// Phase 0 fills and empties the whole queue at random; phases 1 and 2
	// (the second after a Reset) never hold more than four packets.
	for phase := range 3 {
		limit := Slots
		if phase > 0 {
			limit = 4
		}
		used := map[*byte]bool{}
		for op := range 1000 {
			if len(queued) < limit && r.IntN(2) == 0 {
				pcm := make([]int16, frame)
				for i := range pcm {
					pcm[i] = int16(r.IntN(2000) - 1000)
				}
				pkt := s.packet(pcm, false)
				h.Unmarshal(pkt)
				if v := k.Push(&h, pkt, 0); v != Queued {
					t.Fatalf("phase %d op %d: push with %d queued: %v", phase, op, len(queued), v)
				}
				queued = append(queued, pkt)
				continue
			}
			if len(queued) > 0 {
				used[&release(op)[0]] = true
			}
		}
		if phase > 0 && len(used) > limit+1 {
			t.Fatalf("phase %d: a queue of at most %d packets used %d slots", phase, limit, len(used))
		}
		for len(queued) > 0 {
			release(-1)
		}
		if phase == 1 {
			k.Reset()
		}
	}
}
