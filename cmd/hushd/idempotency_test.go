package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// The reported cross-connect, through hushd: a second call created with the first call's
// request_id got the first call's session and media ports, audited as OK. It must be
// refused (INVALID_ARGUMENT naming request_id), change nothing, and be audited as refused.
func TestReusedRequestIDDoesNotCrossConnect(t *testing.T) {
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	d := startDaemon(t, "--audit-file", auditFile)
	first, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "dup-1", RequestId: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "dup-2", RequestId: "r1"})
	if err == nil {
		t.Fatalf("call dup-2 got session %s of call %s (ports %s, %s)", second.GetSessionId(), second.GetCallId(),
			second.GetCustomer().GetLocalAddr(), second.GetAgent().GetLocalAddr())
	}
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "request_id") {
		t.Fatalf("reused request_id: %v; want INVALID_ARGUMENT naming request_id", err)
	}
	list, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{})
	if err != nil || len(list.Sessions) != 1 || list.Sessions[0].CallId != "dup-1" {
		t.Fatalf("sessions after the refusal: %v %v", list.GetSessions(), err)
	}
	// The same request again is answered with the same session.
	again, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "dup-1", RequestId: "r1"})
	if err != nil || again.SessionId != first.SessionId || again.Customer.LocalAddr != first.Customer.LocalAddr {
		t.Fatalf("repeat: %v %v", again, err)
	}

	var refused, ok int
	for _, r := range auditRecords(t, auditFile) {
		if r.Action != audit.ActionSessionCreate || r.RequestID != "r1" {
			continue
		}
		switch {
		case r.Outcome == codes.InvalidArgument.String() && strings.Contains(r.Detail, "refused") &&
			strings.Contains(r.Detail, "call_id=dup-2") && r.SessionID == "":
			refused++
		case r.Outcome == codes.OK.String() && r.SessionID == first.SessionId:
			ok++
		default:
			t.Errorf("unexpected audit record: %+v", r)
		}
	}
	if refused != 1 || ok != 2 {
		t.Fatalf("audit: %d refused, %d OK records for r1; want 1 and 2", refused, ok)
	}
}

// Every mutating session RPC refuses its request_id reused with another body and changes
// nothing; a repeat with the same body answers again.
func TestReusedRequestIDEveryMethod(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, "--recording-enabled=true", "--recording-dir", dir)
	ctx := d.ctx()
	s, err := d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "call-1", RequestId: "c"})
	if err != nil {
		t.Fatal(err)
	}
	id := s.SessionId
	refused := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "request_id was already used") {
			t.Errorf("%s: %v; want INVALID_ARGUMENT for a reused request_id", what, err)
		}
	}
	mustOK := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	upd := func(addr string) error {
		_, err := d.session.UpdateSession(ctx, &hushv1.UpdateSessionRequest{SessionId: id, RequestId: "u",
			Agent: &hushv1.Leg{RemoteAddr: addr}})
		return err
	}
	mustOK("update", upd("127.0.0.1:4000"))
	mustOK("update repeated", upd("127.0.0.1:4000"))
	refused("update with another remote", upd("127.0.0.1:5000"))
	got, _ := d.session.GetSession(ctx, &hushv1.GetSessionRequest{SessionId: id})
	if got.GetAgent().GetRemoteAddr() != "127.0.0.1:4000" {
		t.Fatalf("refused update changed the remote to %q", got.GetAgent().GetRemoteAddr())
	}

	pause := func(b hushv1.PauseBehavior) (*hushv1.Session, error) {
		return d.session.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: id, RequestId: "p", Behavior: b})
	}
	_, err = pause(hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP)
	mustOK("pause", err)
	_, err = pause(hushv1.PauseBehavior_PAUSE_BEHAVIOR_SILENCE)
	refused("pause with another behavior", err)
	resume := func(reason string) error {
		_, err := d.session.ResumeRecording(ctx, &hushv1.ResumeRecordingRequest{SessionId: id, RequestId: "r", Reason: reason})
		return err
	}
	mustOK("resume", resume("done"))
	refused("resume with another reason", resume("other"))

	capture := func(n uint32) (*hushv1.Session, error) {
		return d.session.StartSecureCapture(ctx, &hushv1.StartSecureCaptureRequest{SessionId: id, RequestId: "s", MaxDigits: n})
	}
	_, err = capture(16)
	mustOK("start capture", err)
	_, err = d.session.StopSecureCapture(ctx, &hushv1.StopSecureCaptureRequest{SessionId: id, RequestId: "x"})
	mustOK("stop capture", err)
	// A repeat of the start (same body) changes nothing and answers with the session as
	// it is now: capture off, not the first answer's stale "on".
	again, err := capture(16)
	mustOK("start repeated", err)
	if again.SecureCaptureState != hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF {
		t.Fatalf("repeated start answered capture %v; it is off", again.SecureCaptureState)
	}
	_, err = capture(4)
	refused("start capture with another max_digits", err)

	// Delete's only fields are the session and the request id, both in the key; a repeat
	// after the end answers with the ended session.
	for range 2 {
		del, err := d.session.DeleteSession(ctx, &hushv1.DeleteSessionRequest{SessionId: id, RequestId: "d"})
		mustOK("delete", err)
		if del.State != hushv1.SessionState_SESSION_STATE_ENDED {
			t.Fatalf("delete answered %v", del.State)
		}
	}
	// The create, repeated after the end, answers ENDED: never live-looking ports that may
	// belong to another call by now.
	again, err = d.session.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "call-1", RequestId: "c"})
	if err != nil || again.SessionId != id || again.State != hushv1.SessionState_SESSION_STATE_ENDED {
		t.Fatalf("create repeated after delete: %v %v", again, err)
	}
}

// Keys belong to the authenticated caller: two platforms that both use request_id r1 get
// their own sessions, and neither sees the other's.
func TestRequestIDScopedToCaller(t *testing.T) {
	dir := t.TempDir()
	tokens := map[string]string{"token-sbc-1-0123456789": "sbc-1", "token-sbc-2-0123456789": "sbc-2"}
	var tf bytes.Buffer
	for tok, subj := range tokens {
		tf.WriteString(`{"sha256":"` + auth.HashToken(tok) + `","subject":"` + subj + `","role":"platform"}` + "\n")
	}
	tokenFile := filepath.Join(dir, "tokens.jsonl")
	if err := os.WriteFile(tokenFile, tf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--auth-mode", "token", "--auth-token-file", tokenFile)
	cc, err := grpc.NewClient(d.ready.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := hushv1.NewSessionServiceClient(cc)
	create := func(tok, call string) (*hushv1.Session, error) {
		ctx := metadata.AppendToOutgoingContext(d.ctx(), "authorization", "Bearer "+tok)
		return c.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: call, RequestId: "r1"})
	}
	a, err := create("token-sbc-1-0123456789", "call-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := create("token-sbc-2-0123456789", "call-b")
	if err != nil || b.SessionId == a.SessionId || b.CallId != "call-b" {
		t.Fatalf("second platform's r1: %v %v", b, err)
	}
	if _, err := create("token-sbc-1-0123456789", "call-c"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("first platform reusing r1 for another call: %v", err)
	}
}

// Drain is repeatable, but not with another deadline: that would be silently ignored.
func TestDrainRepeat(t *testing.T) {
	d := startDaemon(t)
	if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "c"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		resp, err := d.admin.Drain(d.ctx(), &hushv1.DrainRequest{})
		if err != nil || resp.ActiveSessions != 1 {
			t.Fatalf("drain: %v %v", resp, err)
		}
	}
	_, err := d.admin.Drain(d.ctx(), &hushv1.DrainRequest{Deadline: durationpb.New(time.Minute)})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("drain with another deadline: %v", err)
	}
}

// Offer, Answer and PlayDtmf carry a request_id too: each refuses it reused with another
// body (INVALID_ARGUMENT, nothing changed: no session for another call, no remote
// address moved, no key played) and answers an identical repeat with the same answer
// (the same SDP and ports, no second key).
func TestReusedRequestIDOfferAnswerPlay(t *testing.T) {
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0")
	ctx := d.ctx()
	refused := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "request_id was already used") {
			t.Errorf("%s: %v; want INVALID_ARGUMENT for a reused request_id", what, err)
		}
	}
	caller, callee := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	other := netip.MustParseAddrPort("127.0.0.1:4999")

	offer := func(callID string, from netip.AddrPort) (*hushv1.SdpResponse, error) {
		return d.session.Offer(ctx, &hushv1.OfferRequest{CallId: callID, FromTag: "x1", Sdp: sdpFor(from), RequestId: "o1",
			AgentId: "a-17", Customer: hushv1.CustomerParty_CUSTOMER_PARTY_ANSWERER})
	}
	off, err := offer("oa-1", caller.addr())
	if err != nil {
		t.Fatal(err)
	}
	id := off.GetSession().GetSessionId()
	again, err := offer("oa-1", caller.addr())
	if err != nil || again.GetSdp() != off.GetSdp() || again.GetSession().GetSessionId() != id {
		t.Fatalf("offer repeated: %v %v; want the same SDP and session", again, err)
	}
	_, err = offer("oa-2", caller.addr())
	refused("offer of another call", err)
	_, err = offer("oa-1", other)
	refused("offer with another SDP", err)
	list, err := d.session.ListSessions(ctx, &hushv1.ListSessionsRequest{})
	if err != nil || len(list.GetSessions()) != 1 || list.GetSessions()[0].GetCallId() != "oa-1" {
		t.Fatalf("sessions after the refused offers: %v %v", list.GetSessions(), err)
	}
	if got := list.GetSessions()[0].GetAgent().GetRemoteAddr(); got != caller.addr().String() {
		t.Fatalf("a refused offer moved the agent's remote to %s", got)
	}

	answer := func(from netip.AddrPort) (*hushv1.SdpResponse, error) {
		return d.session.Answer(ctx, &hushv1.AnswerRequest{CallId: "oa-1", FromTag: "x1", ToTag: "y1", Sdp: sdpFor(from), RequestId: "a1"})
	}
	ans, err := answer(callee.addr())
	if err != nil {
		t.Fatal(err)
	}
	if again, err := answer(callee.addr()); err != nil || again.GetSdp() != ans.GetSdp() {
		t.Fatalf("answer repeated: %v %v; want the same SDP", again, err)
	}
	_, err = answer(other)
	refused("answer with another SDP", err)
	got, err := d.session.GetSession(ctx, &hushv1.GetSessionRequest{SessionId: id})
	if err != nil || got.GetCustomer().GetRemoteAddr() != callee.addr().String() {
		t.Fatalf("after the refused answer the customer's remote is %q (%v), want %s", got.GetCustomer().GetRemoteAddr(), err, callee.addr())
	}

	// A key toward the customer rides the agent's packets: start them.
	callerIn := hushIn(t, map[string]any{"result": "ok", "sdp": ans.GetSdp()})
	calleeIn := hushIn(t, map[string]any{"result": "ok", "sdp": off.GetSdp()})
	st := newStream(5)
	caller.send(callerIn.String(), st.next(t))
	if _, from := callee.recv(); from != calleeIn {
		t.Fatalf("callee heard hush from %v, want %v", from, calleeIn)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := d.session.WatchSession(wctx, &hushv1.WatchSessionRequest{SessionId: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // the snapshot
		t.Fatal(err)
	}
	play := func(reqID, key string) (*hushv1.Session, error) {
		return d.session.PlayDtmf(ctx, &hushv1.PlayDtmfRequest{SessionId: id, RequestId: reqID, Toward: hushv1.LegName_LEG_NAME_CUSTOMER, Key: key})
	}
	first, err := play("k1", "5")
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := play("k1", "5"); err != nil || rep.GetSessionId() != first.GetSessionId() {
		t.Fatalf("play repeated: %v %v", rep, err)
	}
	_, err = play("k1", "7")
	refused("play of another key", err)
	if _, err := play("k2", "7"); err != nil {
		t.Fatal(err)
	}
	// Events are in order: the keys played before k2's are k1's alone.
	var played []string
	for range 100 {
		ev, err := watch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetDtmfPlayed() == nil {
			continue
		}
		played = append(played, ev.GetRequestId())
		if ev.GetRequestId() == "k2" {
			break
		}
	}
	if strings.Join(played, ",") != "k1,k2" {
		t.Fatalf("keys played by request: %v, want k1 once, then k2", played)
	}
}
