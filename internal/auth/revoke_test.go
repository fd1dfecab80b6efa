package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// holdSessions and holdPayments send one message on a stream, then hold it open until
// the stream's context ends, as WatchSession and CollectDigits do while nothing happens.
type holdSessions struct {
	hushv1.UnimplementedSessionServiceServer
}

func (holdSessions) WatchSession(r *hushv1.WatchSessionRequest, s grpc.ServerStreamingServer[hushv1.SessionEvent]) error {
	if err := s.Send(&hushv1.SessionEvent{SessionId: r.GetSessionId()}); err != nil {
		return err
	}
	<-s.Context().Done()
	return status.FromContextError(s.Context().Err()).Err()
}

func (holdSessions) PauseRecording(ctx context.Context, r *hushv1.PauseRecordingRequest) (*hushv1.Session, error) {
	return &hushv1.Session{SessionId: r.GetSessionId()}, nil
}

type holdPayments struct {
	hushv1.UnimplementedPaymentServiceServer
}

func (holdPayments) CollectDigits(r *hushv1.CollectDigitsRequest, s grpc.ServerStreamingServer[hushv1.CapturedDigits]) error {
	if err := s.Send(&hushv1.CapturedDigits{SessionId: r.GetSessionId()}); err != nil {
		return err
	}
	<-s.Context().Done()
	return status.FromContextError(s.Context().Err()).Err()
}

// credServer is a gRPC server whose credentials come from files that a test rewrites and
// reloads, as hushd does on SIGHUP.
type credServer struct {
	testServer
	tc        config.TLS
	tokenFile string
	tokens    *TokenStore
	tls       *ServerTLS
	authz     *Authorizer
	mu        sync.Mutex
	revoked   []denial
}

func startCredServer(t *testing.T, mode string, maxStreams int) *credServer {
	t.Helper()
	dir := t.TempDir()
	s := &credServer{testServer: testServer{ca: authtest.NewCA(t, "hush test CA")}}
	srv := s.ca.Issue(t, authtest.LeafOpts{CN: "hushd", Server: true})
	s.tc = config.TLS{
		CertFile: authtest.WriteFile(t, dir, "tls.crt", srv.CertPEM),
		KeyFile:  authtest.WriteFile(t, dir, "tls.key", srv.KeyPEM),
	}
	if mode == config.AuthMTLS || mode == config.AuthTokenOrMTLS {
		s.tc.ClientCAFile = authtest.WriteFile(t, dir, "ca.crt", s.ca.PEM)
		s.tc.CRLFile = authtest.WriteFile(t, dir, "crl.pem", nil)
	}
	s.tokenFile = authtest.WriteFile(t, dir, "tokens.jsonl", nil)
	s.writeTokens(t, "platform", "agent17", "payment")
	var err error
	if s.tokens, err = LoadTokens(s.tokenFile); err != nil {
		t.Fatal(err)
	}
	if s.tls, err = NewServerTLS(s.tc, mode); err != nil {
		t.Fatal(err)
	}
	s.authz, err = NewAuthorizer(Options{Mode: mode, Tokens: s.tokens, Certs: s.tls, Owner: testOwners,
		MaxStreamsPerClient: maxStreams,
		OnDenied: func(_ context.Context, m string, id Identity, c codes.Code, reason string) {
			s.testServer.mu.Lock()
			s.denials = append(s.denials, denial{m, id, c, reason})
			s.testServer.mu.Unlock()
		},
		OnRevoked: func(_ context.Context, m string, id Identity, c codes.Code, reason string) {
			s.mu.Lock()
			s.revoked = append(s.revoked, denial{m, id, c, reason})
			s.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(s.tls.GRPC())),
		grpc.UnaryInterceptor(s.authz.Unary()), grpc.StreamInterceptor(s.authz.Stream()))
	hushv1.RegisterSessionServiceServer(g, holdSessions{})
	hushv1.RegisterPaymentServiceServer(g, holdPayments{})
	healthpb.RegisterHealthServer(g, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { _ = g.Serve(ln); close(done) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return s
}

// writeTokens writes the token file with the named test tokens.
func (s *credServer) writeTokens(t *testing.T, names ...string) {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		e := testTokens[n]
		b.WriteString(`{"sha256":"` + HashToken(tokenOf(n)) + `","subject":"` + e.Subject + `","role":"` + string(e.Role) + `"`)
		if e.AgentID != "" {
			b.WriteString(`,"agent_id":"` + e.AgentID + `"`)
		}
		b.WriteString("}\n")
	}
	if err := os.WriteFile(s.tokenFile, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *credServer) revocations() []denial {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]denial(nil), s.revoked...)
}

// held is an open stream whose first message arrived (so the server holds it).
type held struct {
	end chan error
}

// holder returns a function that takes an opened stream (as a call returns it), waits
// for its first message and then watches for its end.
func holder(t *testing.T) func(grpc.ClientStream, error) *held {
	return func(st grpc.ClientStream, err error) *held {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		// Empty keeps any message's fields as unknown ones: it reads every stream.
		if err := st.RecvMsg(&emptypb.Empty{}); err != nil {
			t.Fatalf("first message: %v", err)
		}
		h := &held{end: make(chan error, 1)}
		go func() {
			for {
				if err := st.RecvMsg(&emptypb.Empty{}); err != nil {
					h.end <- err
					return
				}
			}
		}()
		return h
	}
}

// ended waits for the stream's end and checks its code.
func (h *held) ended(t *testing.T, want codes.Code) {
	t.Helper()
	select {
	case err := <-h.end:
		if status.Code(err) != want {
			t.Fatalf("stream ended with %v, want %v", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("stream still open, want it ended with %v", want)
	}
}

// open reports that the stream has not ended.
func (h *held) open() bool {
	select {
	case err := <-h.end:
		h.end <- err
		return false
	default:
		return true
	}
}

func streamCtx(t *testing.T, token string) context.Context {
	ctx, cancel := context.WithCancel(callCtx(t, token))
	t.Cleanup(cancel)
	return ctx
}

// Removing tokens from the file and reloading ends the streams they opened, with
// UNAUTHENTICATED, each reported once; streams of tokens still in the file stay open.
func TestRecheckEndsStreamsOfRemovedTokens(t *testing.T) {
	s := startCredServer(t, config.AuthToken, 0)
	hold := holder(t)
	cc := s.dial(t)
	sess, pay := hushv1.NewSessionServiceClient(cc), hushv1.NewPaymentServiceClient(cc)
	watch := hold(sess.WatchSession(streamCtx(t, bearerOf("agent17")), &hushv1.WatchSessionRequest{SessionId: "s-a17"}))
	collect := hold(pay.CollectDigits(streamCtx(t, bearerOf("payment")), &hushv1.CollectDigitsRequest{SessionId: "s-a17"}))
	platform := hold(sess.WatchSession(streamCtx(t, bearerOf("platform")), &hushv1.WatchSessionRequest{SessionId: "s-a18"}))

	if n := s.authz.Recheck(); n != 0 {
		t.Fatalf("Recheck with nothing changed ended %d streams", n)
	}
	s.writeTokens(t, "platform")
	if err := s.tokens.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := s.authz.Recheck(); n != 2 {
		t.Errorf("Recheck ended %d streams, want 2", n)
	}
	watch.ended(t, codes.Unauthenticated)
	collect.ended(t, codes.Unauthenticated)
	if !platform.open() {
		t.Error("a stream of a token still in the file ended")
	}
	got := map[string]bool{}
	for _, r := range s.revocations() {
		got[r.id.Subject+" "+r.method] = r.code == codes.Unauthenticated && strings.Contains(r.reason, "token removed")
	}
	if len(got) != 2 || !got["alice "+hushv1.SessionService_WatchSession_FullMethodName] || !got["psp "+hushv1.PaymentService_CollectDigits_FullMethodName] {
		t.Errorf("OnRevoked heard %+v", s.revocations())
	}
	if n := s.authz.Recheck(); n != 0 {
		t.Errorf("a second Recheck ended %d more", n)
	}
}

// A token whose line now names another identity (role changed) ends its streams too.
func TestRecheckEndsStreamsOfChangedTokens(t *testing.T) {
	s := startCredServer(t, config.AuthToken, 0)
	hold := holder(t)
	watch := hold(hushv1.NewSessionServiceClient(s.dial(t)).WatchSession(streamCtx(t, bearerOf("agent17")), &hushv1.WatchSessionRequest{SessionId: "s-a17"}))
	e := testTokens["agent17"]
	line := `{"sha256":"` + HashToken(tokenOf("agent17")) + `","subject":"` + e.Subject + `","role":"qa"}` + "\n"
	if err := os.WriteFile(s.tokenFile, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.tokens.Reload(); err != nil {
		t.Fatal(err)
	}
	s.authz.Recheck()
	watch.ended(t, codes.Unauthenticated)
}

// A CRL revoking a client certificate, once reloaded: the handshake refuses it, a call on
// a connection made before gets UNAUTHENTICATED, and its open stream ends.
func TestCRLRevokesCertificate(t *testing.T) {
	s := startCredServer(t, config.AuthMTLS, 0)
	hold := holder(t)
	agent := s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"}})
	other := s.ca.Issue(t, authtest.LeafOpts{CN: "a-18", OUs: []string{"agent"}})
	cc, otherCC := s.dial(t, agent.Pair), s.dial(t, other.Pair)
	watch := hold(hushv1.NewSessionServiceClient(cc).WatchSession(streamCtx(t, ""), &hushv1.WatchSessionRequest{SessionId: "s-a17"}))
	otherWatch := hold(hushv1.NewSessionServiceClient(otherCC).WatchSession(streamCtx(t, ""), &hushv1.WatchSessionRequest{SessionId: "s-a18"}))

	authtest.WriteFile(t, "", s.tc.CRLFile, s.ca.CRL(t, time.Time{}, agent.Cert))
	if err := s.tls.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := s.authz.Recheck(); n != 1 {
		t.Errorf("Recheck ended %d streams, want 1", n)
	}
	watch.ended(t, codes.Unauthenticated)
	if !otherWatch.open() {
		t.Error("the stream of a certificate not revoked ended")
	}
	if r := s.revocations(); len(r) != 1 || r[0].id.Subject != "a-17" || !strings.Contains(r[0].reason, "revoked") {
		t.Errorf("OnRevoked heard %+v", r)
	}
	pause := func(cc *grpc.ClientConn, sid string) error {
		_, err := hushv1.NewSessionServiceClient(cc).PauseRecording(callCtx(t, ""), &hushv1.PauseRecordingRequest{SessionId: sid})
		return err
	}
	wantCode(t, pause(cc, "s-a17"), codes.Unauthenticated)
	wantCode(t, pause(s.dial(t, agent.Pair), "s-a17"), codes.Unavailable) // a new handshake
	wantCode(t, pause(otherCC, "s-a18"), codes.OK)
}

// Replacing the client CA ends the streams of certificates the old CA issued.
func TestCAChangeEndsStreams(t *testing.T) {
	s := startCredServer(t, config.AuthMTLS, 0)
	hold := holder(t)
	agent := s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"}})
	watch := hold(hushv1.NewSessionServiceClient(s.dial(t, agent.Pair)).WatchSession(streamCtx(t, ""), &hushv1.WatchSessionRequest{SessionId: "s-a17"}))
	authtest.WriteFile(t, "", s.tc.ClientCAFile, authtest.NewCA(t, "new CA").PEM)
	if err := s.tls.Reload(); err != nil {
		t.Fatal(err)
	}
	s.authz.Recheck()
	watch.ended(t, codes.Unauthenticated)
}

// A stream opened with a certificate ends when the certificate expires, reload or not.
func TestCertificateExpiryEndsStream(t *testing.T) {
	s := startCredServer(t, config.AuthMTLS, 0)
	hold := holder(t)
	// x509 times have a resolution of a second: this one expires within 1 to 2 s.
	agent := s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"}, NotAfter: time.Now().Add(2 * time.Second)})
	watch := hold(hushv1.NewSessionServiceClient(s.dial(t, agent.Pair)).WatchSession(streamCtx(t, ""), &hushv1.WatchSessionRequest{SessionId: "s-a17"}))
	watch.ended(t, codes.Unauthenticated)
	if r := s.revocations(); len(r) != 1 || !strings.Contains(r[0].reason, "expired") {
		t.Errorf("OnRevoked heard %+v", r)
	}
}

// A client identity may hold MaxStreamsPerClient streams; one more is refused with
// RESOURCE_EXHAUSTED (and reported as denied); other clients are not affected; a closed
// stream frees its place. Health watches count per IP address.
func TestStreamCapPerClient(t *testing.T) {
	const max = 3
	s := startCredServer(t, config.AuthToken, max)
	hold := holder(t)
	cc := s.dial(t)
	sess := hushv1.NewSessionServiceClient(cc)
	var cancels []context.CancelFunc
	for range max {
		ctx, cancel := context.WithCancel(callCtx(t, bearerOf("agent17")))
		cancels = append(cancels, cancel)
		hold(sess.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: "s-a17"}))
	}
	st, err := sess.WatchSession(streamCtx(t, bearerOf("agent17")), &hushv1.WatchSessionRequest{SessionId: "s-a17"})
	if err == nil {
		_, err = st.Recv()
	}
	wantCode(t, err, codes.ResourceExhausted)
	if d := s.lastDenial(t); d.code != codes.ResourceExhausted || d.id.Subject != "alice" {
		t.Errorf("OnDenied got %+v", d)
	}
	hold(sess.WatchSession(streamCtx(t, bearerOf("platform")), &hushv1.WatchSessionRequest{SessionId: "s-a17"}))

	// The cancelled stream leaves the table when its handler returns: a new one is
	// admitted after at most a few refusals.
	cancels[0]()
	for i := 0; ; i++ {
		st, err := sess.WatchSession(streamCtx(t, bearerOf("agent17")), &hushv1.WatchSessionRequest{SessionId: "s-a17"})
		if err == nil {
			_, err = st.Recv()
		}
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || i == 1000 {
			t.Fatalf("after a stream closed: %v", err)
		}
	}

	hc := healthpb.NewHealthClient(cc)
	for i := 0; i <= max; i++ {
		w, err := hc.Watch(streamCtx(t, ""), &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		if i < max && err != nil {
			t.Fatalf("health watch %d: %v", i, err)
		}
		if i == max {
			wantCode(t, err, codes.ResourceExhausted)
		}
	}
}

// LoadTrust refuses CRLs it cannot vouch for, and Check judges chains by CA, CRL and time.
func TestTrust(t *testing.T) {
	ca, other := authtest.NewCA(t, "ca"), authtest.NewCA(t, "other")
	good := ca.Issue(t, authtest.LeafOpts{CN: "good", OUs: []string{"agent"}})
	bad := ca.Issue(t, authtest.LeafOpts{CN: "bad", OUs: []string{"agent"}})
	crl := ca.CRL(t, time.Time{}, bad.Cert)
	for name, data := range map[string][]byte{
		"signed by another CA": other.CRL(t, time.Time{}, bad.Cert),
		"junk":                 []byte("not a CRL"),
		"wrong PEM type":       ca.PEM,
		"truncated PEM":        crl[:len(crl)/2],
		"DER junk":             {0x30, 0x82, 0xff, 0xff, 0x01},
	} {
		if _, err := LoadTrust(ca.PEM, data); !errors.Is(err, ErrCRL) {
			t.Errorf("%s: %v, want ErrCRL", name, err)
		}
	}
	if _, err := LoadTrust([]byte("no CA"), nil); !errors.Is(err, ErrTLSConfig) {
		t.Errorf("CA bundle without a certificate: %v", err)
	}
	tr, err := LoadTrust(ca.PEM, crl)
	if err != nil {
		t.Fatal(err)
	}
	if tr.CRLs != 1 || tr.Revoked != 1 || tr.NextUpdate.IsZero() {
		t.Errorf("trust %+v", tr)
	}
	der, _ := pem.Decode(crl)
	if tr2, err := LoadTrust(ca.PEM, der.Bytes); err != nil || tr2.Revoked != 1 {
		t.Errorf("DER CRL: %v %v", tr2, err)
	}
	now := time.Now()
	for name, tc := range map[string]struct {
		chain []*x509.Certificate
		at    time.Time
		ok    bool
	}{
		"good":          {[]*x509.Certificate{good.Cert, ca.Cert}, now, true},
		"revoked":       {[]*x509.Certificate{bad.Cert, ca.Cert}, now, false},
		"expired":       {[]*x509.Certificate{good.Cert, ca.Cert}, now.Add(2 * time.Hour), false},
		"not yet valid": {[]*x509.Certificate{good.Cert, ca.Cert}, now.Add(-2 * time.Hour), false},
		"foreign CA":    {[]*x509.Certificate{other.Issue(t, authtest.LeafOpts{CN: "x"}).Cert, other.Cert}, now, false},
		"empty":         {nil, now, false},
	} {
		if err := tr.Check(tc.chain, tc.at); (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrCertRefused)) {
			t.Errorf("%s: %v, want ok=%v", name, err, tc.ok)
		}
	}
}

// FuzzLoadTrust: no CRL file, however broken, panics the loader.
func FuzzLoadTrust(f *testing.F) {
	ca := authtest.NewCA(f, "ca")
	f.Add(ca.CRL(f, time.Time{}, ca.Issue(f, authtest.LeafOpts{CN: "x"}).Cert))
	f.Add([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := LoadTrust(ca.PEM, data)
		if err == nil && tr == nil {
			t.Fatal("nil trust without an error")
		}
	})
}
