package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/mask"
)

type fakeRecorder struct {
	id      string
	mu      sync.Mutex
	calls   []string
	closed  int
	failure func(error)
	writes  atomic.Int64
}

func (f *fakeRecorder) ID() string { return f.id }
func (f *fakeRecorder) Write(Leg, uint32, uint32, *mask.RecordFrame) error {
	f.writes.Add(1)
	return nil
}
func (f *fakeRecorder) log(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}
func (f *fakeRecorder) Pause(b PauseBehavior, actor, req, reason string) (bool, error) {
	f.log(fmt.Sprintf("pause %s %s %s", b, actor, reason))
	return true, nil
}
func (f *fakeRecorder) Resume(actor, req, reason string) (bool, error) {
	f.log("resume " + actor)
	return true, nil
}
func (f *fakeRecorder) MarkMaskRTP(Leg, uint32, uint32) error { return nil }
func (f *fakeRecorder) Close() error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	return nil
}

func recordingHarness(t *testing.T, pol RecordingPolicy) (*harness, *fakeRecorder, Info, <-chan Event) {
	t.Helper()
	h := newHarness(t, 8, 10)
	rec := &fakeRecorder{id: "rec-1"}
	h.reg.cfg.Recorder = func(m RecorderMeta) (Recorder, error) {
		rec.failure = m.OnFailure
		return rec, nil
	}
	sp := spec("call-1", "")
	sp.Policy.Recording = pol
	in, err := h.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	ch, _, _ := h.reg.Watch(context.Background(), in.ID)
	next(t, ch)
	return h, rec, in, ch
}

func TestPauseResume(t *testing.T) {
	h, rec, in, ch := recordingHarness(t, RecordingPolicy{})
	if in.Recording.State != RecordingActive || in.Recording.ID != "rec-1" {
		t.Fatalf("recording %+v", in.Recording)
	}
	got, err := h.reg.Pause(in.ID, PauseSkip, "agent-7", rq("p1"), "card payment")
	if err != nil || got.Recording.State != RecordingPaused || got.Recording.Behavior != PauseSkip {
		t.Fatalf("pause: %+v %v", got.Recording, err)
	}
	if e := next(t, ch); e.Kind != EventRecording || e.Recording.State != RecordingPaused || e.RecordingReason != "card payment" {
		t.Fatalf("event %+v", e)
	}
	// Repeating the request, or pausing a paused recording, changes nothing and is no error.
	if _, err := h.reg.Pause(in.ID, PauseSkip, "agent-7", rq("p1"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Pause(in.ID, PauseSilence, "agent-7", rq("p2"), ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.reg.Resume(in.ID, "agent-7", rq("r1"), ""); got.Recording.State != RecordingActive {
		t.Fatalf("resume: %+v", got.Recording)
	}
	if _, err := h.reg.Resume(in.ID, "agent-7", rq("r2"), ""); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	calls := fmt.Sprint(rec.calls)
	rec.mu.Unlock()
	if calls != "[pause skip agent-7 card payment resume agent-7]" {
		t.Fatalf("recorder saw %s", calls)
	}
	h.reg.Delete(in.ID, Request{}, "")
	if rec.closed != 1 {
		t.Fatalf("recorder closed %d times", rec.closed)
	}
}

func TestMaxPause(t *testing.T) {
	h, _, in, ch := recordingHarness(t, RecordingPolicy{MaxPause: time.Minute, ResumeAfterMaxPause: true})
	h.reg.Pause(in.ID, "", "a", Request{}, "")
	next(t, ch)
	h.clock.Advance(59 * time.Second)
	if h.reg.CheckMaxPauses() != 0 {
		t.Fatal("early")
	}
	h.clock.Advance(time.Second)
	if h.reg.CheckMaxPauses() != 1 {
		t.Fatal("max pause not raised")
	}
	if e := next(t, ch); e.Kind != EventMaxPause || !e.Resumed || e.PausedFor != time.Minute {
		t.Fatalf("event %+v", e)
	}
	if e := next(t, ch); e.Kind != EventRecording || e.Recording.State != RecordingActive {
		t.Fatalf("resume event %+v", e)
	}
	if h.reg.CheckMaxPauses() != 0 {
		t.Fatal("raised twice")
	}
}

func TestRecordingFailureKeepsCall(t *testing.T) {
	h, rec, in, ch := recordingHarness(t, RecordingPolicy{})
	rec.failure(errors.New("no space left on device"))
	if e := next(t, ch); e.Kind != EventRecordingFailed {
		t.Fatalf("event %+v", e)
	}
	got, err := h.reg.Get(in.ID)
	if err != nil || got.State != Active || got.Recording.State != RecordingFailed {
		t.Fatalf("after failure: %+v %v", got.Recording, err)
	}
	if _, err := h.reg.Pause(in.ID, "", "a", Request{}, ""); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("pause of failed recording: %v", err)
	}
}

func TestRecordingOffByPolicy(t *testing.T) {
	h, _, in, _ := recordingHarness(t, RecordingPolicy{Off: true})
	if in.Recording.State != RecordingStopped || in.Recording.ID != "" {
		t.Fatalf("recording %+v", in.Recording)
	}
	if _, err := h.reg.Pause(in.ID, "", "a", Request{}, ""); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("pause without recording: %v", err)
	}
}

func TestAutoPauseOnDTMF(t *testing.T) {
	h, rec, in, ch := recordingHarness(t, RecordingPolicy{AutoPauseOnDTMF: true})
	m := h.mediaOf(t, 0)
	if !m.watched[CustomerToAgent] || !m.watched[AgentToCustomer] {
		t.Fatalf("keys not watched on both sides: %v", m.watched)
	}
	m.key("4")
	h.pump(t)
	e := next(t, ch)
	if e.Kind != EventRecording || e.Recording.State != RecordingPaused || e.Actor != "hush" || e.RecordingReason != "dtmf" {
		t.Fatalf("auto-pause event %+v", e)
	}
	// More keys keep it paused; the pause ends autoPauseHold after the last one.
	h.clock.Advance(autoPauseHold / 2)
	m.agentKey("1")
	h.pump(t)
	h.clock.Advance(autoPauseHold / 2)
	h.reg.CheckMaxPauses()
	if got, _ := h.reg.Get(in.ID); got.Recording.State != RecordingPaused {
		t.Fatal("resumed while keys went on")
	}
	h.clock.Advance(autoPauseHold / 2)
	h.reg.CheckMaxPauses()
	if e := next(t, ch); e.Kind != EventRecording || e.Recording.State != RecordingActive || e.Actor != "hush" {
		t.Fatalf("auto-resume event %+v", e)
	}
	// A user's pause during an automatic one takes it over: it does not end by itself.
	m.key("5")
	h.pump(t)
	next(t, ch)
	if _, err := h.reg.Pause(in.ID, PauseSilence, "agent-7", rq("p1"), "card"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(10 * autoPauseHold)
	h.reg.CheckMaxPauses()
	if got, _ := h.reg.Get(in.ID); got.Recording.State != RecordingPaused {
		t.Fatal("a user's pause ended by itself")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if fmt.Sprint(rec.calls) != "[pause silence hush dtmf resume hush pause silence hush dtmf]" {
		t.Fatalf("recorder saw %v", rec.calls)
	}
}

// lateFakeRecorder is a fakeRecorder that reports late packets.
type lateFakeRecorder struct {
	fakeRecorder
	customer, agent uint64
}

func (l *lateFakeRecorder) LatePackets() (uint64, uint64) { return l.customer, l.agent }

// TestRecordingLateHook: a recording that ends with late packets reports them per leg
// through Hooks.RecordingLate, once; one without any reports nothing.
func TestRecordingLateHook(t *testing.T) {
	for _, want := range [][2]uint64{{3, 1}, {0, 0}} {
		h := newHarness(t, 8, 10)
		var got [][2]uint64
		h.reg.cfg.Hooks.RecordingLate = func(c, a uint64) { got = append(got, [2]uint64{c, a}) }
		h.reg.cfg.Recorder = func(RecorderMeta) (Recorder, error) {
			return &lateFakeRecorder{fakeRecorder: fakeRecorder{id: "rec-late"}, customer: want[0], agent: want[1]}, nil
		}
		in, err := h.reg.Create(spec("call-late", ""))
		if err != nil {
			t.Fatal(err)
		}
		h.reg.Delete(in.ID, Request{}, "")
		switch {
		case want == [2]uint64{} && len(got) != 0:
			t.Errorf("no late packets, hook called with %v", got)
		case want != [2]uint64{} && (len(got) != 1 || got[0] != want):
			t.Errorf("hook called with %v, want once with %v", got, want)
		}
	}
}
