package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

type harness struct {
	reg   *Registry
	clock *fakeClock
	mu    sync.Mutex
	media []*fakeMedia
	ended []EndReason
}

func newHarness(t *testing.T, ports, maxSessions int) *harness {
	t.Helper()
	h := &harness{clock: &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}}
	p := newFakePorts(ports)
	h.reg = NewRegistry(Config{
		Media:       p.factory(&h.media, &h.mu),
		Defaults:    Policy{StrictSource: true, IdleTimeout: time.Minute},
		MaxSessions: maxSessions,
		Now:         h.clock.Now,
		Hooks: Hooks{Ended: func(r EndReason) {
			h.mu.Lock()
			h.ended = append(h.ended, r)
			h.mu.Unlock()
		}},
	})
	return h
}

// spec is a create request; its digest stands for the whole request body.
func spec(call, req string) Spec {
	s := Spec{CallID: call, RequestID: req, AgentID: "agent-7", Policy: Policy{StrictSource: true, IdleTimeout: time.Minute}}
	if req != "" {
		s.Caller, s.Digest = "test", sha256.Sum256([]byte("create "+call))
	}
	return s
}

// rq is a request of the test caller whose body is its id.
func rq(id string) Request {
	return Request{ID: id, Caller: "test", Digest: sha256.Sum256([]byte(id))}
}

func (h *harness) mediaOf(t *testing.T, i int) *fakeMedia {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if i >= len(h.media) {
		t.Fatalf("media %d not created (have %d)", i, len(h.media))
	}
	return h.media[i]
}

// next reads one event or fails after a deadline: tests never sleep to wait.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return Event{}
}

func TestCreateGetDelete(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, err := h.reg.Create(spec("call-1", "r1"))
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == "" || in.State != Active || !in.Customer.Local.IsValid() || in.Customer.Local == in.Agent.Local {
		t.Fatalf("bad info: %+v", in)
	}
	got, err := h.reg.Get(in.ID)
	if err != nil || got.CallID != "call-1" || got.AgentID != "agent-7" {
		t.Fatalf("get: %+v %v", got, err)
	}
	fin, err := h.reg.Delete(in.ID, rq("d1"), "platform")
	if err != nil || fin.State != Ended || fin.EndReason != EndDeleted || fin.EndedAt.IsZero() {
		t.Fatalf("delete: %+v %v", fin, err)
	}
	if _, err := h.reg.Get(in.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	// A repeated delete request answers the same; a new one finds nothing.
	again, err := h.reg.Delete(in.ID, rq("d1"), "platform")
	if err != nil || again.EndReason != EndDeleted {
		t.Fatalf("repeated delete: %+v %v", again, err)
	}
	if _, err := h.reg.Delete(in.ID, rq("d2"), "platform"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("new delete of ended session: %v", err)
	}
	if h.mediaOf(t, 0).closed.Load() != 1 {
		t.Fatal("media not closed exactly once")
	}
	if h.reg.Len() != 0 {
		t.Fatal("registry not empty")
	}
}

func TestCreateIdempotentAndDuplicateCallID(t *testing.T) {
	h := newHarness(t, 8, 10)
	a, err := h.reg.Create(spec("call-1", "r1"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.reg.Create(spec("call-1", "r1"))
	if err != nil || b.ID != a.ID {
		t.Fatalf("repeated request id made a new session: %v %v", b.ID, err)
	}
	if _, err := h.reg.Create(spec("call-1", "r2")); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate call id: %v", err)
	}
	if h.reg.Len() != 1 || len(h.media) != 1 {
		t.Fatalf("sessions=%d media=%d", h.reg.Len(), len(h.media))
	}
}

func TestCreateLimits(t *testing.T) {
	h := newHarness(t, 4, 10) // 4 ports = 2 sessions
	for i := 0; i < 2; i++ {
		if _, err := h.reg.Create(spec(fmt.Sprint("c", i), "")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.reg.Create(spec("c2", ""))
	if !errors.Is(err, ErrPortsExhausted) {
		t.Fatalf("want ports exhausted, got %v", err)
	}
	// Ending one frees its ports.
	list, _, _ := h.reg.List(ListFilter{PageSize: 10})
	if _, err := h.reg.Delete(list[0].ID, Request{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Create(spec("c2", "")); err != nil {
		t.Fatalf("after release: %v", err)
	}

	h2 := newHarness(t, 100, 1)
	if _, err := h2.reg.Create(spec("a", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.reg.Create(spec("b", "")); !errors.Is(err, ErrTooManySessions) {
		t.Fatalf("want too many sessions, got %v", err)
	}
}

func TestListPaging(t *testing.T) {
	h := newHarness(t, 100, 100)
	for i := 0; i < 7; i++ {
		h.clock.Advance(time.Second)
		s := spec(fmt.Sprint("call-", i), "")
		if i%2 == 1 {
			s.AgentID = "agent-odd"
		}
		if _, err := h.reg.Create(s); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	var cur Cursor
	for pages := 0; pages < 10; pages++ {
		page, next, total := h.reg.List(ListFilter{PageSize: 3, After: cur})
		if total != 7 {
			t.Fatalf("total %d", total)
		}
		for _, in := range page {
			seen = append(seen, in.CallID)
		}
		if next == (Cursor{}) {
			break
		}
		cur = next
	}
	want := "[call-0 call-1 call-2 call-3 call-4 call-5 call-6]"
	if fmt.Sprint(seen) != want {
		t.Fatalf("pages gave %v, want %v", seen, want)
	}
	odd, _, total := h.reg.List(ListFilter{PageSize: 10, AgentID: "agent-odd"})
	if total != 3 || len(odd) != 3 {
		t.Fatalf("filter by agent: %d %d", total, len(odd))
	}
	one, _, _ := h.reg.List(ListFilter{PageSize: 10, CallID: "call-4"})
	if len(one) != 1 || one[0].CallID != "call-4" {
		t.Fatalf("filter by call: %+v", one)
	}
}

func TestWatchEvents(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, lagged, err := h.reg.Watch(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch); e.Kind != EventSnapshot || e.Session.ID != in.ID || e.Seq != 1 {
		t.Fatalf("first event %+v", e)
	}
	addr := netip.MustParseAddrPort("127.0.0.1:5004")
	h.mediaOf(t, 0).latch(Customer, addr)
	if e := next(t, ch); e.Kind != EventLatched || e.Leg != Customer || e.Addr != addr || e.Seq != 2 {
		t.Fatalf("latch event %+v", e)
	}
	got, _ := h.reg.Get(in.ID)
	if !got.Customer.Latched || got.Customer.Remote != addr {
		t.Fatalf("latched remote not in info: %+v", got.Customer)
	}
	// A packet from another source, refused: an event names the leg, source and reason.
	stranger := netip.MustParseAddrPort("192.0.2.66:4000")
	h.mediaOf(t, 0).spec.OnLatchReject(Customer, "other_source", stranger, 1)
	if e := next(t, ch); e.Kind != EventLatchRejected || e.Leg != Customer || e.Addr != stranger ||
		e.LatchReason != "other_source" || e.LatchRejects != 1 {
		t.Fatalf("latch rejected event %+v", e)
	}

	newRemote := netip.MustParseAddrPort("127.0.0.1:6000")
	upd, err := h.reg.Update(in.ID, Update{RequestID: "u1", Caller: "test", Digest: rq("u1").Digest, Agent: &LegUpdate{Remote: &newRemote}})
	if err != nil || upd.Agent.Remote != newRemote {
		t.Fatalf("update: %+v %v", upd.Agent, err)
	}
	e := next(t, ch)
	if e.Kind != EventUpdated || fmt.Sprint(e.Paths) != "[agent.remote_addr]" || e.RequestID != "u1" {
		t.Fatalf("update event %+v", e)
	}
	// Repeating the request changes nothing and emits nothing.
	if _, err := h.reg.Update(in.ID, Update{RequestID: "u1", Caller: "test", Digest: rq("u1").Digest, Agent: &LegUpdate{Remote: &newRemote}}); err != nil {
		t.Fatal(err)
	}
	if h.mediaOf(t, 0).setCalls != 1 {
		t.Fatalf("SetLeg called %d times", h.mediaOf(t, 0).setCalls)
	}

	if _, err := h.reg.Delete(in.ID, Request{}, "platform"); err != nil {
		t.Fatal(err)
	}
	e = next(t, ch)
	if e.Kind != EventEnded || e.Reason != EndDeleted || e.Actor != "platform" {
		t.Fatalf("ended event %+v", e)
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel open after ended")
	}
	if lagged() {
		t.Fatal("watcher reported lagged")
	}
	if _, _, err := h.reg.Watch(ctx, in.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("watch ended: %v", err)
	}
}

func TestWatchLaggedWatcherIsCutOff(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	ch, lagged, err := h.reg.Watch(context.Background(), in.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := h.mediaOf(t, 0)
	for i := 0; i < watchBuffer+10; i++ {
		m.latch(Customer, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1000+i)))
	}
	n := 0
	for range ch {
		n++
	}
	if !lagged() || n != watchBuffer {
		t.Fatalf("lagged=%v after %d events", lagged(), n)
	}
	// Other work goes on: the session is intact.
	if _, err := h.reg.Get(in.ID); err != nil {
		t.Fatal(err)
	}
}

func TestIdleTimeout(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	ch, _, _ := h.reg.Watch(context.Background(), in.ID)
	next(t, ch)
	h.clock.Advance(59 * time.Second)
	if n := h.reg.ReapIdle(); n != 0 {
		t.Fatalf("reaped %d before timeout", n)
	}
	// Media keeps it alive.
	now := h.clock.Now()
	h.mediaOf(t, 0).last.Store(&now)
	h.clock.Advance(59 * time.Second)
	if n := h.reg.ReapIdle(); n != 0 {
		t.Fatalf("reaped %d while media flowed", n)
	}
	h.clock.Advance(time.Second)
	if n := h.reg.ReapIdle(); n != 1 {
		t.Fatalf("reaped %d, want 1", n)
	}
	if e := next(t, ch); e.Kind != EventEnded || e.Reason != EndIdle {
		t.Fatalf("event %+v", e)
	}
}

// TestSetupTimeout: a session whose media never started is not idle after the idle
// timeout but after the (longer) setup timeout, counted from creation; once media flowed,
// the idle timeout applies; a session idle timeout longer than the setup timeout wins.
func TestSetupTimeout(t *testing.T) {
	h := newHarness(t, 8, 10)
	h.reg.cfg.SetupTimeout = 5 * time.Minute
	a, _ := h.reg.Create(spec("never", ""))
	b, _ := h.reg.Create(spec("talks", ""))
	long := spec("long-idle", "")
	long.Policy.IdleTimeout = 10 * time.Minute
	c, _ := h.reg.Create(long)
	alive := func(when string, want ...string) {
		t.Helper()
		for _, id := range []string{a.ID, b.ID, c.ID} {
			_, err := h.reg.Get(id)
			if gotAlive, wantAlive := err == nil, slices.Contains(want, id); gotAlive != wantAlive {
				t.Fatalf("%s: session %s alive=%v, want %v", when, id, gotAlive, wantAlive)
			}
		}
	}
	h.clock.Advance(61 * time.Second)
	if n := h.reg.ReapIdle(); n != 0 {
		t.Fatalf("reaped %d sessions without media after the idle timeout; they are still in setup", n)
	}
	now := h.clock.Now()
	h.mediaOf(t, 1).last.Store(&now) // b's media starts
	h.clock.Advance(60 * time.Second)
	if n := h.reg.ReapIdle(); n != 1 {
		t.Fatalf("reaped %d at 2m01s, want 1 (b, media idle for 60 s)", n)
	}
	alive("2m01s", a.ID, c.ID)
	h.clock.Advance(5*time.Minute - 121*time.Second - time.Second)
	if n := h.reg.ReapIdle(); n != 0 {
		t.Fatalf("reaped %d just before the setup timeout", n)
	}
	h.clock.Advance(time.Second)
	if n := h.reg.ReapIdle(); n != 1 {
		t.Fatalf("reaped %d at the setup timeout, want 1 (a)", n)
	}
	alive("5m", c.ID)
	h.clock.Advance(5 * time.Minute)
	if n := h.reg.ReapIdle(); n != 1 {
		t.Fatalf("reaped %d at 10m, want 1 (c, whose idle timeout outlasts the setup timeout)", n)
	}
	alive("10m")
}

func TestDrain(t *testing.T) {
	h := newHarness(t, 8, 10)
	a, _ := h.reg.Create(spec("a", ""))
	b, _ := h.reg.Create(spec("b", ""))

	// One session ends by itself during the drain; the other is ended at the deadline.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	h.reg.StartDrain() // Drain starts the same way; doing it here orders the test's steps
	go func() { done <- h.reg.Drain(ctx) }()
	if _, err := h.reg.Create(spec("c", "")); !errors.Is(err, ErrDraining) {
		t.Fatalf("create while draining: %v", err)
	}
	if _, err := h.reg.Delete(a.ID, Request{}, ""); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case n := <-done:
		if n != 2 {
			t.Fatalf("drain saw %d sessions", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("drain did not return")
	}
	if h.reg.Len() != 0 {
		t.Fatal("sessions left after drain")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if fmt.Sprint(h.ended) != fmt.Sprint([]EndReason{EndDeleted, EndDrain}) {
		t.Fatalf("end reasons %v (b=%s)", h.ended, b.ID)
	}
}

func TestDrainReturnsWhenAllEnded(t *testing.T) {
	h := newHarness(t, 8, 10)
	a, _ := h.reg.Create(spec("a", ""))
	done := make(chan int)
	h.reg.StartDrain()
	go func() { done <- h.reg.Drain(context.Background()) }()
	h.reg.Delete(a.ID, Request{}, "")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("drain did not return after the last session ended")
	}
}

// TestAgentsEarMaskedByDefault: a registry nobody configured masks what the agent hears
// (tone) for a session whose policy leaves it unset; an explicit MaskOff is kept.
func TestAgentsEarMaskedByDefault(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, err := h.reg.Create(spec("call-1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if p, capt := h.mediaOf(t, 0).masking(CustomerToAgent); p.Mode != MaskTone || capt || in.Policy.CustomerToAgent.Mode != MaskTone {
		t.Fatalf("default masking toward the agent %+v (policy %+v), want tone", p, in.Policy.CustomerToAgent)
	}
	off := spec("call-2", "")
	off.Policy.CustomerToAgent.Mode = MaskOff
	if _, err := h.reg.Create(off); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.mediaOf(t, 1).masking(CustomerToAgent); p.Mode != MaskOff {
		t.Fatalf("explicit off became %+v", p)
	}
}
