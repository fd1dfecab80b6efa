package relay

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/internal/cpucache/warmtest"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/record"
)

// warmCall is an unstarted call on the portable engine (the warm-up does
// not depend on the engine), its customer->agent direction masked and
// recorded into sink, and the customer's RTP receiver after 40 packets of
// audio with a key press: its masker and the recording hold state.
func warmCall(t *testing.T, sink RecordSink) *receiver {
	t.Helper()
	useEngine(t, EnginePortable)
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("127.0.0.1:5000")}, Agent: LegConfig{Remote: ap("127.0.0.1:9")}},
		WithRecordTap(RecordTap{Sink: sink}))
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone}); err != nil {
		t.Fatal(err)
	}
	r := newReceiver(c, Customer, kindRTP, sock.write, 0)
	t.Cleanup(r.close)
	sig := make([]float64, 40*sFrame)
	tone{key: '5', at: 10 * sFrame, dur: 20 * sFrame, dbm0: -10}.add(sig, rand.New(rand.NewPCG(1, 1)))
	buf := make([]byte, MaxPacketSize+1)
	for _, p := range (&g711Stream{pt: 0, ssrc: 5}).all(toPCM(sig)) {
		r.packet(buf, copy(buf, p), ap("127.0.0.1:5000"), 0, time.Time{})
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
	if want := ownLevels + max(mask.WarmLevels, record.WarmLevels); r.levels != want {
		t.Errorf("receiver declares %d warm-up levels, want %d", r.levels, want)
	}
	for _, w := range []warmWork{warmPacket, warmRelease} {
		warmtest.Check(t, r, r.levels, func(l int) { r.warm(w, l) })
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

// TestWarmBatch: the engines' warm loop (warmSet, as engine_uring.go and
// timers.go use it) runs every level a layer declares, for every receiver
// of the batch, level by level: here a recording sink one level deeper than
// the masker and one shallower, in one batch. It fails when the loop stops
// short of a receiver's depth, when a receiver declares fewer levels than
// its layers need, or when the loop runs a receiver's levels out of order.
func TestWarmBatch(t *testing.T) {
	var log [][2]int
	deep := &levelSink{id: 1, depth: mask.WarmLevels + 1, log: &log}
	shallow := &levelSink{id: 2, depth: 1, log: &log}
	r1, r2 := warmCall(t, deep), warmCall(t, shallow)
	var s warmSet
	s.add(r1, r1.levels)
	s.add(r2, r2.levels)
	s.run(0, warmPacket)
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
	for i := 1; i < len(log); i++ {
		if log[i][1] < log[i-1][1] {
			t.Errorf("warm-up log %v: a level after a deeper one (the batch's levels must go one at a time)", log)
			break
		}
	}
	if s.n != 0 || s.levels != 0 {
		t.Errorf("set not emptied: %d receivers, %d levels", s.n, s.levels)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
