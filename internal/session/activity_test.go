package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hushmedia/hush/internal/metrics"
)

// monitorHarness is a recording registry with agent-activity monitoring on; it keeps
// every suspicion counted (Hooks.Suspected) and delivered (Hooks.Suspicion).
type monitorHarness struct {
	*harness
	rec     *fakeRecorder
	mu      sync.Mutex
	counted []string
}

const window = 30 * time.Second

func newMonitorHarness(t *testing.T, mc MonitorConfig) *monitorHarness {
	t.Helper()
	mh := &monitorHarness{harness: newHarness(t, 16, 10), rec: &fakeRecorder{id: "rec-1"}}
	mc.Enabled = true
	mh.reg.cfg.Monitor = mc
	mh.reg.cfg.Recorder = func(m RecorderMeta) (Recorder, error) {
		mh.rec.failure = m.OnFailure
		return mh.rec, nil
	}
	mh.reg.cfg.Hooks.Suspected = func(reason string) {
		mh.mu.Lock()
		mh.counted = append(mh.counted, reason)
		mh.mu.Unlock()
	}
	return mh
}

// start creates a session and watches it past its snapshot.
func (mh *monitorHarness) start(t *testing.T, call string, pol RecordingPolicy) (Info, *fakeMedia, <-chan Event) {
	t.Helper()
	sp := spec(call, "")
	sp.Policy.Recording = pol
	in, err := mh.reg.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	ch, _, _ := mh.reg.Watch(context.Background(), in.ID)
	next(t, ch)
	mh.mu.Lock()
	m := mh.media[len(mh.media)-1]
	mh.mu.Unlock()
	return in, m, ch
}

// delivered returns the suspicions queued for the audit trail so far.
func (mh *monitorHarness) delivered() []Suspicion {
	var out []Suspicion
	for {
		select {
		case s := <-mh.reg.suspicions:
			out = append(out, s)
		default:
			return out
		}
	}
}

func (mh *monitorHarness) reasons() []string {
	mh.mu.Lock()
	defer mh.mu.Unlock()
	return append([]string(nil), mh.counted...)
}

// suspicious reads events until a suspicion, failing on the way at none.
func suspicious(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	for range 20 {
		if e := next(t, ch); e.Kind == EventSuspicious {
			return e
		}
	}
	t.Fatal("no suspicion event")
	return Event{}
}

// noSuspicion checks that nothing is queued on ch that is a suspicion.
func noSuspicion(t *testing.T, ch <-chan Event) {
	t.Helper()
	for {
		select {
		case e := <-ch:
			if e.Kind == EventSuspicious {
				t.Fatalf("unexpected suspicion %+v", e.Suspicion)
			}
		default:
			return
		}
	}
}

func TestPauseOutsidePayment(t *testing.T) {
	mh := newMonitorHarness(t, MonitorConfig{PaymentWindow: window})
	in, m, ch := mh.start(t, "call-1", RecordingPolicy{})
	m.receive(Customer, 50)

	// A pause with nothing of a payment around it is flagged once its window has passed.
	if _, err := mh.reg.Pause(in.ID, PauseSilence, "alice", rq("p1"), "coffee"); err != nil {
		t.Fatal(err)
	}
	mh.clock.Advance(10 * time.Second)
	if _, err := mh.reg.Resume(in.ID, "alice", rq("r1"), ""); err != nil {
		t.Fatal(err)
	}
	mh.clock.Advance(window - time.Second)
	mh.reg.CheckMaxPauses()
	noSuspicion(t, ch)
	mh.clock.Advance(time.Second)
	mh.reg.CheckMaxPauses()
	e := suspicious(t, ch)
	if e.Suspicion.Reason != SuspectPauseOutsidePayment || e.Actor != "alice" || e.RequestID != "p1" ||
		e.Suspicion.AgentID != "agent-7" || e.Suspicion.CallID != "call-1" || !strings.Contains(e.Suspicion.Detail, "10s") {
		t.Fatalf("suspicion %+v (actor %q request %q)", e.Suspicion, e.Actor, e.RequestID)
	}
	if got := mh.delivered(); len(got) != 1 || got[0].Reason != SuspectPauseOutsidePayment || got[0].SessionID != in.ID {
		t.Fatalf("queued for the audit trail: %+v", got)
	}

	// A pause with a secure capture during it is a payment.
	mh.reg.Pause(in.ID, PauseSilence, "alice", rq("p2"), "card")
	mh.reg.StartCapture(in.ID, CaptureOptions{Actor: "alice", MaxDigits: 2})
	m.key("12")
	mh.pump(t)
	mh.reg.Resume(in.ID, "alice", rq("r2"), "")
	mh.clock.Advance(2 * window)
	mh.reg.CheckMaxPauses()
	noSuspicion(t, ch)

	// So is one a customer keyed during (the recording's mask spans: the fact of a key).
	mh.reg.Pause(in.ID, PauseSilence, "alice", rq("p3"), "card")
	m.spec.RecordMasked(Customer, 8000, 8800)
	mh.reg.Resume(in.ID, "alice", rq("r3"), "")
	mh.clock.Advance(2 * window)
	mh.reg.CheckMaxPauses()
	noSuspicion(t, ch)

	// And one followed, within the window, by a capture.
	mh.reg.Pause(in.ID, PauseSilence, "alice", rq("p4"), "")
	mh.reg.Resume(in.ID, "alice", rq("r4"), "")
	mh.clock.Advance(window / 2)
	mh.reg.CheckMaxPauses()
	mh.reg.StartCapture(in.ID, CaptureOptions{Actor: "alice", MaxDigits: 1})
	mh.clock.Advance(window)
	mh.reg.CheckMaxPauses()
	noSuspicion(t, ch)

	// A pause still open when the call ends is judged then, before the ended event.
	mh.clock.Advance(2 * window)
	mh.reg.StopCapture(in.ID, Request{}, "alice")
	mh.clock.Advance(2 * window)
	mh.reg.Pause(in.ID, PauseSilence, "alice", rq("p6"), "")
	mh.reg.Delete(in.ID, Request{}, "sbc")
	var kinds []string
	for e := range ch {
		if e.Kind == EventSuspicious {
			kinds = append(kinds, e.Suspicion.Reason)
		}
	}
	if want := []string{SuspectCaptureAbandoned, SuspectPauseOutsidePayment}; !slices.Equal(kinds, want) {
		t.Fatalf("suspicions at the end %v, want %v", kinds, want)
	}
}

func TestPauseTooLong(t *testing.T) {
	mh := newMonitorHarness(t, MonitorConfig{MaxPause: 3 * time.Minute, PaymentWindow: window})
	in, m, ch := mh.start(t, "call-1", RecordingPolicy{})
	m.spec.RecordMasked(Customer, 0, 800) // keys: every pause here is a payment
	mh.reg.Pause(in.ID, PauseSilence, "alice", rq("p1"), "card")
	mh.clock.Advance(3*time.Minute - time.Second)
	mh.reg.CheckMaxPauses()
	noSuspicion(t, ch)
	mh.clock.Advance(time.Second)
	mh.reg.CheckMaxPauses()
	if e := suspicious(t, ch); e.Suspicion.Reason != SuspectPauseTooLong || e.RequestID != "p1" || !strings.Contains(e.Suspicion.Detail, "3m0s") {
		t.Fatalf("suspicion %+v", e.Suspicion)
	}
	mh.clock.Advance(time.Hour)
	mh.reg.CheckMaxPauses()
	noSuspicion(t, ch) // once per pause

	// The policy's max_pause is the limit when it sets one.
	in2, m2, ch2 := mh.start(t, "call-2", RecordingPolicy{MaxPause: 30 * time.Second})
	m2.spec.RecordMasked(Customer, 0, 800)
	mh.reg.Pause(in2.ID, PauseSilence, "bob", rq("p2"), "card")
	mh.clock.Advance(30 * time.Second)
	mh.reg.CheckMaxPauses()
	if e := suspicious(t, ch2); e.Suspicion.Reason != SuspectPauseTooLong || e.Actor != "bob" {
		t.Fatalf("suspicion %+v", e.Suspicion)
	}
	_ = in
}

func TestManyPausesPerAgent(t *testing.T) {
	mh := newMonitorHarness(t, MonitorConfig{PaymentWindow: window, PausesPerHour: 3})
	in, m, ch := mh.start(t, "call-1", RecordingPolicy{})
	for i := range 3 {
		m.spec.RecordMasked(Customer, 0, 800)
		mh.reg.Pause(in.ID, PauseSilence, "alice", rq(fmt.Sprint("p", i)), "card")
		mh.reg.Resume(in.ID, "alice", rq(fmt.Sprint("r", i)), "")
		mh.clock.Advance(10 * time.Minute)
	}
	noSuspicion(t, ch)
	// The 4th within the hour, on another call of the same agent.
	in2, m2, ch2 := mh.start(t, "call-2", RecordingPolicy{})
	m2.spec.RecordMasked(Customer, 0, 800)
	mh.reg.Pause(in2.ID, PauseSilence, "alice", rq("p3"), "card")
	if e := suspicious(t, ch2); e.Suspicion.Reason != SuspectManyPauses || !strings.Contains(e.Suspicion.Detail, "4 pauses by agent agent-7") {
		t.Fatalf("suspicion %+v", e.Suspicion)
	}
	mh.reg.Resume(in2.ID, "alice", rq("r3"), "")
	// Once per hour: the 5th is not flagged again.
	mh.reg.Pause(in2.ID, PauseSilence, "alice", rq("p4"), "card")
	noSuspicion(t, ch2)
	_ = in
}

// The per-agent pause counts stay bounded however many agents pause.
func TestPauseRateBounded(t *testing.T) {
	var p pauseRate
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range maxAgents + 5000 {
		p.add(fmt.Sprint("agent-", i), now, 2)
	}
	if n := p.len(); n > maxAgents {
		t.Fatalf("%d agents counted, bound %d", n, maxAgents)
	}
	// An hour on, the next pause sweeps the idle ones away.
	p.add("agent-x", now.Add(time.Hour+time.Minute), 2)
	if n := p.len(); n != 1 {
		t.Fatalf("%d agents counted after an idle hour, want 1", n)
	}
	// One agent keeps at most limit+1 times.
	for i := range 100 {
		p.add("agent-y", now.Add(2*time.Hour+time.Duration(i)*time.Second), 2)
	}
	if n := len(p.byAgent["agent-y"].times); n != 3 {
		t.Fatalf("agent-y keeps %d times, want 3", n)
	}
}

func TestCaptureAbandonedIsSuspicious(t *testing.T) {
	mh := newMonitorHarness(t, MonitorConfig{PaymentWindow: window})
	in, m, ch := mh.start(t, "call-1", RecordingPolicy{})
	// Completed (max digits): nothing.
	mh.reg.StartCapture(in.ID, CaptureOptions{Actor: "alice", MaxDigits: 2})
	m.key("12")
	mh.pump(t)
	// Timed out (the customer gave up): nothing either.
	mh.reg.StartCapture(in.ID, CaptureOptions{Actor: "alice", InterDigitTimeout: 5 * time.Second})
	mh.clock.Advance(5 * time.Second)
	mh.reg.TimeoutCaptures()
	noSuspicion(t, ch)
	// Stopped by a request mid-entry: flagged, with who and how many digits.
	mh.reg.StartCapture(in.ID, CaptureOptions{Actor: "alice"})
	m.key("41")
	mh.pump(t)
	mh.reg.StopCapture(in.ID, rq("stop-1"), "alice")
	e := suspicious(t, ch)
	if e.Suspicion.Reason != SuspectCaptureAbandoned || e.Actor != "alice" || e.RequestID != "stop-1" ||
		!strings.Contains(e.Suspicion.Detail, "(request) after 2 digits") {
		t.Fatalf("suspicion %+v", e.Suspicion)
	}
	if strings.Contains(e.Suspicion.Detail, "41") {
		t.Fatal("digits in the detail")
	}
}

func TestAgentKeyedDuringCapture(t *testing.T) {
	mh := newMonitorHarness(t, MonitorConfig{PaymentWindow: window})
	in, m, ch := mh.start(t, "call-1", RecordingPolicy{})
	m.agentKey("5") // not in a capture: nothing
	mh.pump(t)
	mh.reg.StartCapture(in.ID, CaptureOptions{Actor: "alice", MaxDigits: 16})
	if !m.watched[AgentToCustomer] {
		t.Fatal("the agent's keys are not watched during capture")
	}
	m.key("4111")
	m.agentKey("9")
	m.agentKey("9")
	mh.pump(t)
	e := suspicious(t, ch)
	if e.Suspicion.Reason != SuspectAgentKeyedInCapture || !strings.Contains(e.Suspicion.Detail, "after 4 digits") {
		t.Fatalf("suspicion %+v", e.Suspicion)
	}
	noSuspicion(t, ch) // once per capture
	if got := mh.reasons(); !slices.Equal(got, []string{SuspectAgentKeyedInCapture}) {
		t.Fatalf("counted %v", got)
	}
}

func TestRecordingFailedAndNotRecorded(t *testing.T) {
	mh := newMonitorHarness(t, MonitorConfig{PaymentWindow: window})

	// A recording that fails during the call: flagged at once; the call had audio recorded.
	in, m, ch := mh.start(t, "call-1", RecordingPolicy{})
	m.receive(Customer, 100)
	mh.rec.failure(errors.New("disk full"))
	if e := suspicious(t, ch); e.Suspicion.Reason != SuspectRecordingFailed {
		t.Fatalf("suspicion %+v", e.Suspicion)
	}
	mh.reg.Delete(in.ID, Request{}, "sbc")
	for e := range ch {
		if e.Kind == EventSuspicious {
			t.Fatalf("a call recorded in part flagged %s", e.Suspicion.Reason)
		}
	}

	// Paused before any media and never resumed: never recorded.
	in, m, ch = mh.start(t, "call-2", RecordingPolicy{})
	m.spec.RecordMasked(Customer, 0, 800)
	mh.reg.Pause(in.ID, PauseSilence, "alice", rq("p1"), "card")
	m.receive(Customer, 100)
	m.receive(Agent, 100)
	mh.reg.Delete(in.ID, Request{}, "sbc")
	var got []Suspicion
	for e := range ch {
		if e.Kind == EventSuspicious {
			got = append(got, e.Suspicion)
		}
	}
	if len(got) != 1 || got[0].Reason != SuspectNotRecorded || !strings.Contains(got[0].Detail, "paused for all of the call's media (200 packets") {
		t.Fatalf("suspicions %+v", got)
	}

	// A recording that cannot start: flagged at create, and as never recorded at the end.
	mh.reg.cfg.Recorder = func(RecorderMeta) (Recorder, error) { return nil, errors.New("read-only file system") }
	in, m, ch = mh.start(t, "call-3", RecordingPolicy{})
	m.receive(Customer, 10)
	mh.reg.Delete(in.ID, Request{}, "sbc")
	var reasons []string
	for e := range ch {
		if e.Kind == EventSuspicious {
			reasons = append(reasons, e.Suspicion.Reason)
		}
	}
	if !slices.Equal(reasons, []string{SuspectNotRecorded}) {
		t.Fatalf("suspicions after create %v", reasons) // recording_failed came before the watch
	}
	counted := mh.reasons()
	if !slices.Contains(counted, SuspectRecordingFailed) || counted[len(counted)-1] != SuspectNotRecorded {
		t.Fatalf("counted %v", counted)
	}

	// Recording off by policy (the platform's decision, audited at create), or a call
	// with no media: never flagged.
	mh.reg.cfg.Recorder = func(RecorderMeta) (Recorder, error) { return mh.rec, nil }
	for _, pol := range []RecordingPolicy{{Off: true}, {}} {
		in, m, ch = mh.start(t, "call-4", pol)
		if pol.Off {
			m.receive(Customer, 10)
		}
		mh.reg.Delete(in.ID, Request{}, "sbc")
		for e := range ch {
			if e.Kind == EventSuspicious {
				t.Fatalf("policy %+v flagged %s", pol, e.Suspicion.Reason)
			}
		}
	}
}

func TestUnexpectedControlSource(t *testing.T) {
	mh := newMonitorHarness(t, MonitorConfig{PaymentWindow: window})
	in, _, ch := mh.start(t, "call-1", RecordingPolicy{})
	mh.reg.NoteControl(in.ID, Control{Actor: "alice", RequestID: "p1", Source: "10.0.0.5"})
	mh.reg.NoteControl(in.ID, Control{Actor: "alice", RequestID: "p2", Source: "10.0.0.5"})
	mh.reg.NoteControl(in.ID, Control{Actor: "bob", RequestID: "p3", Source: "10.0.0.9"}) // another caller's first
	noSuspicion(t, ch)
	mh.reg.NoteControl(in.ID, Control{Actor: "alice", RequestID: "p4", Source: "10.0.0.7 cert 0a1b"})
	e := suspicious(t, ch)
	if e.Suspicion.Reason != SuspectUnexpectedSource || e.Actor != "alice" || e.RequestID != "p4" ||
		e.Suspicion.Detail != "control of the call from 10.0.0.7 cert 0a1b; this caller's first control of it came from 10.0.0.5" {
		t.Fatalf("suspicion %+v", e.Suspicion)
	}
	// Once per new source; unknown sessions and sources are ignored.
	mh.reg.NoteControl(in.ID, Control{Actor: "alice", RequestID: "p5", Source: "10.0.0.7 cert 0a1b"})
	mh.reg.NoteControl("nope", Control{Actor: "alice", Source: "10.0.0.8"})
	mh.reg.NoteControl(in.ID, Control{Actor: "alice"})
	noSuspicion(t, ch)
}

// With monitoring off (the registry's zero config) nothing is flagged or queued.
func TestMonitoringOff(t *testing.T) {
	h, rec, in, ch := recordingHarness(t, RecordingPolicy{})
	h.reg.Pause(in.ID, PauseSilence, "alice", rq("p1"), "")
	h.reg.Resume(in.ID, "alice", rq("r1"), "")
	h.clock.Advance(time.Hour)
	h.reg.CheckMaxPauses()
	rec.failure(errors.New("disk full"))
	h.reg.NoteControl(in.ID, Control{Actor: "alice", Source: "a"})
	h.reg.NoteControl(in.ID, Control{Actor: "alice", Source: "b"})
	h.reg.Delete(in.ID, Request{}, "")
	for e := range ch {
		if e.Kind == EventSuspicious {
			t.Fatalf("flagged %+v with monitoring off", e.Suspicion)
		}
	}
	if n := len(h.reg.suspicions); n != 0 {
		t.Fatalf("%d suspicions queued", n)
	}
}

// hush_agent_suspicious_total stays at one series per reason however many agents are
// flagged: 10,000 agents, each with a call flagged for every reason it can be, leave
// exactly len(SuspicionReasons) series with the one label reason.
func TestSuspicionLabelsBoundedUnder10000Agents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.SuspicionReasons(SuspicionReasons)
	mh := newMonitorHarness(t, MonitorConfig{PaymentWindow: 0, PausesPerHour: 1, MaxPause: time.Minute})
	mh.reg.cfg.Hooks.Suspected = m.AgentSuspicious
	mh.reg.cfg.MaxSessions = 20000
	const agents = 10000
	mh.harness.media = nil
	ports := newFakePorts(2 * agents)
	mh.reg.cfg.Media = ports.factory(&mh.harness.media, &mh.harness.mu)
	for i := range agents {
		sp := spec(fmt.Sprint("call-", i), "")
		sp.AgentID = fmt.Sprint("agent-", i)
		in, err := mh.reg.Create(sp)
		if err != nil {
			t.Fatal(err)
		}
		actor := fmt.Sprint("user-", i)
		mh.reg.NoteControl(in.ID, Control{Actor: actor, Source: "10.0.0.1"})
		mh.reg.NoteControl(in.ID, Control{Actor: actor, Source: fmt.Sprintf("10.%d.%d.2", i/256, i%256)})
		mh.reg.Pause(in.ID, PauseSilence, actor, Request{}, "")
		mh.reg.Resume(in.ID, actor, Request{}, "")
		mh.reg.Pause(in.ID, PauseSilence, actor, Request{}, "")
		mh.reg.StartCapture(in.ID, CaptureOptions{Actor: actor})
		mh.reg.StopCapture(in.ID, Request{}, actor)
		mh.delivered() // keep the audit queue from filling
	}
	mh.clock.Advance(2 * time.Minute)
	mh.reg.CheckMaxPauses()
	mh.reg.EndAll(EndDeleted)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series, flagged := 0, 0.0
	for _, mf := range mfs {
		if mf.GetName() != "hush_agent_suspicious_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			series++
			flagged += s.GetCounter().GetValue()
			if len(s.GetLabel()) != 1 || s.GetLabel()[0].GetName() != "reason" || !slices.Contains(SuspicionReasons, s.GetLabel()[0].GetValue()) {
				t.Errorf("series with labels %v", s.GetLabel())
			}
		}
	}
	if series != len(SuspicionReasons) {
		t.Errorf("%d series of hush_agent_suspicious_total, want %d (one per reason)", series, len(SuspicionReasons))
	}
	// Every agent was flagged for several reasons, so the counts are many times the series.
	if flagged < 4*agents {
		t.Errorf("only %v flags counted for %d agents", flagged, agents)
	}
	if n := mh.reg.pauses.len(); n > agents {
		t.Errorf("%d agents' pauses counted", n)
	}
}
