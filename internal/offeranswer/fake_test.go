package offeranswer

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/session"
)

// fakeMedia stands in for media/relay: fixed local ports, the legs and masking it was
// told, nothing on the wire.
type fakeMedia struct {
	f      *fakeFactory
	spec   session.MediaSpec
	port   [2]uint16
	mu     sync.Mutex
	legs   [2]session.LegSpec
	masks  [2]session.MaskPolicy
	closed bool
}

func (m *fakeMedia) Local(l session.Leg) (netip.AddrPort, netip.AddrPort) {
	a := netip.MustParseAddr("127.0.0.1")
	return netip.AddrPortFrom(a, m.port[l]), netip.AddrPortFrom(a, m.port[l]+1)
}

func (m *fakeMedia) Remote(l session.Leg) (netip.AddrPort, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.legs[l].Remote, false
}

func (m *fakeMedia) SetLeg(l session.Leg, s session.LegSpec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.legs[l] = s
	return nil
}

func (m *fakeMedia) leg(l session.Leg) session.LegSpec {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.legs[l]
}

func (m *fakeMedia) LastActivity() time.Time            { return m.f.now() }
func (m *fakeMedia) Stats(session.Leg) session.LegStats { return session.LegStats{} }
func (m *fakeMedia) WatchKeys(session.Direction) error  { return nil }
func (m *fakeMedia) SetMasking(d session.Direction, p session.MaskPolicy, _ bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.masks[d] = p
	return nil
}

func (m *fakeMedia) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.f.mu.Lock()
		m.f.open--
		m.f.mu.Unlock()
	}
	return nil
}

func (m *fakeMedia) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

type fakeFactory struct {
	mu    sync.Mutex
	next  uint16
	open  int
	all   []*fakeMedia
	clock time.Time
}

func (f *fakeFactory) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fakeFactory) media(spec session.MediaSpec) (session.Media, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == 0 {
		f.next = 40000
	}
	m := &fakeMedia{f: f, spec: spec, port: [2]uint16{f.next, f.next + 2}}
	m.legs = [2]session.LegSpec{spec.Customer, spec.Agent}
	f.next += 4
	f.open++
	f.all = append(f.all, m)
	return m, nil
}

func (f *fakeFactory) find(sessionID string) *fakeMedia {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.all {
		if m.spec.SessionID == sessionID {
			return m
		}
	}
	return nil
}

func (f *fakeFactory) openCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

type harness struct {
	t   *testing.T
	f   *fakeFactory
	reg *session.Registry
	e   *Engine
}

var hushAddr = netip.MustParseAddr("192.0.2.99")

func newHarness(t *testing.T, mod ...func(*Config)) *harness {
	f := &fakeFactory{clock: time.Unix(1_700_000_000, 0)}
	reg := session.NewRegistry(session.Config{
		Media: f.media,
		Defaults: session.Policy{
			CustomerToAgent: session.MaskPolicy{Mode: session.MaskOff},
			AgentToCustomer: session.MaskPolicy{Mode: session.MaskOff},
			StrictSource:    true, IdleTimeout: time.Minute,
		},
		Now: f.now,
	})
	cfg := Config{Registry: reg, Plain: f.media, Addr: hushAddr, OfferTimeout: 10 * time.Minute, Now: f.now}
	for _, m := range mod {
		m(&cfg)
	}
	return &harness{t: t, f: f, reg: reg, e: New(cfg)}
}

// media returns the fake media of a session.
func (h *harness) media(sessionID string) *fakeMedia {
	h.t.Helper()
	m := h.f.find(sessionID)
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
