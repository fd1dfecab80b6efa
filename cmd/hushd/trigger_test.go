package main

import (
	"bytes"
	"math/rand/v2"
	"testing"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestKeypadTriggerStartsCapture: with masking.capture_trigger set, the agent keying *7 on
// its phone starts secure capture; the agent's audio still reaches the customer at once
// and byte for byte, and the customer keying the same keys does nothing (the customer's
// side is unmasked here, policy off, so that it too is checked byte for byte).
func TestKeypadTriggerStartsCapture(t *testing.T) {
	d := startDaemon(t, "--masking-capture-trigger", "*7")
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-trigger",
		AgentId:  "agent-9",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
		Policy:   &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	r := rand.New(rand.NewPCG(77, 78))
	keys := func(from, to *endpoint, hushIn string, ssrc uint32) {
		pcm := speechWithBursts(make([]float64, 40*audioFrame), []keyBurst{
			{key: '*', at: 8*audioFrame + 41, dur: 80 * audioPerMs, dbm0: -10},
			{key: '7', at: 22*audioFrame + 97, dur: 80 * audioPerMs, dbm0: -10},
		}, r)
		st := packetizeG711(audioPCMU, ssrc, 1000, 16000, pcm)
		for _, p := range st.audio {
			from.send(hushIn, p)
			if got, _ := to.recv(); !bytes.Equal(got, p) {
				t.Fatal("a packet was not forwarded byte-exact")
			}
		}
	}
	// The customer's *7 is not a trigger (and outside capture its keys are never read).
	keys(cust, agent, s.Customer.LocalAddr, 0xc1)
	got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if err != nil || got.SecureCaptureState != hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF {
		t.Fatalf("after the customer's keys: %v %v", got.GetSecureCaptureState(), err)
	}
	// The agent's *7 starts capture.
	keys(agent, cust, s.Agent.LocalAddr, 0xa1)
	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetSecureCapture() != nil })
	if ev.GetSecureCapture().State != hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON || ev.Actor != "keypad:agent" {
		t.Fatalf("capture event %v (actor %q)", ev.GetSecureCapture(), ev.Actor)
	}
}
