package mask

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/internal/cpucache/warmtest"
	"github.com/hushmedia/hush/media/rtp"
)

// pathRig is a masked direction in steady state: 20 ms packets of speech
// with a DTMF tone every second, pushed and popped on a fake clock.
type pathRig struct {
	k       *Masker
	pkts    [][]byte
	hs      []rtp.Header
	i       int
	now     time.Duration
	step    uint32
	observe bool // unmasked forwarding: analysis for the tap only
}

func newPathRig(tb testing.TB, mode Mode, opts ...Option) *pathRig {
	r := rand.New(rand.NewPCG(1, 1))
	const secs = 4
	sig := speech(tb, secs*rate)
	for s := 0; s < secs; s++ {
		burst{key: keys[s], at: s*rate + 1000, dur: 100 * msS, dbm0: -10}.add(sig, r)
	}
	st := &stream{pt: 0, ssrc: 3, codec: CodecPCMU}
	rig := &pathRig{k: New(opts...), pkts: st.packets(clip(sig))}
	rig.k.Configure(Policy{Mode: mode, Capture: true}, nil)
	rig.hs = make([]rtp.Header, len(rig.pkts))
	for i, p := range rig.pkts {
		rig.hs[i].Unmarshal(p)
	}
	for range 2 * len(rig.pkts) { // warm up: the queue fills, spans come and go
		rig.step1()
	}
	return rig
}

// step1 pushes one packet (timestamps keep advancing across loops of the
// signal) and pops what is due.
func (r *pathRig) step1() {
	j := r.i % len(r.pkts)
	if j == 0 && r.i > 0 {
		r.step += uint32(len(r.pkts) * frame)
	}
	h := r.hs[j]
	h.Timestamp += r.step
	if r.observe {
		r.k.Observe(&h, r.pkts[j], r.now)
	} else {
		r.k.Push(&h, r.pkts[j], r.now)
	}
	for {
		if _, ok := r.k.Pop(r.now); !ok {
			break
		}
	}
	r.now += frameDt
	r.i++
}

// TestMaskedPathAllocs: the masked path allocates nothing per packet.
func TestMaskedPathAllocs(t *testing.T) {
	for _, m := range []Mode{ModeSilence, ModeComfortNoise, ModeTone} {
		rig := newPathRig(t, m)
		if a := testing.AllocsPerRun(500, rig.step1); a != 0 {
			t.Errorf("%v: %.2f allocations per packet", m, a)
		}
	}
	frames := 0
	tap := WithRecordTap(0, func(uint32, uint32, *RecordFrame) { frames++ }, func(uint32, uint32, uint32) {})
	for _, observe := range []bool{false, true} {
		rig := newPathRig(t, ModeTone, tap)
		rig.observe = observe
		if a := testing.AllocsPerRun(500, rig.step1); a != 0 {
			t.Errorf("record tap, observe %v: %.2f allocations per packet", observe, a)
		}
	}
	if frames == 0 {
		t.Fatal("the tap delivered nothing")
	}
}

// BenchmarkMaskedPathWithTap: BenchmarkMaskedPath plus the recording tap.
func BenchmarkMaskedPathWithTap(b *testing.B) {
	rig := newPathRig(b, ModeTone, WithRecordTap(0, func(uint32, uint32, *RecordFrame) {}, nil))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rig.step1()
	}
}

// BenchmarkMaskedPath: one 20 ms G.711 packet through decode, DTMF
// detection, queueing, masking and re-encoding (tone mode; a tone every
// second of speech).
func BenchmarkMaskedPath(b *testing.B) {
	rig := newPathRig(b, ModeTone)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rig.step1()
	}
}

// BenchmarkDetectorOnly is the detector's share of the masked path: the
// same packets decoded and fed to a dtmf.Detector alone.
func BenchmarkDetectorOnly(b *testing.B) {
	rig := newPathRig(b, ModeTone)
	d := dtmf.NewDetector()
	pcm := make([]int16, frame)
	evs := make([]dtmf.Event, 0, 8)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := rig.pkts[i%len(rig.pkts)]
		g711.DecodeUlaw(pcm, p[12:])
		evs = d.Process(pcm, evs[:0])
	}
}

// BenchmarkMaskedPathStreams is BenchmarkMaskedPathWithTap over a thousand
// streams in turn, as the relay runs them: each packet finds its stream's
// state where the other 999 pushed it, out of cache. This, not the
// one-stream figure, is what a packet costs under load; the gap between
// the two is memory traffic.
func BenchmarkMaskedPathStreams(b *testing.B) {
	const streams = 1000
	sig := speech(b, 4*rate)
	st := &stream{pt: 0, ssrc: 3, codec: CodecPCMU}
	pkts := st.packets(clip(sig))
	hs := make([]rtp.Header, len(pkts))
	for i, p := range pkts {
		hs[i].Unmarshal(p)
	}
	type sink struct {
		ring [64][frame]byte
		n    int
	}
	ks := make([]*Masker, streams)
	for i := range ks {
		s := new(sink)
		ks[i] = New(WithRecordTap(0, func(_, _ uint32, f *RecordFrame) {
			copy(s.ring[s.n%len(s.ring)][:], f.Codes)
			s.n++
		}, nil))
		ks[i].Configure(Policy{Mode: ModeTone}, nil)
	}
	var now time.Duration
	step := func(i int) {
		k := ks[i%streams]
		n := i / streams // the stream's packet number
		j := (n + i%streams*7) % len(pkts)
		h := hs[j]
		h.Timestamp = uint32(n * frame)
		h.SequenceNumber = uint16(n)
		k.Push(&h, pkts[j], now)
		for {
			if _, ok := k.Pop(now); !ok {
				break
			}
		}
		now += frameDt / streams
	}
	for i := range 10 * streams { // every queue full
		step(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		step(10*streams + i)
	}
}

// The warm-up levels read the queues only where they may: on an empty, a
// working and a full masker, with and without a tap, they change nothing;
// and each level hints only through pointers an earlier level loaded
// (warmtest.Check).
func TestWarmLevels(t *testing.T) {
	for _, tap := range []bool{false, true} {
		var opts []Option
		if tap {
			opts = append(opts, WithRecordTap(0, func(uint32, uint32, *RecordFrame) {}, nil))
		}
		rig := newPathRig(t, ModeTone, opts...)
		k := New(opts...)
		for _, m := range []*Masker{k, rig.k} {
			n := m.Len()
			warmtest.Check(t, m, WarmLevels, m.WarmPush)
			warmtest.Check(t, m, WarmLevels, m.WarmPop)
			m.WarmPush(WarmLevels)
			m.WarmPop(-1)
			if m.Len() != n {
				t.Fatalf("tap %v: Len %d -> %d", tap, n, m.Len())
			}
		}
		for k.q.size < poolSize { // full: no free slot to prefetch
			k.q.push()
		}
		for l := range WarmLevels {
			k.WarmPush(l)
			k.WarmPop(l)
		}
	}
}

// BenchmarkNotchFrame reports the cost of notching one 20 ms frame of speech: the four
// high-group frequencies and one low one (what a notch span usually names), decoded,
// filtered and re-encoded.
func BenchmarkNotchFrame(b *testing.B) {
	pcm := clip(speech(b, 50*frame))
	codes := make([]byte, len(pcm))
	g711.EncodeUlaw(codes, pcm)
	spans := []notchSpan{{start: 0, end: math.MaxInt64, tones: dtmf.NotchHigh | 1<<1}}
	var f notchFilter
	buf := make([]byte, frame)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i+frame > len(codes) {
			i = 0
		}
		copy(buf, codes[i:i+frame])
		f.apply(buf, nil, int64(i), g711.Ulaw, spans, nil, false)
		i += frame
	}
}
