package offeranswer

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
)

// pointsAt parses a rewritten body and returns its audio address.
func pointsAt(t *testing.T, body []byte) *sdp.Media {
	t.Helper()
	d, err := sdp.Parse(body)
	if err != nil {
		t.Fatalf("rewritten SDP does not parse: %v\n%s", err, body)
	}
	return &d.Media[0]
}

func TestOfferAnswerCreatesOneSession(t *testing.T) {
	h := newHarness(t)
	off := h.offer("c1@pbx", "tagA", "", audioSDP("192.0.2.10:4000"), Options{})
	if !off.Created || h.reg.Len() != 1 {
		t.Fatalf("created %v, %d sessions", off.Created, h.reg.Len())
	}
	s := off.Session
	if s.CallID != "c1@pbx" || s.Labels["sip.from_tag"] != "tagA" {
		t.Fatalf("%+v", s)
	}
	// The offerer is the customer: its leg sends to its SDP address; the rewritten offer
	// points the agent at the agent leg's local port, at hush's advertised address.
	m := h.media(s.ID)
	if got := m.Leg(session.Customer).Remote; got != netip.MustParseAddrPort("192.0.2.10:4000") {
		t.Fatalf("customer remote %v", got)
	}
	if got := pointsAt(t, off.SDP).Remote(); got != netip.AddrPortFrom(hushAddr, m.Port[session.Agent]) {
		t.Fatalf("offer points at %v", got)
	}
	// The codecs survive the rewrite.
	if c := pointsAt(t, off.SDP).Codecs; c[101] != "telephone-event" || c[0] != "PCMU" || c[8] != "PCMA" {
		t.Fatalf("codecs %v", c)
	}
	ans := h.answer("c1@pbx", "tagA", "tagB", audioSDP("192.0.2.20:5000"), Options{})
	if ans.Created || h.reg.Len() != 1 {
		t.Fatal("answer created a session")
	}
	if got := m.Leg(session.Agent).Remote; got != netip.MustParseAddrPort("192.0.2.20:5000") {
		t.Fatalf("agent remote %v", got)
	}
	if m.Leg(session.Agent).TelephoneEventPT != 101 || m.Leg(session.Customer).TelephoneEventPT != 101 {
		t.Fatal("telephone-event payload type not passed to the legs")
	}
	if got := pointsAt(t, ans.SDP).Remote(); got != netip.AddrPortFrom(hushAddr, m.Port[session.Customer]) {
		t.Fatalf("answer points at %v", got)
	}
	// Until the answer the session has the offer timeout; after it the policy's.
	if ans.Session.Policy.IdleTimeout != h.reg.Defaults().IdleTimeout || off.Session.Policy.IdleTimeout != h.e.cfg.OfferTimeout {
		t.Fatalf("idle timeouts: offer %v, answer %v", off.Session.Policy.IdleTimeout, ans.Session.Policy.IdleTimeout)
	}
	// The gRPC view finds it by call id.
	page, _, _ := h.reg.List(session.ListFilter{CallID: "c1@pbx", PageSize: 10})
	if len(page) != 1 || page[0].ID != s.ID {
		t.Fatalf("list %+v", page)
	}
	if _, err := h.e.Delete("c1@pbx", ""); err != nil || h.reg.Len() != 0 || h.f.Open() != 0 {
		t.Fatalf("delete: %v, %d sessions, %d media open", err, h.reg.Len(), h.f.Open())
	}
}

func TestRepeatedOfferCreatesNoSecondSession(t *testing.T) {
	h := newHarness(t)
	first := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{})
	again := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{})
	if again.Created || h.reg.Len() != 1 || h.f.Open() != 1 || string(first.SDP) != string(again.SDP) {
		t.Fatalf("created %v, %d sessions, %d media\n%s\n%s", again.Created, h.reg.Len(), h.f.Open(), first.SDP, again.SDP)
	}
}

func TestCustomerParty(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers bool
		party   Party
		offerer session.Leg
	}{
		{"default: the caller is the customer", false, PartyDefault, session.Customer},
		{"config: the callee is the customer", true, PartyDefault, session.Agent},
		{"per call overrides config", true, PartyCaller, session.Customer},
		{"per call: callee", false, PartyCallee, session.Agent},
		{"per call: the sender of this SDP", true, PartySender, session.Customer},
		{"per call: the other party", false, PartyRecipient, session.Agent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.CustomerAnswers = tc.answers })
			off := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{Customer: tc.party})
			m := h.media(off.Session.ID)
			if got := m.Leg(tc.offerer).Remote; got != netip.MustParseAddrPort("192.0.2.10:4000") {
				t.Fatalf("offerer's address on the wrong leg: customer %v agent %v", m.Leg(session.Customer).Remote, m.Leg(session.Agent).Remote)
			}
			if _, l, ok, _ := h.e.Party("c1", "tagA", ""); !ok || l != tc.offerer {
				t.Fatalf("party of tagA: %v %v", l, ok)
			}
		})
	}
}

// TestLateOffer: an INVITE without SDP. Kamailio sends the callee's offer from the 200
// (its tag as from-tag, the caller's as to-tag) and the caller's answer from the ACK. The
// caller is still the customer.
func TestLateOffer(t *testing.T) {
	h := newHarness(t)
	off := h.offer("c1", "calleeTag", "callerTag", audioSDP("192.0.2.20:5000"), Options{})
	m := h.media(off.Session.ID)
	if m.Leg(session.Agent).Remote != netip.MustParseAddrPort("192.0.2.20:5000") {
		t.Fatalf("the callee's offer went to the customer leg: agent %v, customer %v", m.Leg(session.Agent).Remote, m.Leg(session.Customer).Remote)
	}
	ans := h.answer("c1", "calleeTag", "callerTag", audioSDP("192.0.2.10:4000"), Options{})
	if m.Leg(session.Customer).Remote != netip.MustParseAddrPort("192.0.2.10:4000") {
		t.Fatalf("customer remote %v", m.Leg(session.Customer).Remote)
	}
	if got := pointsAt(t, ans.SDP).Remote(); got != netip.AddrPortFrom(hushAddr, m.Port[session.Agent]) {
		t.Fatalf("the answer points the callee at %v", got)
	}
	if _, l, ok, _ := h.e.Party("c1", "callerTag", ""); !ok || l != session.Customer {
		t.Fatalf("caller is %v", l)
	}
}

func TestReOffersHoldAndBack(t *testing.T) {
	h := newHarness(t)
	off := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{})
	h.answer("c1", "tagA", "tagB", audioSDP("192.0.2.20:5000"), Options{})
	m := h.media(off.Session.ID)

	// Hold by direction: the address stays, the attribute reaches the other side.
	res := h.offer("c1", "tagA", "tagB", audioSDP("192.0.2.10:4000", "a=sendonly"), Options{})
	if pointsAt(t, res.SDP).Direction != sdp.SendOnly || m.Leg(session.Customer).Remote != netip.MustParseAddrPort("192.0.2.10:4000") {
		t.Fatalf("sendonly hold: %s", res.SDP)
	}
	h.answer("c1", "tagA", "tagB", audioSDP("192.0.2.20:5000", "a=recvonly"), Options{})

	// Old-style hold, c=0.0.0.0: the remote stays what it was and the recipient sees 0.0.0.0.
	held := strings.ReplaceAll(audioSDP("192.0.2.10:4000"), "c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0")
	res = h.offer("c1", "tagA", "tagB", held, Options{})
	if !pointsAt(t, res.SDP).Held() || m.Leg(session.Customer).Remote != netip.MustParseAddrPort("192.0.2.10:4000") {
		t.Fatalf("zero hold: remote %v\n%s", m.Leg(session.Customer).Remote, res.SDP)
	}
	// ... unless the caller asks hush to replace it.
	res = h.offer("c1", "tagA", "tagB", held, Options{ZeroAddress: true})
	if pointsAt(t, res.SDP).Held() {
		t.Fatal("zero address not replaced")
	}

	// Back from hold on a new port, with a codec change.
	back := strings.Replace(audioSDP("192.0.2.10:4100"), "RTP/AVP 0 8 101", "RTP/AVP 8 101", 1)
	res = h.offer("c1", "tagA", "tagB", back, Options{})
	cust := m.Leg(session.Customer)
	if cust.Remote != netip.MustParseAddrPort("192.0.2.10:4100") || cust.Codecs[8] != "PCMA" {
		t.Fatalf("un-hold: %+v", cust)
	}
	if got := pointsAt(t, res.SDP).Remote(); got != netip.AddrPortFrom(hushAddr, m.Port[session.Agent]) {
		t.Fatalf("re-offer points at %v", got)
	}
	if h.reg.Len() != 1 || h.f.Open() != 1 {
		t.Fatal("a re-offer made a new session")
	}
}

func TestReOfferFromCallee(t *testing.T) {
	h := newHarness(t)
	off := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{})
	h.answer("c1", "tagA", "tagB", audioSDP("192.0.2.20:5000"), Options{})
	m := h.media(off.Session.ID)
	// The callee re-INVITEs: its From tag is the dialog's to-tag.
	res := h.offer("c1", "tagB", "tagA", audioSDP("192.0.2.20:5100"), Options{})
	if m.Leg(session.Agent).Remote != netip.MustParseAddrPort("192.0.2.20:5100") {
		t.Fatalf("agent remote %v", m.Leg(session.Agent).Remote)
	}
	if got := pointsAt(t, res.SDP).Remote(); got != netip.AddrPortFrom(hushAddr, m.Port[session.Customer]) {
		t.Fatalf("callee's re-offer points the caller at %v", got)
	}
	// The caller answers it (its tag is the to-tag now).
	ans := h.answer("c1", "tagB", "tagA", audioSDP("192.0.2.10:4200"), Options{})
	if m.Leg(session.Customer).Remote != netip.MustParseAddrPort("192.0.2.10:4200") {
		t.Fatalf("customer remote %v", m.Leg(session.Customer).Remote)
	}
	if got := pointsAt(t, ans.SDP).Remote(); got != netip.AddrPortFrom(hushAddr, m.Port[session.Agent]) {
		t.Fatalf("answer points the callee at %v", got)
	}
}

func TestEarlyMediaAndForkedAnswers(t *testing.T) {
	h := newHarness(t)
	off := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{})
	m := h.media(off.Session.ID)
	// 183 with SDP from the first fork, then a 200 from another fork with another address.
	early := h.answer("c1", "tagA", "fork1", audioSDP("192.0.2.21:5000"), Options{})
	if m.Leg(session.Agent).Remote != netip.MustParseAddrPort("192.0.2.21:5000") {
		t.Fatal("early media answer not applied")
	}
	final := h.answer("c1", "tagA", "fork2", audioSDP("192.0.2.22:6000"), Options{})
	if m.Leg(session.Agent).Remote != netip.MustParseAddrPort("192.0.2.22:6000") {
		t.Fatal("the final fork's answer did not win")
	}
	// Both answers point the caller at the same place, and both tags are the agent.
	if string(pointsAt(t, early.SDP).Remote().String()) != pointsAt(t, final.SDP).Remote().String() {
		t.Fatal("forks got different addresses")
	}
	for _, tag := range []string{"fork1", "fork2"} {
		if _, l, ok, _ := h.e.Party("c1", tag, ""); !ok || l != session.Agent {
			t.Fatalf("%s: %v %v", tag, l, ok)
		}
	}
	if h.reg.Len() != 1 {
		t.Fatal("forks made sessions")
	}
}

func TestExtraMediaRefusedOrRelayedPlain(t *testing.T) {
	video := []string{"m=video 4002 RTP/AVP 96", "a=rtpmap:96 VP8/90000"}
	second := []string{"m=audio 4004 RTP/AVP 0"}
	offerBody := audioSDP("192.0.2.10:4000", append(append([]string{}, video...), second...)...)
	answerBody := audioSDP("192.0.2.20:5000", "m=video 5002 RTP/AVP 96", "a=rtpmap:96 VP8/90000", "m=audio 5004 RTP/AVP 0")

	t.Run("refused by default", func(t *testing.T) {
		h := newHarness(t)
		off := h.offer("c1", "tagA", "", offerBody, Options{})
		d, _ := sdp.Parse(off.SDP)
		if d.Media[0].Port == 0 || d.Media[1].Port != 0 || d.Media[2].Port != 0 {
			t.Fatalf("ports %d %d %d", d.Media[0].Port, d.Media[1].Port, d.Media[2].Port)
		}
		if len(off.Warnings) != 2 || h.f.Open() != 1 {
			t.Fatalf("warnings %q, %d media", off.Warnings, h.f.Open())
		}
		refused := strings.Replace(strings.Replace(answerBody, "m=video 5002", "m=video 0", 1), "m=audio 5004", "m=audio 0", 1)
		ans := h.answer("c1", "tagA", "tagB", refused, Options{})
		if d, _ = sdp.Parse(ans.SDP); d.Media[1].Port != 0 || d.Media[2].Port != 0 {
			t.Fatalf("answer relays refused streams:\n%s", ans.SDP)
		}
	})
	t.Run("relayed plain on request", func(t *testing.T) {
		h := newHarness(t)
		off := h.offer("c1", "tagA", "", offerBody, Options{Extra: ExtraRelay})
		if h.f.Open() != 3 {
			t.Fatalf("%d media open", h.f.Open())
		}
		x := h.f.Find(off.Session.ID + "/m2")
		if x == nil || x.Spec.Record != nil || x.Spec.OnDigit != nil || x.Spec.OnLatch != nil {
			t.Fatalf("extra stream is not plain: %+v", x)
		}
		if x.Leg(session.Customer).Remote != netip.MustParseAddrPort("192.0.2.10:4002") {
			t.Fatalf("video remote %v", x.Leg(session.Customer).Remote)
		}
		d, _ := sdp.Parse(off.SDP)
		if d.Media[1].Port != int(x.Port[session.Agent]) {
			t.Fatalf("video points at %d", d.Media[1].Port)
		}
		// The call's own masking never reaches an extra stream.
		mask := session.MaskTone
		h.offer("c1", "tagA", "", offerBody, Options{Extra: ExtraRelay, MaskToAgent: &mask})
		if x.Masking(session.CustomerToAgent).Mode != 0 {
			t.Fatal("extra stream masked")
		}
		ans := h.answer("c1", "tagA", "tagB", answerBody, Options{})
		if x.Leg(session.Agent).Remote != netip.MustParseAddrPort("192.0.2.20:5002") {
			t.Fatalf("video agent remote %v", x.Leg(session.Agent).Remote)
		}
		if d, _ = sdp.Parse(ans.SDP); d.Media[1].Port != int(x.Port[session.Customer]) {
			t.Fatalf("answer's video points at %d", d.Media[1].Port)
		}
		// A re-offer that drops the video closes its relay; ending the call closes the rest.
		h.offer("c1", "tagA", "tagB", strings.Replace(offerBody, "m=video 4002", "m=video 0", 1), Options{Extra: ExtraRelay})
		if !x.Closed() {
			t.Fatal("dropped stream still relayed")
		}
		if _, err := h.e.Delete("c1", ""); err != nil || h.f.Open() != 0 {
			t.Fatalf("%v, %d media open", err, h.f.Open())
		}
	})
}

func TestExtraStreamsCloseWhenTheSessionEndsElsewhere(t *testing.T) {
	h := newHarness(t)
	off := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000", "m=video 4002 RTP/AVP 96"), Options{Extra: ExtraRelay})
	if _, err := h.reg.Delete(off.Session.ID, session.Request{}, "agent-desktop"); err != nil { // as gRPC DeleteSession
		t.Fatal(err)
	}
	if n := h.e.Sweep(); n != 1 || h.f.Open() != 0 {
		t.Fatalf("swept %d, %d media open", n, h.f.Open())
	}
	// The call-id is free again: a new offer makes a new session.
	if again := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{}); !again.Created {
		t.Fatal("no new session")
	}
}

func TestRTCPMux(t *testing.T) {
	muxed := func(addr string) string { return audioSDP(addr, "a=rtcp-mux") }
	for _, tc := range []struct {
		name              string
		mux               Mux
		offerMux, answMux bool
		toPeer            bool // a=rtcp-mux in the offer hush writes
		custMux, agentMux bool
		toOfferer         bool // a=rtcp-mux in the answer hush writes
	}{
		{"both", MuxDefault, true, true, true, true, true, true},
		{"answerer declines", MuxDefault, true, false, true, false, false, false},
		{"accept anyway", MuxAccept, true, false, true, true, false, true},
		{"demux", MuxDemux, true, false, false, true, false, true},
		{"reject", MuxReject, true, true, false, false, false, false},
		{"offer to a sender without it", MuxOffer, false, true, true, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ob, ab := audioSDP("192.0.2.10:4000"), audioSDP("192.0.2.20:5000")
			if tc.offerMux {
				ob = muxed("192.0.2.10:4000")
			}
			if tc.answMux {
				ab = muxed("192.0.2.20:5000")
			}
			off := h.offer("c1", "tagA", "", ob, Options{Mux: tc.mux})
			if got := pointsAt(t, off.SDP).RTCPMux; got != tc.toPeer {
				t.Fatalf("offer out rtcp-mux %v", got)
			}
			ans := h.answer("c1", "tagA", "tagB", ab, Options{})
			m := h.media(off.Session.ID)
			if m.Leg(session.Customer).RTCPMux != tc.custMux || m.Leg(session.Agent).RTCPMux != tc.agentMux {
				t.Fatalf("legs mux customer %v agent %v", m.Leg(session.Customer).RTCPMux, m.Leg(session.Agent).RTCPMux)
			}
			if got := pointsAt(t, ans.SDP).RTCPMux; got != tc.toOfferer {
				t.Fatalf("answer out rtcp-mux %v", got)
			}
		})
	}
}

func TestMasksRecordingAndCapture(t *testing.T) {
	h := newHarness(t)
	tone, off := session.MaskTone, false
	res := h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000"), Options{MaskToAgent: &tone, Record: &off, AgentID: "a-17"})
	p := res.Session.Policy
	if p.CustomerToAgent.Mode != session.MaskTone || p.AgentToCustomer.Mode != session.MaskOff || !p.Recording.Off || res.Session.AgentID != "a-17" {
		t.Fatalf("%+v %q", p, res.Session.AgentID)
	}
	on := true
	ans := h.answer("c1", "tagA", "tagB", audioSDP("192.0.2.20:5000"), Options{Capture: &on, MaskToCustomer: &tone})
	if !ans.Session.Capture.On || ans.Session.Policy.AgentToCustomer.Mode != session.MaskTone {
		t.Fatalf("capture %v, policy %+v", ans.Session.Capture.On, ans.Session.Policy)
	}
}

func TestICEIsAlwaysRemoved(t *testing.T) {
	// A SIP phone that offers ICE over plain RTP (some do, for NAT traversal).
	body := audioSDP("192.0.2.10:4000", "a=ice-ufrag:abcd", "a=ice-pwd:0123456789abcdefghij0123",
		"a=candidate:1 1 UDP 2130706431 192.0.2.10 4000 typ host", "a=candidate:2 1 UDP 1694498815 203.0.113.7 41000 typ srflx raddr 192.0.2.10 rport 4000")
	h := newHarness(t)
	res := h.offer("c1", "tagA", "", body, Options{})
	if strings.Contains(string(res.SDP), "candidate") || strings.Contains(string(res.SDP), "ice-") || len(res.Warnings) != 1 {
		t.Fatalf("warnings %q\n%s", res.Warnings, res.SDP)
	}
	res = h.offer("c1", "tagA", "", body, Options{RemoveICE: true})
	if len(res.Warnings) != 0 {
		t.Fatalf("asked-for removal warned: %q", res.Warnings)
	}
}

func TestLearningModes(t *testing.T) {
	h := newHarness(t)
	src := netip.MustParseAddr("198.51.100.7")
	off := h.offer("c1", "tagA", "", audioSDP("10.0.0.5:4000"), Options{Learning: LearnSource, Source: src})
	m := h.media(off.Session.ID)
	if m.Leg(session.Customer).Remote != netip.MustParseAddrPort("198.51.100.7:4000") {
		t.Fatalf("SIP source: %v", m.Leg(session.Customer).Remote)
	}
	h.answer("c1", "tagA", "tagB", audioSDP("10.0.0.6:5000"), Options{Learning: LearnLatch})
	if m.Leg(session.Agent).Remote.IsValid() {
		t.Fatalf("latch: remote %v set", m.Leg(session.Agent).Remote)
	}
	h.offer("c1", "tagA", "tagB", audioSDP("10.0.0.5:4000"), Options{MediaAddr: netip.MustParseAddr("198.51.100.8")})
	if m.Leg(session.Customer).Remote != netip.MustParseAddrPort("198.51.100.8:4000") {
		t.Fatalf("media address: %v", m.Leg(session.Customer).Remote)
	}
}

func TestCodecMapsMerge(t *testing.T) {
	own := map[uint8]string{0: "PCMU", 101: "telephone-event"}
	peer := map[uint8]string{0: "PCMU", 8: "PCMA", 96: "telephone-event", 101: "opus"}
	got := mergeCodecs(own, peer)
	if got[8] != "PCMA" || got[96] != "telephone-event" || got[101] != "telephone-event" || len(got) != 4 {
		t.Fatalf("%v", got)
	}
	// Disagreeing on a type, telephone-event wins from either side.
	if got := mergeCodecs(map[uint8]string{100: "G722"}, map[uint8]string{100: "telephone-event"}); got[100] != "telephone-event" {
		t.Fatalf("%v", got)
	}
}

// TestBadRequestsLeaveNoSession: every refusal names its reason and leaves nothing behind.
func TestBadRequestsLeaveNoSession(t *testing.T) {
	good := audioSDP("192.0.2.10:4000")
	for _, tc := range []struct {
		name             string
		callID, from, to string
		body             string
		answer           bool
		want             error
	}{
		{"SDP does not parse", "c1", "a", "", "hello", false, ErrSDP},
		{"missing call-id", "", "a", "", good, false, ErrInvalid},
		{"missing from-tag", "c1", "", "", good, false, ErrInvalid},
		{"call-id with a space", "c 1", "a", "", good, false, ErrInvalid},
		{"call-id too long", strings.Repeat("x", 300), "a", "", good, false, ErrInvalid},
		{"audio port 0", "c1", "a", "", strings.Replace(good, "m=audio 4000", "m=audio 0", 1), false, ErrNoAudio},
		{"video only", "c1", "a", "", strings.Replace(good, "m=audio 4000", "m=video 4000", 1), false, ErrNoAudio},
		{"SRTP", "c1", "a", "", strings.Replace(good, "RTP/AVP", "RTP/SAVP", 1), false, ErrUnsupported},
		// A WebRTC browser's audio: DTLS-SRTP over ICE (JSEP, RFC 8829).
		{"WebRTC", "c1", "a", "", strings.Replace(good, "RTP/AVP 0 8 101", "UDP/TLS/RTP/SAVPF 111 0 8", 1) +
			"a=rtpmap:111 opus/48000/2\r\na=fingerprint:sha-256 19:E2:1C:3B\r\na=setup:actpass\r\na=rtcp-mux\r\n", false, ErrUnsupported},
		{"SDES crypto over RTP/AVP", "c1", "a", "", audioSDP("192.0.2.10:4000", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"), false, ErrUnsupported},
		{"IPv6 on an IPv4 hush", "c1", "a", "", audioSDP("[2001:db8::1]:4000"), false, ErrAddress},
		{"multicast", "c1", "a", "", audioSDP("233.252.0.1:4000"), false, ErrAddress},
		{"answer for an unknown call", "c9", "a", "b", good, true, ErrUnknownCall},
		{"answer without to-tag", "c9", "a", "", good, true, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			req := Request{CallID: tc.callID, FromTag: tc.from, ToTag: tc.to, SDP: []byte(tc.body)}
			var err error
			if tc.answer {
				_, err = h.e.Answer(req)
			} else {
				_, err = h.e.Offer(req)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if h.reg.Len() != 0 || h.f.Open() != 0 || h.e.Stats().Calls != 0 {
				t.Fatalf("left behind: %d sessions, %d media, %d calls", h.reg.Len(), h.f.Open(), h.e.Stats().Calls)
			}
			if strings.Contains(err.Error(), "c 1") || strings.Contains(err.Error(), "xxxxxxxx") {
				t.Fatalf("error echoes the value: %v", err)
			}
		})
	}
}

func TestBadAnswersKeepTheCall(t *testing.T) {
	h := newHarness(t)
	h.offer("c1", "tagA", "", audioSDP("192.0.2.10:4000", "m=video 4002 RTP/AVP 96"), Options{})
	for _, tc := range []struct {
		name     string
		from, to string
		body     string
		want     error
	}{
		{"fewer m= lines", "tagA", "tagB", audioSDP("192.0.2.20:5000"), ErrMismatch},
		{"from the offerer", "tagB", "tagA", audioSDP("192.0.2.20:5000", "m=video 0 RTP/AVP 96"), ErrUnknownTag},
		{"unknown tags", "x", "y", audioSDP("192.0.2.20:5000", "m=video 0 RTP/AVP 96"), ErrUnknownTag},
		{"audio refused", "tagA", "tagB", strings.Replace(audioSDP("192.0.2.20:5000", "m=video 0 RTP/AVP 96"), "m=audio 5000", "m=audio 0", 1), ErrNoAudio},
	} {
		if _, err := h.e.Answer(Request{CallID: "c1", FromTag: tc.from, ToTag: tc.to, SDP: []byte(tc.body)}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if h.reg.Len() != 1 {
		t.Fatal("a bad answer ended the call")
	}
	// A re-offer from a tag of another dialog with the same call-id.
	if _, err := h.e.Offer(Request{CallID: "c1", FromTag: "other", SDP: []byte(audioSDP("192.0.2.30:4000"))}); !errors.Is(err, ErrUnknownTag) {
		t.Fatalf("foreign from-tag: %v", err)
	}
}
