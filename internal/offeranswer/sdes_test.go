package offeranswer

import (
	"errors"
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/srtp"
)

// srtpSDP is audioSDP on RTP/SAVP with the given a=crypto values.
func srtpSDP(addr string, crypto ...string) string {
	var extra []string
	for _, c := range crypto {
		extra = append(extra, "a=crypto:"+c)
	}
	return strings.Replace(audioSDP(addr, extra...), "RTP/AVP", "RTP/SAVP", 1)
}

func newCrypto(t *testing.T, tag int, s srtp.Suite) srtp.Crypto {
	t.Helper()
	k, err := srtp.GenerateKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return srtp.Crypto{Tag: tag, Key: k}
}

// cryptoOf parses the a=crypto lines of a rewritten body's audio.
func cryptoOf(t *testing.T, body []byte) []srtp.Crypto {
	t.Helper()
	var out []srtp.Crypto
	for _, v := range pointsAt(t, body).Crypto {
		c, err := srtp.ParseCrypto(v)
		if err != nil {
			t.Fatalf("hush wrote a=crypto:%s: %v", v, err)
		}
		out = append(out, c)
	}
	return out
}

// TestSDESCallerToPlainCallee: an SRTP phone calls a plain RTP agent (transport-protocol
// RTP/AVP): hush answers the phone with its own key for the suite it picked, offers the
// agent plain RTP, and the phone's key goes nowhere.
func TestSDESCallerToPlainCallee(t *testing.T) {
	h := newHarness(t)
	phone := newCrypto(t, 2, srtp.AES128CMSHA1_80)
	body := srtpSDP("192.0.2.10:4000", "1 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", phone.Value())
	off := h.offer("c1", "tagA", "", body, Options{Transport: ProtoAVP})
	if strings.Contains(string(off.SDP), phone.Key.Inline()) || strings.Contains(string(off.SDP), "a=crypto") {
		t.Fatalf("the phone's key or a crypto line reached the agent:\n%s", off.SDP)
	}
	if m := pointsAt(t, off.SDP); m.Proto != ProtoAVP {
		t.Fatalf("offered %s", m.Proto)
	}
	m := h.media(off.Session.ID)
	cust := m.Leg(session.Customer).SRTP
	if cust == nil || !cust.Recv.Equal(phone.Key) || cust.Send.IsZero() || cust.Send.Equal(phone.Key) || m.Leg(session.Agent).SRTP != nil {
		t.Fatalf("legs: customer %v, agent %v", cust, m.Leg(session.Agent).SRTP)
	}
	ans := h.answer("c1", "tagA", "tagB", audioSDP("192.0.2.20:5000"), Options{})
	cs := cryptoOf(t, ans.SDP)
	if pointsAt(t, ans.SDP).Proto != ProtoSAVP || len(cs) != 1 || cs[0].Tag != 2 || !cs[0].Key.Equal(cust.Send) {
		t.Fatalf("answer to the phone: %s\n%v", pointsAt(t, ans.SDP).Proto, cs)
	}
	if m.Leg(session.Agent).SRTP != nil {
		t.Fatal("the plain agent has keys")
	}
	// The session's view of the legs carries the keys' fingerprints only when printed.
	if s := ans.Session.Customer.SRTP.String(); strings.Contains(s, phone.Key.Inline()) || !strings.Contains(s, phone.Key.Fingerprint()) {
		t.Fatalf("printed: %s", s)
	}

	// A re-offer with the same key keeps both keys (and so the crypto contexts).
	again := h.offer("c1", "tagA", "tagB", body, Options{Transport: ProtoAVP})
	if k := m.Leg(session.Customer).SRTP; !k.Recv.Equal(cust.Recv) || !k.Send.Equal(cust.Send) {
		t.Fatal("a re-offer with the same key changed the keys")
	}
	_ = again
}

// TestSDESPlainCallerToSRTPCallee: a plain trunk calls an SRTP agent phone
// (transport-protocol RTP/SAVP): hush offers every suite with its own keys, the agent's
// answer picks one, and the trunk is answered plain.
func TestSDESPlainCallerToSRTPCallee(t *testing.T) {
	h := newHarness(t)
	off := h.offer("c2", "tagA", "", audioSDP("192.0.2.10:4000"), Options{Transport: ProtoSAVP})
	offered := cryptoOf(t, off.SDP)
	if pointsAt(t, off.SDP).Proto != ProtoSAVP || len(offered) != len(srtp.Suites()) || offered[0].Suite() != srtp.Suites()[0] {
		t.Fatalf("offered %v", offered)
	}
	m := h.media(off.Session.ID)
	if k := m.Leg(session.Agent).SRTP; k == nil || !k.Recv.IsZero() || !k.Send.IsZero() {
		t.Fatalf("the agent's leg before the answer: %v (want keys pending)", k)
	}
	if m.Leg(session.Customer).SRTP != nil {
		t.Fatal("the plain trunk has keys")
	}
	agent := newCrypto(t, offered[2].Tag, offered[2].Suite())
	ans := h.answer("c2", "tagA", "tagB", srtpSDP("192.0.2.20:5000", agent.Value()), Options{})
	k := m.Leg(session.Agent).SRTP
	if k == nil || !k.Recv.Equal(agent.Key) || !k.Send.Equal(offered[2].Key) {
		t.Fatalf("agent keys %v", k)
	}
	if p := pointsAt(t, ans.SDP); p.Proto != ProtoAVP || len(p.Crypto) != 0 {
		t.Fatalf("answer to the trunk: %s %v", p.Proto, p.Crypto)
	}

	// Answers hush cannot take: another tag, another suite for a tag, plain RTP.
	for name, body := range map[string]string{
		"unknown tag":   srtpSDP("192.0.2.20:5000", newCrypto(t, 99, srtp.AES128CMSHA1_80).Value()),
		"suite for tag": srtpSDP("192.0.2.20:5000", newCrypto(t, offered[0].Tag, srtp.AES128CMSHA1_32).Value()),
		"plain":         audioSDP("192.0.2.20:5000"),
	} {
		h2 := newHarness(t)
		h2.offer("c3", "tagA", "", audioSDP("192.0.2.10:4000"), Options{Transport: ProtoSAVP})
		_, err := h2.e.Answer(Request{CallID: "c3", FromTag: "tagA", ToTag: "tagB", SDP: []byte(body)})
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSDESBothLegs: SRTP on both sides (the default keeps the sender's transport): each
// party gets hush's keys, never the other party's.
func TestSDESBothLegs(t *testing.T) {
	h := newHarness(t)
	a := newCrypto(t, 1, srtp.AEADAES128GCM)
	off := h.offer("c4", "tagA", "", srtpSDP("192.0.2.10:4000", a.Value()), Options{})
	offered := cryptoOf(t, off.SDP)
	if len(offered) == 0 || offered[0].Suite() != srtp.AEADAES128GCM || strings.Contains(string(off.SDP), a.Key.Inline()) {
		t.Fatalf("offered %v\n%s", offered, off.SDP)
	}
	b := newCrypto(t, offered[0].Tag, offered[0].Suite())
	ans := h.answer("c4", "tagA", "tagB", srtpSDP("192.0.2.20:5000", b.Value()), Options{})
	if strings.Contains(string(ans.SDP), b.Key.Inline()) {
		t.Fatal("the callee's key reached the caller")
	}
	m := h.media(off.Session.ID)
	ck, ak := m.Leg(session.Customer).SRTP, m.Leg(session.Agent).SRTP
	keys := []srtp.Key{ck.Recv, ck.Send, ak.Recv, ak.Send}
	for i := range keys {
		for j := range i {
			if keys[i].Equal(keys[j]) {
				t.Fatalf("keys %d and %d are the same", i, j)
			}
		}
	}
	if cs := cryptoOf(t, ans.SDP); len(cs) != 1 || cs[0].Tag != 1 || !cs[0].Key.Equal(ck.Send) {
		t.Fatalf("answer to the caller %v", cs)
	}
}

func TestSDESOptions(t *testing.T) {
	suitesOf := func(cs []srtp.Crypto) []srtp.Suite {
		var out []srtp.Suite
		for _, c := range cs {
			out = append(out, c.Suite())
		}
		return out
	}
	a32 := newCrypto(t, 1, srtp.AES128CMSHA1_32)
	a80 := newCrypto(t, 2, srtp.AES128CMSHA1_80)
	body := srtpSDP("192.0.2.10:4000", a32.Value(), a80.Value())
	for _, tc := range []struct {
		name    string
		o       SDES
		offered []srtp.Suite
		picked  srtp.Suite
	}{
		{"nonew", SDES{NoNew: true}, []srtp.Suite{srtp.AES128CMSHA1_32, srtp.AES128CMSHA1_80}, srtp.AES128CMSHA1_32},
		{"only", SDES{Only: []srtp.Suite{srtp.AEADAES256GCM}}, []srtp.Suite{srtp.AEADAES256GCM}, srtp.AES128CMSHA1_32},
		{"no and offerer pref", SDES{NoNew: true, No: []srtp.Suite{srtp.AES128CMSHA1_32}, OffererPref: []srtp.Suite{srtp.AES128CMSHA1_80}},
			[]srtp.Suite{srtp.AES128CMSHA1_80}, srtp.AES128CMSHA1_80},
		{"order", SDES{NoNew: true, Order: []srtp.Suite{srtp.AES128CMSHA1_80}}, []srtp.Suite{srtp.AES128CMSHA1_80, srtp.AES128CMSHA1_32}, srtp.AES128CMSHA1_32},
	} {
		h := newHarness(t)
		off := h.offer("c5", "tagA", "", body, Options{SDES: tc.o})
		if got := suitesOf(cryptoOf(t, off.SDP)); !equalSuites(got, tc.offered) {
			t.Errorf("%s: offered %v, want %v", tc.name, got, tc.offered)
		}
		if k := h.media(off.Session.ID).Leg(session.Customer).SRTP; k.Recv.Suite() != tc.picked {
			t.Errorf("%s: picked %v", tc.name, k.Recv.Suite())
		}
	}
	h := newHarness(t)
	if _, err := h.e.Offer(Request{CallID: "c6", FromTag: "a", SDP: []byte(body), Options: Options{SDES: SDES{Off: true}}}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("SDES off toward an SRTP transport: %v", err)
	}
	if _, err := h.e.Offer(Request{CallID: "c6", FromTag: "a", SDP: []byte(body), Options: Options{SDES: SDES{NoNew: true, No: []srtp.Suite{srtp.AES128CMSHA1_32, srtp.AES128CMSHA1_80}}}}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("no suite left: %v", err)
	}
}

// TestSDESWithDTLSOffered: an RTP/SAVP offer of both SDES and DTLS-SRTP (rtpengine's
// default) is taken as SDES; no DTLS attribute reaches either party from hush.
func TestSDESWithDTLSOffered(t *testing.T) {
	h := newHarness(t)
	a := newCrypto(t, 1, srtp.AES128CMSHA1_80)
	body := srtpSDP("192.0.2.10:4000", a.Value()) + "a=fingerprint:sha-256 19:E2:1C:3B\r\na=setup:actpass\r\na=tls-id:abc\r\n"
	off := h.offer("c8", "tagA", "", body, Options{})
	for _, attr := range []string{"a=fingerprint", "a=setup", "a=tls-id"} {
		if strings.Contains(string(off.SDP), attr) {
			t.Fatalf("%s relayed:\n%s", attr, off.SDP)
		}
	}
	if k := h.media(off.Session.ID).Leg(session.Customer).SRTP; k == nil || !k.Recv.Equal(a.Key) {
		t.Fatalf("keys %v", k)
	}
}

// TestOSRTPAnsweredPlain: RTP/AVP with a=crypto (opportunistic SRTP, RFC 8643) is taken as
// plain RTP: the recipient gets no crypto line, the offerer a plain answer.
func TestOSRTPAnsweredPlain(t *testing.T) {
	h := newHarness(t)
	a := newCrypto(t, 1, srtp.AES128CMSHA1_80)
	off := h.offer("c7", "tagA", "", audioSDP("192.0.2.10:4000", "a=crypto:"+a.Value()), Options{})
	if p := pointsAt(t, off.SDP); p.Proto != ProtoAVP || len(p.Crypto) != 0 {
		t.Fatalf("offer %s %v", p.Proto, p.Crypto)
	}
	ans := h.answer("c7", "tagA", "tagB", audioSDP("192.0.2.20:5000"), Options{})
	if p := pointsAt(t, ans.SDP); p.Proto != ProtoAVP || len(p.Crypto) != 0 || h.media(off.Session.ID).Leg(session.Customer).SRTP != nil {
		t.Fatalf("answer %s %v", p.Proto, p.Crypto)
	}
}

func equalSuites(a, b []srtp.Suite) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
