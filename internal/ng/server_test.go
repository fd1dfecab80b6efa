package ng

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/internal/session/sessiontest"
)

// countMetrics records what the server counted.
type countMetrics struct {
	mu                        sync.Mutex
	requests, errors, dropped map[string]int
	retransmits               int
}

func newCountMetrics() *countMetrics {
	return &countMetrics{requests: map[string]int{}, errors: map[string]int{}, dropped: map[string]int{}}
}

func (m *countMetrics) Request(c, r string) { m.mu.Lock(); m.requests[c+"/"+r]++; m.mu.Unlock() }
func (m *countMetrics) Error(r string)      { m.mu.Lock(); m.errors[r]++; m.mu.Unlock() }
func (m *countMetrics) Dropped(w string)    { m.mu.Lock(); m.dropped[w]++; m.mu.Unlock() }
func (m *countMetrics) Retransmit()         { m.mu.Lock(); m.retransmits++; m.mu.Unlock() }

func (m *countMetrics) get(which map[string]int, k string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return which[k]
}

type harness struct {
	t      *testing.T
	f      *sessiontest.Factory
	reg    *session.Registry
	engine *offeranswer.Engine
	srv    *Server
	m      *countMetrics
	recs   func(string) *sessiontest.Recorder
	seq    int
}

var (
	hushAddr = netip.MustParseAddr("192.0.2.99")
	kamailio = netip.MustParseAddrPort("127.0.0.1:5060")
)

func newHarness(t *testing.T, mod ...func(*Config)) *harness {
	t.Helper()
	f := sessiontest.NewFactory(time.Unix(1_700_000_000, 0))
	recorder, recs := sessiontest.RecorderFactory()
	reg := session.NewRegistry(session.Config{
		Media: f.New, Recorder: recorder, Now: f.Now,
		Defaults: session.Policy{
			CustomerToAgent: session.MaskPolicy{Mode: session.MaskOff},
			AgentToCustomer: session.MaskPolicy{Mode: session.MaskOff},
			StrictSource:    true, IdleTimeout: time.Minute,
		},
	})
	e := offeranswer.New(offeranswer.Config{Registry: reg, Plain: f.New, Addr: hushAddr, Now: f.Now})
	m := newCountMetrics()
	cfg := Config{Engine: e, Registry: reg, Metrics: m, Now: f.Now}
	for _, fn := range mod {
		fn(&cfg)
	}
	return &harness{t: t, f: f, reg: reg, engine: e, srv: NewServer(cfg), m: m, recs: recs}
}

// send runs one request through the server from Kamailio's address and returns the
// decoded reply (nil when nothing came back).
func (h *harness) send(d map[string]any) map[string]any {
	h.t.Helper()
	h.seq++
	return h.sendCookie(fmt.Sprintf("%d_%d", 4242, h.seq), kamailio, d)
}

func (h *harness) sendCookie(cookie string, from netip.AddrPort, d map[string]any) map[string]any {
	h.t.Helper()
	msg, err := AppendMessage(nil, cookie, d)
	if err != nil {
		h.t.Fatal(err)
	}
	reply := h.srv.Handle(from, msg)
	if reply == nil {
		return nil
	}
	ck, out, err := ParseMessage(reply)
	if err != nil || ck != cookie {
		h.t.Fatalf("reply %q: cookie %q, %v", reply, ck, err)
	}
	return out
}

func (h *harness) ok(d map[string]any) map[string]any {
	h.t.Helper()
	out := h.send(d)
	if out["result"] != "ok" {
		h.t.Fatalf("%v: %v", d["command"], out)
	}
	return out
}

func phoneSDP(addr string, extra ...string) string {
	ap := netip.MustParseAddrPort(addr)
	s := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP 0 8 101\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n", ap.Addr(), ap.Port())
	for _, l := range extra {
		s += l + "\r\n"
	}
	return s
}

// kamailioOffer is what Kamailio 5.6's rtpengine module sends for
// rtpengine_manage("trust-address replace-origin replace-session-connection ICE=remove"):
// captured from a real Kamailio and a stand-in ng listener (see deploy/kamailio).
func kamailioOffer(callID, fromTag, body string, extra map[string]any) map[string]any {
	d := map[string]any{
		"supports": []any{"load limit"}, "ICE": "remove", "flags": []any{"trust-address"},
		"replace": []any{"origin", "session-connection"}, "call-id": callID,
		"received-from": []any{"IP4", "127.0.0.1"}, "from-tag": fromTag, "command": "offer", "sdp": body,
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func kamailioAnswer(callID, fromTag, toTag, body string, extra map[string]any) map[string]any {
	d := kamailioOffer(callID, fromTag, body, extra)
	d["command"], d["to-tag"] = "answer", toTag
	return d
}

func TestPing(t *testing.T) {
	h := newHarness(t)
	if out := h.send(map[string]any{"command": "ping"}); out["result"] != "pong" || len(out) != 1 {
		t.Fatalf("%v", out)
	}
}

func TestOfferAnswerQueryDelete(t *testing.T) {
	h := newHarness(t)
	off := h.ok(kamailioOffer("call-1@pbx", "tagA", phoneSDP("192.0.2.10:4000"), nil))
	d, err := sdp.Parse([]byte(off["sdp"].(string)))
	if err != nil || d.Media[0].Addr != hushAddr {
		t.Fatalf("offer sdp %v: %v", off["sdp"], err)
	}
	if _, ok := off["warning"]; ok {
		t.Fatalf("warning for Kamailio's default flags: %v", off["warning"])
	}
	ans := h.ok(kamailioAnswer("call-1@pbx", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), nil))
	if d, _ = sdp.Parse([]byte(ans["sdp"].(string))); d.Media[0].Addr != hushAddr {
		t.Fatalf("answer sdp %v", ans["sdp"])
	}
	q := h.ok(map[string]any{"command": "query", "call-id": "call-1@pbx"})
	tags := q["tags"].(map[string]any)
	a, b := tags["tagA"].(map[string]any), tags["tagB"].(map[string]any)
	if a["in dialogue with"] != "tagB" || b["in dialogue with"] != "tagA" || a["label"] != "customer" || b["label"] != "agent" {
		t.Fatalf("query tags %v", tags)
	}
	if q["hush"].(map[string]any)["session id"] == "" {
		t.Fatalf("query %v", q)
	}
	if l := h.ok(map[string]any{"command": "list"}); len(l["calls"].([]any)) != 1 {
		t.Fatalf("list %v", l)
	}
	del := h.ok(map[string]any{"command": "delete", "call-id": "call-1@pbx", "from-tag": "tagA"})
	if _, ok := del["totals"]; !ok || h.reg.Len() != 0 || h.f.Open() != 0 {
		t.Fatalf("delete %v, %d sessions", del, h.reg.Len())
	}
	// A second delete (Kamailio deletes on BYE and again on its 200) is not an error.
	if again := h.ok(map[string]any{"command": "delete", "call-id": "call-1@pbx"}); again["warning"] == nil {
		t.Fatalf("%v", again)
	}
	if out := h.send(map[string]any{"command": "delete", "call-id": "call-1@pbx", "flags": []any{"fatal"}}); out["result"] != "error" {
		t.Fatalf("fatal delete of an unknown call: %v", out)
	}
}

// TestRetransmittedOfferCreatesNoSecondSession: the same cookie from the same client gets
// the cached reply, byte for byte, and hush does not act again.
func TestRetransmittedOfferCreatesNoSecondSession(t *testing.T) {
	h := newHarness(t)
	msg, _ := AppendMessage(nil, "7_1_0", kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), nil))
	first := h.srv.Handle(kamailio, msg)
	for range 3 {
		if again := h.srv.Handle(kamailio, msg); string(again) != string(first) {
			t.Fatalf("retransmission got another reply:\n%q\n%q", first, again)
		}
	}
	if h.reg.Len() != 1 || h.f.Open() != 1 || h.engine.Stats().Offers != 1 {
		t.Fatalf("%d sessions, %d media, %d offers handled", h.reg.Len(), h.f.Open(), h.engine.Stats().Offers)
	}
	if h.m.retransmits != 3 {
		t.Fatalf("%d retransmits counted", h.m.retransmits)
	}
	// The same cookie from another client is another request.
	other := netip.MustParseAddrPort("127.0.0.1:5070")
	if reply := h.srv.Handle(other, msg); reply == nil || h.engine.Stats().Offers != 2 {
		t.Fatal("another client's cookie was taken for a retransmission")
	}
}

func TestRetransmissionOfAPendingRequestIsDropped(t *testing.T) {
	h := newHarness(t)
	key := cacheKey{from: kamailio, cookie: "c-9"}
	h.srv.cache.begin(key, h.f.Now()) // as if a worker were still handling it
	msg, _ := AppendMessage(nil, "c-9", map[string]any{"command": "ping"})
	if reply := h.srv.Handle(kamailio, msg); reply != nil || h.m.get(h.m.dropped, "pending") != 1 {
		t.Fatalf("reply %q, dropped %v", reply, h.m.dropped)
	}
}

func TestReplyCacheExpiresAndIsBounded(t *testing.T) {
	c := newReplyCache(time.Second, 1<<20)
	now := time.Unix(0, 0)
	k := cacheKey{from: kamailio, cookie: "a"}
	c.begin(k, now)
	c.finish(k, []byte("reply"), now)
	if r, seen := c.begin(k, now.Add(500*time.Millisecond)); !seen || string(r) != "reply" {
		t.Fatal("not cached")
	}
	if _, seen := c.begin(k, now.Add(2*time.Second)); seen {
		t.Fatal("not expired")
	}
	small := newReplyCache(time.Hour, 10_000)
	for i := range 1000 {
		k := cacheKey{from: kamailio, cookie: fmt.Sprint(i)}
		small.begin(k, now)
		small.finish(k, make([]byte, 500), now)
	}
	if small.len() > 20 {
		t.Fatalf("%d entries in a 10 kB cache", small.len())
	}
}

func TestFlagsMapOntoThePolicy(t *testing.T) {
	h := newHarness(t)
	off := h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), map[string]any{
		"flags": []any{"trust-address", "block-DTMF"}, "DTMF-security": "tone", "record-call": "on",
		"hush-agent-id": "a-17",
	}))
	_ = off
	info := h.session("c1")
	if info.Policy.CustomerToAgent.Mode != session.MaskTone || info.Policy.AgentToCustomer.Mode != session.MaskOff ||
		info.Recording.State != session.RecordingActive || info.AgentID != "a-17" {
		t.Fatalf("policy %+v recording %v agent %q", info.Policy, info.Recording.State, info.AgentID)
	}
	// block-DTMF in the answer masks the answerer's keys (here the agent's).
	h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), map[string]any{
		"flags": []any{"block-DTMF"}, "DTMF-security": "silence", "hush-capture": "start"}))
	info = h.session("c1")
	if info.Policy.AgentToCustomer.Mode != session.MaskSilence || !info.Capture.On {
		t.Fatalf("after answer: %+v capture %v", info.Policy, info.Capture.On)
	}
}

func (h *harness) session(callID string) session.Info {
	h.t.Helper()
	page, _, _ := h.reg.List(session.ListFilter{CallID: callID, PageSize: 2})
	if len(page) != 1 {
		h.t.Fatalf("%d sessions for %s", len(page), callID)
	}
	return page[0]
}

func TestCustomerChosenPerCall(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  session.Leg // the offerer's leg
	}{
		{"default: the offerer", nil, session.Customer},
		{"label=agent on the offerer", map[string]any{"label": "agent"}, session.Agent},
		{"to-label=customer", map[string]any{"to-label": "customer"}, session.Agent},
		{"hush-customer=to", map[string]any{"hush-customer": "to"}, session.Agent},
		{"hush-customer=from", map[string]any{"hush-customer": "from"}, session.Customer},
		{"hush-customer=callee", map[string]any{"hush-customer": "callee"}, session.Agent},
		{"hush-customer=caller", map[string]any{"hush-customer": "caller"}, session.Customer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), tc.extra))
			if _, l, ok, _ := h.engine.Party("c1", "tagA", ""); !ok || l != tc.want {
				t.Fatalf("offerer is %v", l)
			}
		})
	}
}

func TestRTPPFlags(t *testing.T) {
	h := newHarness(t)
	h.ok(map[string]any{"command": "offer", "call-id": "c1", "from-tag": "tagA", "sdp": phoneSDP("192.0.2.10:4000"),
		"rtpp_flags": "replace-origin trust-address block-DTMF DTMF-security=silence label=agent ICE=remove rtcp-mux-demux codec=[strip=[G722]]"})
	info := h.session("c1")
	if info.Policy.AgentToCustomer.Mode != session.MaskSilence {
		t.Fatalf("rtpp_flags not applied: %+v", info.Policy)
	}
	r := newRequest(map[string]any{}, kamailio)
	if err := r.mergeRTPPFlags("a b=c d=[e f] g=[h=[i] j=k]"); err != nil {
		t.Fatal(err)
	}
	if !r.flags["a"] || r.keys["b"] != "c" || len(r.keys["d"].([]any)) != 2 || r.keys["g"].(map[string]any)["j"] != "k" {
		t.Fatalf("%v %v", r.flags, r.keys)
	}
}

func TestVerbs(t *testing.T) {
	h := newHarness(t)
	h.ok(kamailioOffer("c1", "tagA", phoneSDP("192.0.2.10:4000"), nil))
	h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), nil))
	id := h.session("c1").ID

	// block DTMF for the whole call, then unblock only the agent's keys.
	h.ok(map[string]any{"command": "block DTMF", "call-id": "c1"})
	p := h.session("c1").Policy
	if p.CustomerToAgent.Mode != session.MaskTone || p.AgentToCustomer.Mode != session.MaskTone {
		t.Fatalf("%+v", p)
	}
	h.ok(map[string]any{"command": "unblock DTMF", "call-id": "c1", "from-tag": "tagB", "flags": []any{"directional"}})
	if p = h.session("c1").Policy; p.CustomerToAgent.Mode != session.MaskTone || p.AgentToCustomer.Mode != session.MaskOff {
		t.Fatalf("%+v", p)
	}
	// Without "directional" a from-tag means the whole call, as in rtpengine.
	h.ok(map[string]any{"command": "unblock DTMF", "call-id": "c1", "from-tag": "tagA"})
	if p = h.session("c1").Policy; p.CustomerToAgent.Mode != session.MaskOff {
		t.Fatalf("%+v", p)
	}
	// By SDP media address.
	h.ok(map[string]any{"command": "block DTMF", "call-id": "c1", "address": "192.0.2.10", "DTMF-security": "silence"})
	if p = h.session("c1").Policy; p.CustomerToAgent.Mode != session.MaskSilence || p.AgentToCustomer.Mode != session.MaskOff {
		t.Fatalf("%+v", p)
	}
	// By label: the answer labelled its sender.
	h.ok(kamailioAnswer("c1", "tagA", "tagB", phoneSDP("192.0.2.20:5000"), map[string]any{"label": "callee"}))
	h.ok(map[string]any{"command": "block DTMF", "call-id": "c1", "label": "callee"})
	if p = h.session("c1").Policy; p.CustomerToAgent.Mode != session.MaskSilence || p.AgentToCustomer.Mode != session.MaskTone {
		t.Fatalf("%+v", p)
	}
	if out := h.send(map[string]any{"command": "block DTMF", "call-id": "c1", "label": "nobody"}); out["result"] != "error" {
		t.Fatalf("unknown label: %v", out)
	}
	h.ok(map[string]any{"command": "unblock DTMF", "call-id": "c1"})

	// Recording: pause, start (resume), stop (a pause that skips).
	h.ok(map[string]any{"command": "pause recording", "call-id": "c1"})
	if !h.recs(id).Paused() || h.session("c1").Recording.Behavior != session.PauseSilence {
		t.Fatal("not paused")
	}
	h.ok(map[string]any{"command": "start recording", "call-id": "c1"})
	if h.recs(id).Paused() {
		t.Fatal("not resumed")
	}
	h.ok(map[string]any{"command": "stop recording", "call-id": "c1"})
	if in := h.session("c1"); in.Recording.State != session.RecordingPaused || in.Recording.Behavior != session.PauseSkip {
		t.Fatalf("%+v", in.Recording)
	}

	// What hush does not do fails clearly, or warns where nothing is lost.
	for _, cmd := range []string{"block media", "silence media", "play DTMF", "play media", "publish"} {
		if out := h.send(map[string]any{"command": cmd, "call-id": "c1"}); out["result"] != "error" ||
			!strings.Contains(out["error-reason"].(string), "not supported") {
			t.Errorf("%s: %v", cmd, out)
		}
	}
	if out := h.ok(map[string]any{"command": "unblock media", "call-id": "c1"}); out["warning"] == nil {
		t.Fatalf("%v", out)
	}
	st := h.ok(map[string]any{"command": "statistics"})["statistics"].(map[string]any)
	if st["currentstatistics"].(map[string]any)["sessionsown"] != int64(1) {
		t.Fatalf("%v", st)
	}
}

// TestBadRequests: each bad request gets an error-reason that says what is wrong, is
// counted under its reason, and leaves no session behind.
func TestBadRequests(t *testing.T) {
	good := phoneSDP("192.0.2.10:4000")
	for _, tc := range []struct {
		name   string
		raw    string // sent as is when set
		d      map[string]any
		reason string
		text   string
	}{
		{"malformed bencode", "k1 d7:command5:off", nil, ReasonBencode, "malformed bencode"},
		{"not a dictionary", "k1 li1ee", nil, ReasonBencode, "not a dictionary"},
		{"no command", "", map[string]any{"call-id": "c1"}, ReasonNoCommand, "no command"},
		{"unknown command", "", map[string]any{"command": "frobnicate"}, ReasonUnknownCommand, "unknown command"},
		{"missing call-id", "", map[string]any{"command": "offer", "from-tag": "a", "sdp": good}, ReasonInvalid, "call-id is required"},
		{"missing from-tag", "", map[string]any{"command": "offer", "call-id": "c1", "sdp": good}, ReasonInvalid, "from-tag is required"},
		{"missing sdp", "", map[string]any{"command": "offer", "call-id": "c1", "from-tag": "a"}, ReasonSDP, "sdp is required"},
		{"sdp that does not parse", "", kamailioOffer("c1", "a", "not sdp", nil), ReasonSDP, "SDP does not parse"},
		{"port 0", "", kamailioOffer("c1", "a", strings.Replace(good, "m=audio 4000", "m=audio 0", 1), nil), ReasonNoAudio, "no audio stream"},
		{"SRTP", "", kamailioOffer("c1", "a", strings.Replace(good, "RTP/AVP", "RTP/SAVP", 1), nil), ReasonUnsupported, "SRTP"},
		{"answer for an unknown call", "", kamailioAnswer("c9", "a", "b", good, nil), ReasonUnknownCall, "unknown call"},
		{"call-id of the wrong type", "", map[string]any{"command": "offer", "call-id": []any{}, "from-tag": "a", "sdp": good}, ReasonField, "must be a string"},
		{"media handover", "", kamailioOffer("c1", "a", good, map[string]any{"flags": []any{"media-handover"}}), ReasonUnsafe, "media-handover"},
		{"ICE force-relay", "", kamailioOffer("c1", "a", good, map[string]any{"ICE": "force-relay"}), ReasonUnsafe, "bypass hush"},
		{"DTMF replaced by DTMF", "", kamailioOffer("c1", "a", good, map[string]any{"flags": []any{"block-DTMF"}, "DTMF-security": "random"}), ReasonUnsafe, "digit with a digit"},
		{"WebRTC flag", "", kamailioOffer("c1", "a", good, map[string]any{"flags": []any{"WebRTC"}}), ReasonUnsupported, "WebRTC"},
		{"SRTP profile", "", kamailioOffer("c1", "a", good, map[string]any{"transport-protocol": "RTP/SAVP"}), ReasonUnsupported, "transport-protocol"},
		{"other address family", "", kamailioOffer("c1", "a", good, map[string]any{"address-family": "IP6"}), ReasonUnsupported, "address-family"},
		{"drop traffic", "", kamailioOffer("c1", "a", good, map[string]any{"drop-traffic": "start"}), ReasonUnsupported, "drop-traffic"},
		{"bad rtpp_flags", "", map[string]any{"command": "offer", "call-id": "c1", "from-tag": "a", "sdp": good, "rtpp_flags": "a=[b"}, ReasonField, "unclosed"},
		{"bad hush key", "", kamailioOffer("c1", "a", good, map[string]any{"hush-mask-to-agent": "loud"}), ReasonField, "hush mask to agent"},
		{"block DTMF of an unknown call", "", map[string]any{"command": "block DTMF", "call-id": "c9"}, ReasonUnknownCall, "unknown call"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var out map[string]any
			if tc.raw != "" {
				reply := h.srv.Handle(kamailio, []byte(tc.raw))
				_, out, _ = ParseMessage(reply)
			} else {
				out = h.send(tc.d)
			}
			if out["result"] != "error" || !strings.Contains(out["error-reason"].(string), tc.text) || len(out) != 2 {
				t.Fatalf("reply %v, want an error-reason with %q", out, tc.text)
			}
			if h.m.get(h.m.errors, tc.reason) != 1 {
				t.Fatalf("reasons counted %v, want %s", h.m.errors, tc.reason)
			}
			if h.reg.Len() != 0 || h.f.Open() != 0 || h.engine.Stats().Calls != 0 {
				t.Fatalf("left behind: %d sessions, %d media, %d calls", h.reg.Len(), h.f.Open(), h.engine.Stats().Calls)
			}
		})
	}
}

func TestUnknownAndUnimplementedFlagsWarn(t *testing.T) {
	h := newHarness(t)
	off := h.ok(kamailioOffer("c1", "a", phoneSDP("192.0.2.10:4000"), map[string]any{
		"flags": []any{"trust-address", "frobnicate", "loop-protect"}, "TOS": int64(184), "x-custom": "1",
	}))
	w, _ := off["warning"].(string)
	for _, want := range []string{`flag "frobnicate" ignored`, `flag "loop-protect" ignored: not implemented`, `key "tos" ignored`, `key "x custom" ignored`} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
}

func TestLoadLimit(t *testing.T) {
	h := newHarness(t)
	h.f.Limit(0)
	h.f.Limit(1)
	h.ok(kamailioOffer("c1", "a", phoneSDP("192.0.2.10:4000"), nil))
	out := h.send(kamailioOffer("c2", "a", phoneSDP("192.0.2.11:4000"), nil))
	if out["result"] != "load limit" {
		t.Fatalf("%v", out)
	}
	d := kamailioOffer("c3", "a", phoneSDP("192.0.2.12:4000"), nil)
	delete(d, "supports")
	if out = h.send(d); out["result"] != "error" || h.m.get(h.m.errors, ReasonCapacity) != 1 {
		t.Fatalf("%v %v", out, h.m.errors)
	}
}

func TestAllowListAndRateLimit(t *testing.T) {
	clock := time.Unix(0, 0)
	h := newHarness(t, func(c *Config) {
		c.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
		c.Limiter = auth.NewRateLimiter(10, 5, auth.WithClock(func() time.Time { return clock }))
	})
	ping := map[string]any{"command": "ping"}
	if out := h.sendCookie("x", netip.MustParseAddrPort("198.51.100.1:5060"), ping); out != nil {
		t.Fatalf("foreign source answered: %v", out)
	}
	if h.m.get(h.m.dropped, "not_allowed") != 1 {
		t.Fatalf("%v", h.m.dropped)
	}
	if out := h.sendCookie("y", netip.MustParseAddrPort("[::ffff:127.0.0.2]:5060"), ping); out == nil {
		t.Fatal("v4-mapped loopback refused")
	}
	// A flood from one source: the burst passes, the rest is dropped and counted, another
	// source is not affected, and the bucket refills with time.
	answered := 0
	for i := range 50 {
		if h.sendCookie(fmt.Sprint("f", i), kamailio, ping) != nil {
			answered++
		}
	}
	if answered != 5 || h.m.get(h.m.dropped, "rate_limited") != 45 { // the burst
		t.Fatalf("answered %d, dropped %v", answered, h.m.dropped)
	}
	if h.sendCookie("z", netip.MustParseAddrPort("127.0.0.3:5060"), ping) == nil {
		t.Fatal("another source limited")
	}
	clock = clock.Add(time.Second)
	if h.sendCookie("later", kamailio, ping) == nil {
		t.Fatal("bucket did not refill")
	}
}

func FuzzHandle(f *testing.F) {
	for _, d := range []map[string]any{
		{"command": "ping"},
		kamailioOffer("c1", "a", phoneSDP("192.0.2.10:4000"), nil),
		kamailioAnswer("c1", "a", "b", phoneSDP("192.0.2.20:5000"), nil),
		{"command": "delete", "call-id": "c1"},
		{"command": "query", "call-id": "c1"},
		{"command": "block DTMF", "call-id": "c1", "DTMF-security": "tone"},
		{"command": "offer", "call-id": "c1", "from-tag": "a", "sdp": phoneSDP("192.0.2.10:4000"), "rtpp_flags": "a=[b c] d"},
	} {
		msg, _ := AppendMessage(nil, "1", d)
		f.Add(msg)
	}
	h := newHarness(&testing.T{})
	f.Fuzz(func(t *testing.T, b []byte) {
		reply := h.srv.Handle(kamailio, b)
		if reply == nil {
			return
		}
		_, out, err := ParseMessage(reply)
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if r := out["result"]; r != "ok" && r != "pong" && r != "error" && r != "load limit" {
			t.Fatalf("result %v", r)
		}
		if out["result"] == "error" && len(out) != 2 {
			t.Fatalf("error reply with other keys: %v", out)
		}
	})
}
