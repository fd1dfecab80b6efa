package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/ng"
	"github.com/hushmedia/hush/internal/sdp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// ngClient speaks the ng protocol to hushd over loopback UDP, as Kamailio does.
type ngClient struct {
	t    *testing.T
	conn *net.UDPConn
	n    int
}

func (d *daemon) ng() *ngClient {
	d.t.Helper()
	if d.ready.NG == "" {
		d.t.Fatal("hushd serves no ng listener")
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(d.ready.NG)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	return &ngClient{t: d.t, conn: c}
}

// raw sends one datagram and returns the reply datagram.
func (c *ngClient) raw(msg []byte) []byte {
	c.t.Helper()
	if _, err := c.conn.Write(msg); err != nil {
		c.t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	n, err := c.conn.Read(buf)
	if err != nil {
		c.t.Fatalf("no ng reply: %v", err)
	}
	return buf[:n]
}

func (c *ngClient) call(d map[string]any) map[string]any {
	c.t.Helper()
	c.n++
	ck := fmt.Sprintf("t_%d", c.n)
	msg, err := ng.AppendMessage(nil, ck, d)
	if err != nil {
		c.t.Fatal(err)
	}
	got, out, err := ng.ParseMessage(c.raw(msg))
	if err != nil || got != ck {
		c.t.Fatalf("reply: cookie %q, %v", got, err)
	}
	return out
}

// sdpFor is a phone's offer or answer: PCMA and telephone-event from a UDP endpoint.
func sdpFor(ap netip.AddrPort) string {
	return fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio %[2]d RTP/AVP 8 101\r\n"+
		"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		ap.Addr(), ap.Port())
}

// hushIn is where a rewritten SDP tells its recipient to send.
func hushIn(t *testing.T, reply map[string]any) netip.AddrPort {
	t.Helper()
	if reply["result"] != "ok" {
		t.Fatalf("ng reply %v", reply)
	}
	d, err := sdp.Parse([]byte(reply["sdp"].(string)))
	if err != nil {
		t.Fatalf("rewritten SDP: %v", err)
	}
	return d.Media[0].Remote()
}

// TestNGCallThroughHushd: a Kamailio-style offer/answer over ng sets up a session that
// relays both ways, that the gRPC API sees by call id and drives, and that ng deletes.
func TestNGCallThroughHushd(t *testing.T) {
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0")
	c := d.ng()
	if out := c.call(map[string]any{"command": "ping"}); out["result"] != "pong" {
		t.Fatalf("%v", out)
	}
	caller, callee := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	const callID = "a84b4c76e66710@pbx.example"
	offer := map[string]any{"command": "offer", "call-id": callID, "from-tag": "1928301774", "sdp": sdpFor(caller.addr()),
		"flags": []any{"trust-address"}, "replace": []any{"origin", "session-connection"}, "ICE": "remove",
		"received-from": []any{"IP4", "127.0.0.1"}, "supports": []any{"load limit"}}
	msg, _ := ng.AppendMessage(nil, "offer_1", offer)
	first := c.raw(msg)
	// A retransmitted offer gets the same reply and makes no second session.
	if again := c.raw(msg); string(again) != string(first) {
		t.Fatalf("retransmission answered differently")
	}
	_, offerReply, _ := ng.ParseMessage(first)
	calleeIn := hushIn(t, offerReply)
	answerReply := c.call(map[string]any{"command": "answer", "call-id": callID, "from-tag": "1928301774", "to-tag": "a6c85cf",
		"sdp": sdpFor(callee.addr()), "flags": []any{"trust-address"}, "replace": []any{"origin"}})
	callerIn := hushIn(t, answerReply)

	list, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{CallId: callID})
	if err != nil || len(list.GetSessions()) != 1 {
		t.Fatalf("gRPC sees %d sessions (%v)", len(list.GetSessions()), err)
	}
	s := list.GetSessions()[0]
	if s.GetLabels()["sip.from_tag"] != "1928301774" || s.GetCustomer().GetRemoteAddr() != caller.addr().String() ||
		s.GetAgent().GetRemoteAddr() != callee.addr().String() {
		t.Fatalf("session %v", s)
	}

	// Media both ways, through hush: each phone hears the other from hush's address.
	up, down := newStream(1), newStream(2)
	for range 5 {
		pkt := up.next(t)
		caller.send(callerIn.String(), pkt)
		got, from := callee.recv()
		if string(got) != string(pkt) || from != calleeIn {
			t.Fatalf("callee got %d bytes from %v, want from %v", len(got), from, calleeIn)
		}
		pkt = down.next(t)
		callee.send(calleeIn.String(), pkt)
		got, from = caller.recv()
		if string(got) != string(pkt) || from != callerIn {
			t.Fatalf("caller got %d bytes from %v, want from %v", len(got), from, callerIn)
		}
	}

	// An agent desktop drives the same session over gRPC; ng's query sees it.
	if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.GetSessionId()}); err != nil {
		t.Fatal(err)
	}
	q := c.call(map[string]any{"command": "query", "call-id": callID})
	if h := q["hush"].(map[string]any); h["secure capture"] != "on" || h["session id"] != s.GetSessionId() {
		t.Fatalf("query %v", q)
	}

	del := c.call(map[string]any{"command": "delete", "call-id": callID, "from-tag": "1928301774"})
	if del["result"] != "ok" {
		t.Fatalf("%v", del)
	}
	if _, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.GetSessionId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("after delete: %v", err)
	}
	if v := d.metric(`hush_ng_requests_total{command="offer",result="ok"}`); v != 1 {
		t.Fatalf("offers counted %v", v)
	}
	if v := d.metric(`hush_ng_retransmits_total`); v != 1 {
		t.Fatalf("retransmits counted %v", v)
	}
	if v := d.metric(`hush_ng_errors_total{reason="unknown_call"}`); v != 0 {
		t.Fatalf("error reasons not exported at zero: %v", v)
	}
	if v := d.metric(`hush_sessions_created_total`); v != 1 {
		t.Fatalf("sessions created %v", v)
	}
}

// TestNGBadRequestsCounted: an error reply, and its reason counted in /metrics.
func TestNGBadRequestsCounted(t *testing.T) {
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0")
	c := d.ng()
	out := c.call(map[string]any{"command": "answer", "call-id": "nobody", "from-tag": "a", "to-tag": "b", "sdp": sdpFor(netip.MustParseAddrPort("127.0.0.1:4000"))})
	if out["result"] != "error" || !strings.Contains(out["error-reason"].(string), "unknown call") {
		t.Fatalf("%v", out)
	}
	if v := d.metric(`hush_ng_errors_total{reason="unknown_call"}`); v != 1 {
		t.Fatalf("counted %v", v)
	}
	if list, _ := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{}); len(list.GetSessions()) != 0 {
		t.Fatal("a session was left behind")
	}
}

func TestNGOffByDefault(t *testing.T) {
	if d := startDaemon(t); d.ready.NG != "" {
		t.Fatalf("ng listens on %s by default", d.ready.NG)
	}
}

// An ng listener anyone on the network could drive is refused at start, naming the setting.
func TestNGRefusesUnsafeListen(t *testing.T) {
	err := run(context.Background(), []string{"--ng-enabled", "--ng-listen", "0.0.0.0:0", "--audit-file", ""},
		nil, io.Discard, io.Discard, nil)
	if !errors.Is(err, auth.ErrUnsafeListen) || !strings.Contains(err.Error(), "ng.allow_from") {
		t.Fatalf("run = %v", err)
	}
}

// The ng listener's audit records name the proxy as the actor.
func TestNGAudited(t *testing.T) {
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0", "--audit-file", file)
	c := d.ng()
	hushIn(t, c.call(map[string]any{"command": "offer", "call-id": "c1", "from-tag": "a", "sdp": sdpFor(netip.MustParseAddrPort("127.0.0.1:4000"))}))
	c.call(map[string]any{"command": "delete", "call-id": "c1"})
	data, _ := os.ReadFile(file)
	for _, want := range []string{`"actor":"ng:127.0.0.1","role":"platform","action":"session.create"`, `"action":"session.delete"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("audit lacks %s\n%s", want, data)
		}
	}
}

// TestGRPCOfferAnswer: a B2BUA gets the same offer/answer over gRPC, with a policy.
func TestGRPCOfferAnswer(t *testing.T) {
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0")
	caller, callee := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	off, err := d.session.Offer(d.ctx(), &hushv1.OfferRequest{CallId: "b2b-1", FromTag: "x1", Sdp: sdpFor(caller.addr()),
		AgentId: "a-17", Customer: hushv1.CustomerParty_CUSTOMER_PARTY_ANSWERER,
		Policy: &hushv1.Policy{AgentToCustomer: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_TONE}}})
	if err != nil {
		t.Fatal(err)
	}
	s := off.GetSession()
	// The offerer is the agent here: its address is the agent leg's remote.
	if s.GetAgent().GetRemoteAddr() != caller.addr().String() || s.GetAgentId() != "a-17" ||
		s.GetPolicy().GetAgentToCustomer().GetMode() != hushv1.MaskMode_MASK_MODE_TONE {
		t.Fatalf("%v", s)
	}
	ans, err := d.session.Answer(d.ctx(), &hushv1.AnswerRequest{CallId: "b2b-1", FromTag: "x1", ToTag: "y1", Sdp: sdpFor(callee.addr())})
	if err != nil {
		t.Fatal(err)
	}
	callerIn := hushIn(t, map[string]any{"result": "ok", "sdp": ans.GetSdp()})
	calleeIn := hushIn(t, map[string]any{"result": "ok", "sdp": off.GetSdp()})
	pkt := newStream(3).next(t)
	callee.send(calleeIn.String(), pkt)
	if got, from := caller.recv(); len(got) != len(pkt) || from != callerIn {
		t.Fatalf("caller got %d bytes from %v", len(got), from)
	}
	// The ng side sees the same call.
	q := d.ng().call(map[string]any{"command": "query", "call-id": "b2b-1"})
	if q["hush"].(map[string]any)["session id"] != s.GetSessionId() {
		t.Fatalf("%v", q)
	}
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{func() error {
			_, err := d.session.Answer(d.ctx(), &hushv1.AnswerRequest{CallId: "nobody", FromTag: "a", ToTag: "b", Sdp: sdpFor(callee.addr())})
			return err
		}(), codes.NotFound},
		{func() error {
			_, err := d.session.Offer(d.ctx(), &hushv1.OfferRequest{CallId: "c2", FromTag: "a", Sdp: "not sdp"})
			return err
		}(), codes.InvalidArgument},
		{func() error {
			_, err := d.session.Offer(d.ctx(), &hushv1.OfferRequest{CallId: "b2b-1", FromTag: "stranger", Sdp: sdpFor(callee.addr())})
			return err
		}(), codes.FailedPrecondition},
	} {
		if status.Code(tc.err) != tc.code {
			t.Errorf("%v, want %v", tc.err, tc.code)
		}
	}
}
