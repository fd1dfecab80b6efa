package session

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func flowPtr(f MediaFlow) *MediaFlow { return &f }

// TestUpdateFlow: one direction's flow is set without touching the rest of the policy,
// reaches the media, shows in the session and as an updated event naming the path;
// setting it again changes nothing; a whole-policy update carries flows too; an unknown
// flow is refused before anything changes; the flow survives secure capture, which masks
// the keys toward the agent but does not unblock the agent's ear.
func TestUpdateFlow(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	m := h.mediaOf(t, 0)
	ch, _, _ := h.reg.Watch(context.Background(), in.ID)
	next(t, ch)

	info, err := h.reg.Update(in.ID, Update{Actor: "ng:127.0.0.1", Flows: [2]*MediaFlow{CustomerToAgent: flowPtr(FlowBlock)}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Policy.CustomerToAgent.Flow != FlowBlock || info.Policy.CustomerToAgent.Mode != MaskTone ||
		info.Policy.AgentToCustomer.Flow != FlowForward {
		t.Fatalf("policy %+v", info.Policy)
	}
	if p, _ := m.masking(CustomerToAgent); p.Flow != FlowBlock || p.Mode != MaskTone {
		t.Fatalf("media told %+v", p)
	}
	e := next(t, ch)
	if e.Kind != EventUpdated || !slices.Equal(e.Paths, []string{"policy.customer_to_agent.flow"}) || e.Actor != "ng:127.0.0.1" ||
		e.Session.Policy.CustomerToAgent.Flow != FlowBlock {
		t.Fatalf("event %+v", e)
	}
	if _, err := h.reg.Update(in.ID, Update{Flows: [2]*MediaFlow{CustomerToAgent: flowPtr(FlowBlock)}}); err != nil {
		t.Fatal(err)
	}
	p := info.Policy
	p.AgentToCustomer.Flow = FlowSilence
	if _, err := h.reg.Update(in.ID, Update{Policy: &p}); err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch); !slices.Equal(e.Paths, []string{"policy"}) || e.Session.Policy.AgentToCustomer.Flow != FlowSilence {
		t.Fatalf("event %+v (a repeat must publish nothing)", e)
	}
	for _, u := range []Update{
		{Flows: [2]*MediaFlow{AgentToCustomer: flowPtr(7)}},
		{Flows: [2]*MediaFlow{CustomerToAgent: flowPtr(FlowForward), AgentToCustomer: flowPtr(-1)}},
	} {
		if _, err := h.reg.Update(in.ID, u); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%v", err)
		}
	}
	if got, _ := h.reg.Get(in.ID); got.Policy.CustomerToAgent.Flow != FlowBlock {
		t.Fatal("a refused update changed the flow")
	}
	// Capture with policy off toward the agent: the capture's tone mask, the policy's flow.
	off := got(t, h, in.ID).Policy
	off.CustomerToAgent.Mode = MaskOff
	if _, err := h.reg.Update(in.ID, Update{Policy: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.StartCapture(in.ID, CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, capt := m.masking(CustomerToAgent); !capt || p.Mode != MaskTone || p.Flow != FlowBlock {
		t.Fatalf("under capture the media was told %+v %v", p, capt)
	}
}

func got(t *testing.T, h *harness, id string) Info {
	t.Helper()
	in, err := h.reg.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestPlayDTMFRules: a key is played toward a party only where it cannot carry card data
// through: never toward a masked listener (the agent's ear by default, and for the rest
// of the session once a capture began), never toward the customer while secure capture is
// on, never into a blocked or silenced direction. A key played is an event that names
// the party it went to and never the key; a repeated request plays nothing more.
func TestPlayDTMFRules(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	m := h.mediaOf(t, 0)
	key := func(from Leg, id string) DTMFKey {
		k := DTMFKey{From: from, Key: '5', Duration: 250 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 8, Actor: "ng:127.0.0.1"}
		if id != "" {
			k.RequestID, k.Caller, k.Digest = id, "test", rq(id).Digest
		}
		return k
	}
	// Default policy: the agent's ear is masked.
	if _, err := h.reg.PlayDTMF(in.ID, key(Customer, "")); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("toward a masked agent: %v", err)
	}
	ch, _, _ := h.reg.Watch(context.Background(), in.ID)
	next(t, ch)
	// Toward the customer: played, once per request id.
	for range 2 {
		if _, err := h.reg.PlayDTMF(in.ID, key(Agent, "p1")); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.played) != 1 || m.played[0].Key != '5' {
		t.Fatalf("media played %+v", m.played)
	}
	if e := next(t, ch); e.Kind != EventDTMFPlayed || e.Leg != Customer || e.Played.Duration != 250*time.Millisecond {
		t.Fatalf("event %+v", e)
	}
	// Unmask toward the agent: keys from the customer's side may go to the agent.
	p := got(t, h, in.ID).Policy
	p.CustomerToAgent.Mode = MaskOff
	if _, err := h.reg.Update(in.ID, Update{Policy: &p}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.PlayDTMF(in.ID, key(Customer, "")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []MediaFlow{FlowBlock, FlowSilence} {
		if _, err := h.reg.Update(in.ID, Update{Flows: [2]*MediaFlow{AgentToCustomer: flowPtr(f)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.reg.PlayDTMF(in.ID, key(Agent, "")); !errors.Is(err, ErrFailedPrecondition) || errors.Is(err, ErrUnsafe) {
			t.Fatalf("into a %v direction: %v", f, err)
		}
	}
	if _, err := h.reg.Update(in.ID, Update{Flows: [2]*MediaFlow{AgentToCustomer: flowPtr(FlowForward)}}); err != nil {
		t.Fatal(err)
	}
	// Secure capture: toward the customer refused while it is on (an echo would be
	// captured), toward the agent for the rest of the session (its ear stays masked).
	if _, err := h.reg.StartCapture(in.ID, CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, from := range []Leg{Agent, Customer} {
		if _, err := h.reg.PlayDTMF(in.ID, key(from, "")); !errors.Is(err, ErrUnsafe) {
			t.Fatalf("from the %v under capture: %v", from, err)
		}
	}
	if _, err := h.reg.StopCapture(in.ID, Request{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.PlayDTMF(in.ID, key(Customer, "")); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("toward the agent after a capture: %v", err)
	}
	if _, err := h.reg.PlayDTMF(in.ID, key(Agent, "")); err != nil {
		t.Fatalf("toward the customer after the capture: %v", err)
	}
	if len(m.played) != 3 {
		t.Fatalf("media played %d keys, want 3", len(m.played))
	}
}
