package relay

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/internal/cpucache/warmtest"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/udpio"
)

// warmCall is an unstarted call on the portable engine (the warm-up does
// not depend on the engine), its customer->agent direction masked and
// recorded into sink, and the customer's RTP receiver after 40 packets of
// audio with a key press: its masker and the recording hold state.
func warmCall(t *testing.T, sink RecordSink) *receiver {
	t.Helper()
	useEngine(t, udpio.Portable)
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("127.0.0.1:5000")}, Agent: LegConfig{Remote: ap("127.0.0.1:9")}},
		WithRecordTap(RecordTap{Sink: sink}))
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone}); err != nil {
		t.Fatal(err)
	}
	r := newReceiver(c, Customer, kindRTP, udpio.Write, 0)
	t.Cleanup(r.Close)
	sig := make([]float64, 40*sFrame)
	tone{key: '5', at: 10 * sFrame, dur: 20 * sFrame, dbm0: -10}.add(sig, rand.New(rand.NewPCG(1, 1)))
	buf := make([]byte, MaxPacketSize+1)
	for _, p := range (&g711Stream{pt: 0, ssrc: 5}).all(toPCM(sig)) {
		r.Packet(buf, copy(buf, p), ap("127.0.0.1:5000"), 0, time.Time{})
	}
	if r.dl.mk == nil || r.dl.mk.Len() == 0 {
		t.Fatal("nothing queued in the masker")
	}
	return r
}

// TestWarmLevels: a receiver's warm-up, for a packet and for a release,
// with its masker and media/record's Recorder as the sink, hints at each
// level only through pointers an earlier level loaded (warmtest.Check: the
// receiver's own levels, then the masker's and the recorder's, as the
// receiver composes them); and it declares as many levels as its deepest
// layer needs.
func TestWarmLevels(t *testing.T) {
	rec, err := record.New(t.TempDir(), record.Meta{RecordingID: "warm"})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	r := warmCall(t, rec)
	if want := ownLevels + max(mask.WarmLevels, record.WarmLevels); r.WarmLevels() != want {
		t.Errorf("receiver declares %d warm-up levels, want %d", r.levels, want)
	}
	for _, w := range []udpio.Work{udpio.WarmPacket, udpio.WarmRelease} {
		warmtest.Check(t, r, r.WarmLevels(), func(l int) { r.Warm(w, l) })
	}
}

// levelSink is a RecordWarmer of a given depth that logs its warm-ups.
type levelSink struct {
	id, depth int
	log       *[][2]int // (id, level)
}

func (s *levelSink) RecordAudio(Leg, uint32, uint32, time.Time, *mask.RecordFrame) {}
func (s *levelSink) WarmLevels() int                                               { return s.depth }
func (s *levelSink) Warm(_ Leg, level int)                                         { *s.log = append(*s.log, [2]int{s.id, level}) }

// TestWarmDepth: a receiver declares as many warm-up levels as its layers
// need, and runs each layer's levels once, in order, as the engines run the
// levels of a batch (udpio's TestWarmSet checks that loop): here a
// recording sink one level deeper than the masker and one shallower, in one
// batch. It fails when a receiver declares fewer levels than a layer needs
// or asks a layer for a level out of its range.
func TestWarmDepth(t *testing.T) {
	var log [][2]int
	deep := &levelSink{id: 1, depth: mask.WarmLevels + 1, log: &log}
	shallow := &levelSink{id: 2, depth: 1, log: &log}
	rs := []*receiver{warmCall(t, deep), warmCall(t, shallow)}
	levels := 0
	for _, r := range rs {
		levels = max(levels, r.WarmLevels())
	}
	for l := range levels { // as udpio's warm-up loop runs a batch
		for _, r := range rs {
			r.Warm(udpio.WarmPacket, l)
		}
	}
	for _, sk := range []*levelSink{deep, shallow} {
		var got []int
		for _, e := range log {
			if e[0] == sk.id {
				got = append(got, e[1])
			}
		}
		if want := seq(sk.depth); !slices.Equal(got, want) {
			t.Errorf("sink of depth %d warmed at levels %v, want %v", sk.depth, got, want)
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestReleaseOneTimerPerLine: a masked line in steady state keeps one timer
// entry in an engine's release timers (media/udpio: an entry is pushed when
// Due changes, and stays until its time passes): each packet's release
// comes due as the packet that decides about the next one arrives, and the
// line is asked for at that packet's due time whichever comes first. (When
// the undecided packet was asked for at the end of its stall grace, the
// deciding packet a moment later pushed a second, earlier entry, and the
// stale one stayed in the heap for the grace: five times the live entries
// at 500 calls.)
func TestReleaseOneTimerPerLine(t *testing.T) { forEngines(t, testReleaseOneTimerPerLineOnEngine) }

func testReleaseOneTimerPerLineOnEngine(t *testing.T) {
	c, _, _, _ := maskedFixture(t)
	r := newReceiver(c, Customer, kindRTP, udpio.Write, 0)
	defer r.Close()
	var entries []time.Time // pushed, time not passed yet
	var sched time.Time
	timed := false
	watch := func(now time.Time) { // as the engines' timers do
		at, ok := r.Due(now)
		if !ok {
			timed = false
			return
		}
		if timed && at.Equal(sched) {
			return
		}
		timed, sched = true, at
		entries = append(entries, at)
	}
	sig := make([]float64, 100*sFrame)
	tone{key: '7', at: 30 * sFrame, dur: 10 * sFrame, dbm0: -10}.add(sig, rand.New(rand.NewPCG(2, 2)))
	pkts := (&g711Stream{pt: 0, ssrc: 5}).all(toPCM(sig))
	buf := make([]byte, MaxPacketSize+1)
	released := 0
	for k, b := range pkts {
		at := c.epoch.Add(time.Duration(k) * 20 * time.Millisecond)
		// The release due now goes first, then the packet arriving now.
		live := false
		keep := entries[:0]
		for _, e := range entries {
			switch {
			case e.After(at):
				keep = append(keep, e)
			case timed && e.Equal(sched):
				live = true
			}
		}
		entries = keep
		if live {
			timed = false
			n := r.dl.mk.Len()
			r.Expire(at, true)
			released += n - r.dl.mk.Len()
			watch(at)
		}
		r.Packet(buf, copy(buf, b), ap("127.0.0.1:5000"), 0, at)
		watch(at)
		if len(entries) > 1 {
			t.Fatalf("packet %d: %d timer entries for one line", k, len(entries))
		}
	}
	if released < len(pkts)-5 {
		t.Fatalf("%d of %d packets released", released, len(pkts))
	}
}
