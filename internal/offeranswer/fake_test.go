package offeranswer

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/internal/session/sessiontest"
)

type harness struct {
	t   *testing.T
	f   *sessiontest.Factory
	reg *session.Registry
	e   *Engine
}

var hushAddr = netip.MustParseAddr("192.0.2.99")

func newHarness(t *testing.T, mod ...func(*Config)) *harness {
	f := sessiontest.NewFactory(time.Unix(1_700_000_000, 0))
	reg := session.NewRegistry(session.Config{
		Media: f.New,
		Defaults: session.Policy{
			CustomerToAgent: session.MaskPolicy{Mode: session.MaskOff},
			AgentToCustomer: session.MaskPolicy{Mode: session.MaskOff},
			StrictSource:    true, IdleTimeout: time.Minute,
		},
		Now: f.Now,
	})
	cfg := Config{Registry: reg, Plain: f.New, Addr: hushAddr, OfferTimeout: 10 * time.Minute, Now: f.Now}
	for _, m := range mod {
		m(&cfg)
	}
	return &harness{t: t, f: f, reg: reg, e: New(cfg)}
}

// media returns the fake media of a session.
func (h *harness) media(sessionID string) *sessiontest.Media {
	h.t.Helper()
	m := h.f.Find(sessionID)
	if m == nil {
		h.t.Fatalf("no media for %s", sessionID)
	}
	return m
}

func (h *harness) offer(callID, from, to, body string, o Options) Result {
	h.t.Helper()
	res, err := h.e.Offer(Request{CallID: callID, FromTag: from, ToTag: to, SDP: []byte(body), Options: o})
	if err != nil {
		h.t.Fatalf("offer: %v", err)
	}
	return res
}

func (h *harness) answer(callID, from, to, body string, o Options) Result {
	h.t.Helper()
	res, err := h.e.Answer(Request{CallID: callID, FromTag: from, ToTag: to, SDP: []byte(body), Options: o})
	if err != nil {
		h.t.Fatalf("answer: %v", err)
	}
	return res
}

// audioSDP is a phone's SDP: PCMU, PCMA, telephone-event 101, from addr.
func audioSDP(addr string, extra ...string) string {
	ap := netip.MustParseAddrPort(addr)
	ipv := "IP4"
	if ap.Addr().Is6() {
		ipv = "IP6"
	}
	s := fmt.Sprintf("v=0\r\no=- 1 1 IN %[1]s %[2]s\r\ns=-\r\nc=IN %[1]s %[2]s\r\nt=0 0\r\nm=audio %[3]d RTP/AVP 0 8 101\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n", ipv, ap.Addr(), ap.Port())
	for _, l := range extra {
		s += l + "\r\n"
	}
	return s
}
