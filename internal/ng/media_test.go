package ng

import (
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/session"
)

// flows is a session's two flows, customer->agent first.
func (h *harness) flows(callID string) [2]session.MediaFlow {
	h.t.Helper()
	p := h.session(callID).Policy
	return [2]session.MediaFlow{p.CustomerToAgent.Flow, p.AgentToCustomer.Flow}
}

func (h *harness) fail(d map[string]any, reason, text string) {
	h.t.Helper()
	out := h.send(d)
	if out["result"] != "error" || !strings.Contains(out["error-reason"].(string), text) {
		h.t.Fatalf("%v: %v, want an error with %q", d, out, text)
	}
	if h.m.get(h.m.errors, reason) == 0 {
		h.t.Fatalf("%v: reason %s not counted (%v)", d, reason, h.m.errors)
	}
}

// TestMediaSwitches: block media and silence media as rtpengine documents them: the
// whole call, or one participant (by from-tag, with the directional flag for block
// media, or by label or SDP media address); blocking wins over silence; unblocking the
// whole call leaves a party blocked on its own unless "all" is given; a to-tag or
// to-label names the flow toward the other party and no other; unknown parties are
// errors that change nothing.
func TestMediaSwitches(t *testing.T) {
	h := newHarness(t)
	h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), map[string]any{"label": "caller"}))
	h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), nil))
	F, B, S := session.FlowForward, session.FlowBlock, session.FlowSilence
	want := func(step string, w [2]session.MediaFlow) {
		t.Helper()
		if got := h.flows("c1"); got != w {
			t.Fatalf("%s: flows %v, want %v", step, got, w)
		}
	}
	// Without the directional flag, block media's from-tag means the whole call.
	h.ok(map[string]any{"command": "block media", "call-id": "c1", "from-tag": "tagA"})
	want("block call", [2]session.MediaFlow{B, B})
	h.ok(map[string]any{"command": "block media", "call-id": "c1", "from-tag": "tagB", "flags": []any{"directional"}})
	h.ok(map[string]any{"command": "unblock media", "call-id": "c1"})
	want("unblock call: the callee stays blocked", [2]session.MediaFlow{F, B})
	h.ok(map[string]any{"command": "unblock media", "call-id": "c1", "flags": []any{"all"}})
	want("unblock all", [2]session.MediaFlow{F, F})

	// silence media: a from-tag selects a participant by itself.
	h.ok(map[string]any{"command": "silence media", "call-id": "c1", "from-tag": "tagA"})
	want("silence caller", [2]session.MediaFlow{S, F})
	h.ok(map[string]any{"command": "block media", "call-id": "c1", "label": "caller"})
	want("blocking wins", [2]session.MediaFlow{B, F})
	h.ok(map[string]any{"command": "unblock media", "call-id": "c1", "label": "caller"})
	want("silence again", [2]session.MediaFlow{S, F})
	h.ok(map[string]any{"command": "silence media", "call-id": "c1", "address": "192.0.2.20"})
	want("silence callee by address", [2]session.MediaFlow{S, S})
	h.ok(map[string]any{"command": "unsilence media", "call-id": "c1", "all": "all"})
	want("unsilence all", [2]session.MediaFlow{F, F})

	// A flow from the caller to the callee: the caller's media.
	h.ok(map[string]any{"command": "block media", "call-id": "c1", "from-tag": "tagA", "to-tag": "tagB", "flags": []any{"directional"}})
	want("flow caller->callee", [2]session.MediaFlow{B, F})
	h.ok(map[string]any{"command": "unblock media", "call-id": "c1", "from-tag": "tagA", "all": "offer-answer", "flags": []any{"directional"}})
	want("offer-answer flows", [2]session.MediaFlow{F, F})

	for _, tc := range []struct {
		d            map[string]any
		reason, text string
	}{
		{map[string]any{"command": "block media", "call-id": "c1", "from-tag": "tagA", "to-tag": "tagA", "flags": []any{"directional"}}, ReasonUnknownTag, "media flow not found"},
		{map[string]any{"command": "block media", "call-id": "c1", "from-tag": "tagA", "to-tag": "nobody", "flags": []any{"directional"}}, ReasonUnknownTag, "media flow not found"},
		{map[string]any{"command": "block media", "call-id": "c1", "from-tag": "tagA", "all": "except-offer-answer", "flags": []any{"directional"}}, ReasonUnknownTag, "no eligible media"},
		{map[string]any{"command": "silence media", "call-id": "c1", "from-tag": "stranger"}, ReasonUnknownTag, "no participant"},
		{map[string]any{"command": "silence media", "call-id": "c1", "label": "nobody"}, ReasonUnknownTag, "no participant"},
		{map[string]any{"command": "silence media", "call-id": "c1", "address": "192.0.2.99"}, ReasonUnknownTag, "media address"},
		{map[string]any{"command": "silence media", "call-id": "c1", "address": "not-an-ip"}, ReasonField, "IP literal"},
		{map[string]any{"command": "block media", "call-id": "nobody"}, ReasonUnknownCall, "unknown call"},
		{map[string]any{"command": "block media"}, ReasonInvalid, "call-id"},
	} {
		h.fail(tc.d, tc.reason, tc.text)
		want("after a refusal", [2]session.MediaFlow{F, F})
	}
	// drop-traffic in an offer or answer is the call's block switch.
	h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), map[string]any{"drop-traffic": "start"}))
	want("drop-traffic start", [2]session.MediaFlow{B, B})
	h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), map[string]any{"drop-traffic": "stop"}))
	want("drop-traffic stop", [2]session.MediaFlow{F, F})
	// The media saw it: the session's policy is what the fake data plane was told.
	m := h.f.Find(h.session("c1").ID)
	h.ok(map[string]any{"command": "silence media", "call-id": "c1"})
	if m.Masking(session.CustomerToAgent).Flow != S || m.Masking(session.AgentToCustomer).Flow != S {
		t.Fatalf("media told %+v %+v", m.Masking(session.CustomerToAgent), m.Masking(session.AgentToCustomer))
	}
}

// TestPlayDTMFVerb: play DTMF plays a key from the selected participant toward the
// other, with rtpengine's defaults and bounds (250 ms, 100 ms pause, -8 dB; 100..5000 ms,
// clamped with a warning); code is 0-15 or a key; refused toward a masked listener
// (unsafe) and without a party.
func TestPlayDTMFVerb(t *testing.T) {
	h := newHarness(t)
	h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), nil))
	h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), nil))
	m := h.f.Find(h.session("c1").ID)

	h.ok(map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagB", "code": "5"})
	h.ok(map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagB", "code": int64(11), "duration": int64(400), "volume": int64(20), "pause": "300"})
	out := h.ok(map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagA", "digit": "d", "duration": int64(50), "volume": int64(-70)})
	if !strings.Contains(out["warning"].(string), "duration out of range") {
		t.Fatalf("%v", out)
	}
	toCustomer, toAgent := m.Played(session.AgentToCustomer), m.Played(session.CustomerToAgent)
	if len(toCustomer) != 2 || len(toAgent) != 1 {
		t.Fatalf("played %v toward the customer, %v toward the agent", toCustomer, toAgent)
	}
	for i, w := range []session.DTMFKey{
		{From: session.Agent, Key: '5', Duration: 250 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 8},
		{From: session.Agent, Key: '#', Duration: 400 * time.Millisecond, Pause: 300 * time.Millisecond, Volume: 20},
		{From: session.Customer, Key: 'D', Duration: 100 * time.Millisecond, Pause: 100 * time.Millisecond, Volume: 63},
	} {
		got := append(toCustomer, toAgent...)[i]
		if got.From != w.From || got.Key != w.Key || got.Duration != w.Duration || got.Pause != w.Pause || got.Volume != w.Volume || got.Actor != "ng:127.0.0.1" {
			t.Errorf("key %d: %+v, want %+v", i, got, w)
		}
	}
	// The agent's ear masked: a key toward it is unsafe.
	h.ok(map[string]any{"command": "block DTMF", "call-id": "c1", "from-tag": "tagA", "flags": []any{"directional"}})
	h.fail(map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagA", "code": "1"}, ReasonUnsafe, "masked")
	h.fail(map[string]any{"command": "play DTMF", "call-id": "c1", "flags": []any{"all"}, "code": "1"}, ReasonUnsafe, "masked")
	if len(m.Played(session.AgentToCustomer)) != 2 {
		t.Fatal("all played toward the customer although the agent's side was refused")
	}
	h.ok(map[string]any{"command": "silence media", "call-id": "c1", "from-tag": "tagB"})
	h.fail(map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagB", "code": "1"}, ReasonPrecondition, "silenced")
	for _, tc := range []struct {
		d            map[string]any
		reason, text string
	}{
		{map[string]any{"command": "play DTMF", "call-id": "c1", "code": "1"}, ReasonField, "no participant party"},
		{map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagB"}, ReasonField, "code"},
		{map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagB", "code": int64(16)}, ReasonField, "out of range"},
		{map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagB", "code": "E"}, ReasonField, "out of range"},
		{map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "tagB", "code": "1", "duration": "long"}, ReasonField, "integer"},
		{map[string]any{"command": "play DTMF", "call-id": "c1", "from-tag": "nobody", "code": "1"}, ReasonUnknownTag, "no participant"},
	} {
		h.fail(tc.d, tc.reason, tc.text)
	}
	// code and duration are play DTMF's keys: elsewhere they are warned about.
	if out := h.ok(map[string]any{"command": "query", "call-id": "c1", "code": "1"}); !strings.Contains(out["warning"].(string), "code") {
		t.Fatalf("%v", out)
	}
}

// FuzzMediaVerbs: block, silence and play DTMF with arbitrary values never panic, and
// always answer ok or an error with a reason.
func FuzzMediaVerbs(f *testing.F) {
	f.Add(uint8(0), "tagA", "", "", "5", int64(250), "-8", "directional")
	f.Add(uint8(4), "tagB", "caller", "192.0.2.10", "#", int64(-1), "99999999999999999999", "all")
	f.Add(uint8(5), "", "", "::1", "15", int64(1<<40), "x", "")
	cmds := []string{"block media", "unblock media", "silence media", "unsilence media", "play DTMF", "play DTMF"}
	f.Fuzz(func(t *testing.T, which uint8, tag, label, addr, code string, dur int64, vol, flag string) {
		h := newHarness(t)
		h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), map[string]any{"label": "caller"}))
		h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), nil))
		d := map[string]any{"command": cmds[int(which)%len(cmds)], "call-id": "c1", "from-tag": tag, "label": label,
			"address": addr, "code": code, "duration": dur, "volume": vol, "pause": vol, "all": flag, "to-tag": label,
			"flags": []any{flag}}
		out := h.send(d)
		switch out["result"] {
		case "ok":
		case "error":
			if s, _ := out["error-reason"].(string); s == "" {
				t.Fatalf("error without a reason: %v", out)
			}
		default:
			t.Fatalf("%v", out)
		}
	})
}
