package relay

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/udpio"
)

// tapSink collects what a RecordTap delivers, per direction. As a
// RecordWarmer it also counts the warm-up levels it is asked for.
type tapSink struct {
	mu      sync.Mutex
	pcm     [NumDirections][]int16
	silent  [NumDirections][]bool
	next    [NumDirections]uint32
	gaps    int
	masked  [NumDirections][][2]uint32
	warmed  [NumDirections][tapSinkLevels + 1]atomic.Int64
	undec   [NumDirections]atomic.Int64
	undecPT [NumDirections]atomic.Int32
}

func (s *tapSink) RecordUndecodable(from Leg, pt uint8) {
	dir := Direction(from)
	s.undec[dir].Add(1)
	s.undecPT[dir].Store(int32(pt))
}

func (s *tapSink) RecordAudio(from Leg, ssrc, ts uint32, _ time.Time, f *mask.RecordFrame) {
	dir := Direction(from)
	s.mu.Lock()
	defer s.mu.Unlock()
	pcm := f.PCM(make([]int16, len(f.Codes)))
	if len(s.pcm[dir]) > 0 && ts != s.next[dir] {
		s.gaps++
	}
	s.next[dir] = ts + uint32(len(pcm))
	s.pcm[dir] = append(s.pcm[dir], pcm...)
	for i := range pcm {
		s.silent[dir] = append(s.silent[dir], i < len(f.Silent) && f.Silent[i])
	}
}

// tapSinkLevels is how many warm-up levels a tapSink declares.
const tapSinkLevels = 3

func (s *tapSink) WarmLevels() int { return tapSinkLevels }

func (s *tapSink) Warm(from Leg, level int) {
	s.warmed[Direction(from)][min(uint(level), tapSinkLevels)].Add(1)
}

// tap is a RecordTap delivering to s: as the Sink, or through Audio.
func (s *tapSink) tap(asSink bool) RecordTap {
	t := RecordTap{
		Masked: func(dir Direction, ssrc, a, b uint32) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.masked[dir] = append(s.masked[dir], [2]uint32{a, b})
		},
	}
	if asSink {
		t.Sink = s
	} else {
		t.Audio = func(dir Direction, ssrc, ts uint32, f *mask.RecordFrame) {
			s.RecordAudio(dir.From(), ssrc, ts, time.Time{}, f)
		}
	}
	return t
}

// TestRecordTapCall: with a recording tap and no forwarding policy, the
// listener gets every packet at once and untouched (tones included: the
// judge hears them) while the recording of both directions has every
// sample, in order, with the tones replaced (the judge hears none); the
// frames still queued at the end arrive by Close. A masked direction
// records the same way. The tap's sink works the same as a function or
// as a RecordSink; the io_uring engine asks a RecordWarmer for every
// warm-up level in both directions, and for no other.
func TestRecordTapCall(t *testing.T) { forEngines(t, testRecordTapCallOnEngine) }

func testRecordTapCallOnEngine(t *testing.T) {
	for _, asSink := range []bool{false, true} {
		t.Run(map[bool]string{false: "func", true: "sink"}[asSink], func(t *testing.T) { testRecordTapCall(t, asSink) })
	}
}

func testRecordTapCall(t *testing.T, asSink bool) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(61, 62))
	sink := &tapSink{}
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit(), WithRecordTap(sink.tap(asSink)))
	const gap = 250 * sMs
	var tones []tone
	at := gap
	for k := range 16 {
		b := tone{key: dtmfKeys[k], at: at + k*29%sFrame, dur: 60 * sMs, dbm0: -20}
		tones = append(tones, b)
		at = b.at + b.dur + gap
	}
	n := (at + gap) / sFrame * sFrame
	sp := speechSignal(t, n)
	sig := make([]float64, n)
	for j := range sig {
		clear := true
		for _, b := range tones {
			clear = clear && (j < b.at-20*sMs || j >= b.at+b.dur+20*sMs)
		}
		if clear {
			sig[j] = sp[j]
		}
	}
	for _, b := range tones {
		b.add(sig, r)
	}
	pcm := toPCM(sig)
	cust := (&g711Stream{pt: 0, ssrc: 1, ts: 100}).all(pcm)
	agent := (&g711Stream{pt: 8, ssrc: 2, ts: 900}).all(pcm)
	// Customer->agent unmasked: lockstep, each packet arrives at once.
	for _, p := range cust {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
	}
	// Agent->customer masked: the listener hears no tones.
	if err := c.SetMaskPolicy(AgentToCustomer, mask.Policy{Mode: mask.ModeSilence}); err != nil {
		t.Fatal(err)
	}
	got := pump(t, e.b.s.RTP, e.a.s.RTP, c.LocalRTP(Agent), agent, all, 24)
	sameHeaders(t, got, agent)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	in := pcmOf(t, cust)
	if d := judge(t, dir, "tap_in", in); d != dtmfKeys {
		t.Fatalf("judge finds %q in the input", d)
	}
	if d := judge(t, dir, "tap_agent_hears", pcmOf(t, got)); d != "" {
		t.Errorf("judge finds %d digits where masking is on", len(d))
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for d := range Direction(NumDirections) {
		rec := sink.pcm[d]
		if len(rec) != len(pcm) {
			t.Fatalf("%v: recorded %d samples of %d", d, len(rec), len(pcm))
		}
		if got := judge(t, dir, "tap_rec_"+d.String(), rec); got != "" {
			t.Errorf("%v: judge finds %d digits in the recording", d, len(got))
		}
		if len(sink.masked[d]) != len(tones) {
			t.Errorf("%v: %d masked stretches for %d tones", d, len(sink.masked[d]), len(tones))
		}
		want := pcmOf(t, map[Direction][][]byte{CustomerToAgent: cust, AgentToCustomer: agent}[d])
		// Outside the tones nothing is recorded as silence; a sample changed
		// otherwise lost its DTMF bands to the notch.
		replaced, notched := 0, 0
		for j := range rec {
			near := false
			for _, b := range tones {
				near = near || (j >= b.at-sFrame && j < b.at+b.dur+40*sMs)
			}
			switch {
			case near:
			case sink.silent[d][j]:
				replaced++
			case rec[j] != want[j]:
				notched++
			}
		}
		if replaced != 0 {
			t.Errorf("%v: %d recorded samples outside the tones replaced", d, replaced)
		}
		t.Logf("%v: %d recorded samples outside the tones notched", d, notched)
	}
	if sink.gaps != 0 {
		t.Fatalf("%d timestamp gaps in the recording", sink.gaps)
	}
	for d := range Direction(NumDirections) {
		p := &sink.warmed[d]
		if n := p[tapSinkLevels].Load(); n != 0 {
			t.Errorf("%v: %d warm-ups of a level out of range", d, n)
		}
		for l := range tapSinkLevels {
			n := p[l].Load()
			switch {
			case !asSink && n != 0:
				t.Errorf("%v: level %d warmed %d times with a function tap", d, l, n)
			case asSink && testEngine.Name() == udpio.IOURing && n == 0:
				t.Errorf("%v: level %d never warmed by the io_uring engine", d, l)
			}
		}
	}
	t.Logf("recorded %d samples per direction, 16 tones masked in each, the unmasked listener heard all 16 (byte-identical), the masked one none",
		len(pcm))
}

// TestRecordTapUndecodable: a RecordSink that is an UndecodableRecorder hears of every
// RTP packet in a codec hush cannot decode, in an unmasked direction (forwarded untouched)
// and in a masked one (dropped), and of no other packet.
func TestRecordTapUndecodable(t *testing.T) { forEngines(t, testRecordTapUndecodableOnEngine) }

func testRecordTapUndecodableOnEngine(t *testing.T) {
	sink := &tapSink{}
	e := newEnv(t, lo4, false, false)
	c := e.start(e.explicit(), WithRecordTap(sink.tap(true)))
	if err := c.SetMaskPolicy(AgentToCustomer, mask.Policy{Mode: mask.ModeSilence}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	for i := range n {
		p := rtpPacket(t, 9, uint16(100+i), 160) // G.722: not in the default map
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
		send(t, e.b.s.RTP, c.LocalRTP(Agent), rtpPacket(t, 9, uint16(200+i), 160))
		pcmu := rtpPacket(t, 0, uint16(300+i), 160)
		send(t, e.a.s.RTP, c.LocalRTP(Customer), pcmu)
		expect(t, e.b.s.RTP, pcmu, c.LocalRTP(Agent))
	}
	// The masked direction drops G.722; a PCMU packet after it comes through once the
	// ones before were handled.
	last := rtpPacket(t, 0, 400, 160)
	send(t, e.b.s.RTP, c.LocalRTP(Agent), last)
	expect(t, e.a.s.RTP, last, c.LocalRTP(Customer))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for d := range Direction(NumDirections) {
		if got := sink.undec[d].Load(); got != n || sink.undecPT[d].Load() != 9 {
			t.Errorf("%v: %d undecodable packets reported (payload type %d), want %d of type 9", d, got, sink.undecPT[d].Load(), n)
		}
	}
}
