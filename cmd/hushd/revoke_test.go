package main

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/auth/authtest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// secureDaemon is an in-process hushd with TLS, its CA and its files.
type secureDaemon struct {
	t         *testing.T
	ready     ready
	log       *syncBuffer
	ca        *authtest.CA
	dir       string
	auditFile string
}

// startSecure runs hushd with a server certificate from a test CA; args add the rest
// (auth mode, tokens, client CA...).
func startSecure(t *testing.T, ca *authtest.CA, dir string, args ...string) *secureDaemon {
	t.Helper()
	srv := ca.Issue(t, authtest.LeafOpts{CN: "hushd", Server: true})
	lo, hi := mediaRange(t, 20)
	d := &secureDaemon{t: t, log: &syncBuffer{}, ca: ca, dir: dir, auditFile: filepath.Join(dir, "audit.jsonl")}
	base := []string{"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", itoa(lo), "--media-port-max", itoa(hi),
		"--recording-enabled=false", "--session-drain-timeout", "0s", "--media-rate-limit-pps", "0",
		"--tls-cert-file", authtest.WriteFile(t, dir, "tls.crt", srv.CertPEM),
		"--tls-key-file", authtest.WriteFile(t, dir, "tls.key", srv.KeyPEM),
		"--audit-file", d.auditFile}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	readyc := make(chan ready, 1)
	go func() {
		done <- run(ctx, append(base, args...), nil, io.Discard, d.log, readyc)
	}()
	select {
	case d.ready = <-readyc:
	case err := <-done:
		t.Fatalf("hushd exited at start: %v\n%s", err, d.log)
	case <-time.After(wait):
		t.Fatalf("hushd not ready\n%s", d.log)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * wait):
			t.Errorf("hushd did not stop\n%s", d.log)
		}
	})
	return d
}

// dial connects over TLS, presenting certs if any.
func (d *secureDaemon) dial(certs ...tls.Certificate) *grpc.ClientConn {
	d.t.Helper()
	cc, err := grpc.NewClient(d.ready.GRPC, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: d.ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12})))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { cc.Close() })
	return cc
}

// reload sends SIGHUP, as an operator does after changing credential files. Every
// in-process hushd of the test binary reloads; this one is running, so the signal is
// caught. What the reload ends is waited for by the caller.
func (d *secureDaemon) reload() {
	d.t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		d.t.Fatal(err)
	}
}

// revocations returns the subjects and methods of the auth.revoked audit records.
func (d *secureDaemon) revocations() map[string]bool {
	out := map[string]bool{}
	for _, r := range auditRecords(d.t, d.auditFile) {
		if r.Action == audit.ActionAuthRevoked && r.Outcome == "Unauthenticated" {
			method, _, _ := strings.Cut(r.Detail, ":")
			out[r.Actor+" "+method] = true
		}
	}
	return out
}

// captureCall is a session with secure capture on, an agent watching it and a payment
// client collecting it, through the given connections and contexts.
type captureCall struct {
	s        *hushv1.Session
	cust     *endpoint
	st       *phoneStream
	keyed    int
	watch    *watcher
	col      *collector
	platform func() context.Context
}

func openCaptureCall(t *testing.T, platformCC, agentCC, paymentCC *grpc.ClientConn, platform, agent, payment func() context.Context) *captureCall {
	t.Helper()
	c := &captureCall{cust: newEndpoint(t, "udp4", "127.0.0.1:0"), st: newPhoneStream(audioPCMU, 0x5e7, 1, 0), platform: platform}
	agentEP := newEndpoint(t, "udp4", "127.0.0.1:0")
	leg := func(e *endpoint) *hushv1.Leg {
		return &hushv1.Leg{RemoteAddr: e.addr().String(), TelephoneEventPt: 101}
	}
	sessions := hushv1.NewSessionServiceClient(platformCC)
	var err error
	c.s, err = sessions.CreateSession(platform(), &hushv1.CreateSessionRequest{CallId: "revoke", AgentId: "a-1", Customer: leg(c.cust), Agent: leg(agentEP)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.StartSecureCapture(platform(), &hushv1.StartSecureCaptureRequest{SessionId: c.s.SessionId, RequestId: "cap"}); err != nil {
		t.Fatal(err)
	}
	// The agent's watch, read as the harness's watcher reads it.
	wst, err := hushv1.NewSessionServiceClient(agentCC).WatchSession(agent(), &hushv1.WatchSessionRequest{SessionId: c.s.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	c.watch = &watcher{t: t, ch: make(chan *hushv1.SessionEvent, 1024), end: make(chan error, 1)}
	go func() {
		for {
			ev, err := wst.Recv()
			if err != nil {
				c.watch.end <- err
				close(c.watch.ch)
				return
			}
			c.watch.ch <- ev
		}
	}()
	c.watch.first = c.watch.next()
	c.col = collect(payment(), t, hushv1.NewPaymentServiceClient(paymentCC), c.s.SessionId, "collect")
	// One key: once the collector has it, the collector is attached.
	c.key(t)
	if got, _ := c.col.digitsUntil(t, 1); len(got) != 1 {
		t.Fatalf("collector got %d digits, want 1", len(got))
	}
	return c
}

// key has the customer key the next digit of testCard as RFC 4733 events.
func (c *captureCall) key(t *testing.T) {
	t.Helper()
	at := c.keyed * 2 * 480
	for _, tk := range rfc4733Press(testCard[c.keyed], 480) {
		for _, te := range tk {
			c.st.event(at, te, false)
		}
	}
	for _, p := range c.st.all() {
		c.cust.send(c.s.Customer.LocalAddr, p)
	}
	c.st.ticks = nil
	c.keyed++
}

// revoked checks that the agent's watch and the payment client's stream ended with
// UNAUTHENTICATED, and that the card keyed after that reached neither.
func (c *captureCall) revoked(t *testing.T) {
	t.Helper()
	for name, end := range map[string]chan error{"agent's WatchSession": c.watch.end, "payment client's CollectDigits": c.col.end} {
		select {
		case err := <-end:
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s ended with %v, want UNAUTHENTICATED", name, err)
			}
		case <-time.After(wait):
			t.Fatalf("%s still open after its credential was revoked", name)
		}
	}
	for c.keyed < len(testCard) {
		c.key(t)
	}
	for m := range c.col.batches {
		t.Errorf("the payment client got %d more digits after revocation", len(m.Digits))
	}
}

// TestRevokedTokensEndOpenStreams: the agent's WatchSession and the payment client's
// CollectDigits, opened with tokens, end with UNAUTHENTICATED once their tokens are
// removed from the token file and hushd gets SIGHUP; the rest of the card keyed after
// that reaches neither, both endings are audited, and the removed tokens open nothing new.
func TestRevokedTokensEndOpenStreams(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens.jsonl")
	const platformTok, agentTok, paymentTok = "platform-token-rev-0123456789", "agent-token-rev-0123456789", "payment-token-rev-0123456789"
	all := map[string]auth.TokenEntry{
		platformTok: {Subject: "sbc-1", Role: auth.RolePlatform},
		agentTok:    {Subject: "alice", Role: auth.RoleAgent, AgentID: "a-1"},
		paymentTok:  {Subject: "psp", Role: auth.RolePayment},
	}
	writeTokens(t, tokenFile, all)
	d := startSecure(t, authtest.NewCA(t, "hush test CA"), dir, "--auth-mode", "token", "--auth-token-file", tokenFile)
	cc := d.dial()
	streamCtx := func(tok string) func() context.Context {
		return func() context.Context {
			ctx, cancel := context.WithCancel(bearer(t, tok))
			t.Cleanup(cancel)
			return ctx
		}
	}
	c := openCaptureCall(t, cc, cc, cc, streamCtx(platformTok), streamCtx(agentTok), streamCtx(paymentTok))

	writeTokens(t, tokenFile, map[string]auth.TokenEntry{platformTok: all[platformTok]})
	d.reload()
	c.revoked(t)

	if _, err := hushv1.NewSessionServiceClient(cc).GetSession(bearer(t, platformTok), &hushv1.GetSessionRequest{SessionId: c.s.SessionId}); err != nil {
		t.Errorf("the platform's token still in the file: %v", err)
	}
	again := collect(streamCtx(paymentTok)(), t, hushv1.NewPaymentServiceClient(cc), c.s.SessionId, "again")
	if err := <-again.end; status.Code(err) != codes.Unauthenticated {
		t.Errorf("a removed token opened a stream: %v", err)
	}
	got := d.revocations()
	for _, want := range []string{"alice " + hushv1.SessionService_WatchSession_FullMethodName, "psp " + hushv1.PaymentService_CollectDigits_FullMethodName} {
		if !got[want] {
			t.Errorf("audit log has no auth.revoked record for %s: %v", want, got)
		}
	}
}

// TestRevokedCertificatesEndOpenStreams: the same with client certificates (mTLS) and a
// CRL: once a CRL revoking the agent's and the payment client's certificates is in
// tls.crl_file and hushd gets SIGHUP, their open streams end with UNAUTHENTICATED, audited;
// a new connection with a revoked certificate fails its handshake, and a call on a
// connection made before is refused; the platform's certificate still works.
func TestRevokedCertificatesEndOpenStreams(t *testing.T) {
	dir := t.TempDir()
	ca := authtest.NewCA(t, "hush clients CA")
	platform := ca.Issue(t, authtest.LeafOpts{CN: "sbc-1", OUs: []string{"platform"}})
	agent := ca.Issue(t, authtest.LeafOpts{CN: "a-1", OUs: []string{"agent"}})
	payment := ca.Issue(t, authtest.LeafOpts{CN: "psp", OUs: []string{"payment"}})
	crlFile := authtest.WriteFile(t, dir, "clients.crl", ca.CRL(t, time.Time{}))
	d := startSecure(t, ca, dir, "--auth-mode", "mtls",
		"--tls-client-ca-file", authtest.WriteFile(t, dir, "clients-ca.crt", ca.PEM), "--tls-crl-file", crlFile)
	platformCC, agentCC, paymentCC := d.dial(platform.Pair), d.dial(agent.Pair), d.dial(payment.Pair)
	ctx := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		return ctx
	}
	c := openCaptureCall(t, platformCC, agentCC, paymentCC, ctx, ctx, ctx)

	authtest.WriteFile(t, dir, "clients.crl", ca.CRL(t, time.Time{}, agent.Cert, payment.Cert))
	d.reload()
	c.revoked(t)

	wctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := hushv1.NewSessionServiceClient(agentCC).PauseRecording(wctx, &hushv1.PauseRecordingRequest{SessionId: c.s.SessionId}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a call on the revoked agent's open connection: %v, want UNAUTHENTICATED", err)
	}
	if _, err := hushv1.NewSessionServiceClient(d.dial(payment.Pair)).GetSession(wctx, &hushv1.GetSessionRequest{SessionId: c.s.SessionId}); status.Code(err) != codes.Unavailable {
		t.Errorf("a new connection with a revoked certificate: %v, want the handshake refused", err)
	}
	if _, err := hushv1.NewSessionServiceClient(platformCC).GetSession(wctx, &hushv1.GetSessionRequest{SessionId: c.s.SessionId}); err != nil {
		t.Errorf("the platform's certificate, not revoked: %v", err)
	}
	got := d.revocations()
	for _, want := range []string{"a-1 " + hushv1.SessionService_WatchSession_FullMethodName, "psp " + hushv1.PaymentService_CollectDigits_FullMethodName} {
		if !got[want] {
			t.Errorf("audit log has no auth.revoked record for %s: %v", want, got)
		}
	}
}
