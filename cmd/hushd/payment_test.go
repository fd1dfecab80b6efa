package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// auditRecords reads an audit log that must verify.
func auditRecords(t *testing.T, path string) []audit.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := audit.Verify(f); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, audit.MaxLine+1)
	for sc.Scan() {
		r, err := audit.ParseRecord(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestCollectDigitsAttemptsAudited: every CollectDigits attempt is an audit record with its
// outcome, also the refused ones: a bad session id, an unknown session, a second collector
// while one is attached. The one that ran records how many digits it delivered.
func TestCollectDigitsAttemptsAudited(t *testing.T) {
	t.Parallel()
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	d := startDaemon(t, "--audit-file", auditFile)
	pay := hushv1.NewPaymentServiceClient(d.conn)
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()

	refused := func(id, req string, want codes.Code) {
		t.Helper()
		c := collect(ctx, t, pay, id, req)
		if m := c.next(t); m != nil {
			t.Fatalf("%s: got a message", req)
		}
		if err := <-c.end; status.Code(err) != want {
			t.Fatalf("%s: %v, want %v", req, err, want)
		}
	}
	refused("no such session", "r-invalid", codes.InvalidArgument)
	refused("s-does-not-exist", "r-unknown", codes.NotFound)

	cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	leg := func(e *endpoint) *hushv1.Leg {
		return &hushv1.Leg{RemoteAddr: e.addr().String(), TelephoneEventPt: 101}
	}
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "audit-collect", Customer: leg(cust), Agent: leg(agent)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap"}); err != nil {
		t.Fatal(err)
	}
	first := collect(ctx, t, pay, s.SessionId, "r-first")
	// One key as RFC 4733 events: once it is delivered, the first collector is attached.
	st := newPhoneStream(audioPCMU, 0xa0d1, 1, 0)
	for _, tk := range rfc4733Press('4', 480) {
		for _, te := range tk {
			st.event(0, te, false)
		}
	}
	for _, p := range st.all() {
		cust.send(s.Customer.LocalAddr, p)
	}
	if got, _ := first.digitsUntil(t, 1); got != "4" {
		t.Fatalf("first collector got %d digits, want 1", len(got))
	}
	refused(s.SessionId, "r-second", codes.FailedPrecondition)
	if _, err := d.session.StopSecureCapture(d.ctx(), &hushv1.StopSecureCaptureRequest{SessionId: s.SessionId, RequestId: "stop"}); err != nil {
		t.Fatal(err)
	}
	if more, done := first.digitsUntil(t, 1); more != "" || !done {
		t.Fatal("first collector: not complete after stop")
	}
	if err := <-first.end; !errors.Is(err, io.EOF) {
		t.Fatalf("first collector ended with %v", err)
	}

	outcomes := map[string]string{}
	for _, r := range auditRecords(t, auditFile) {
		if r.Action == audit.ActionDigitsCollect {
			outcomes[r.RequestID] = r.Outcome
			if r.RequestID == "r-unknown" && r.SessionID != "s-does-not-exist" {
				t.Errorf("unknown session recorded as %q", r.SessionID)
			}
			if r.RequestID == "r-first" && (r.SessionID != s.SessionId || r.Detail != "1 digits delivered") {
				t.Errorf("collect record %+v", r)
			}
		}
	}
	for req, want := range map[string]string{"r-invalid": "InvalidArgument", "r-unknown": "NotFound",
		"r-second": "FailedPrecondition", "r-first": "OK"} {
		if outcomes[req] != want {
			t.Errorf("audit: CollectDigits %s recorded as %q, want %q", req, outcomes[req], want)
		}
	}
}
