package auth

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// fakeSessions is the real SessionService contract with a fake body: it
// records the identity each call carried.
type fakeSessions struct {
	hushv1.UnimplementedSessionServiceServer
	mu  sync.Mutex
	ids []Identity
}

func (f *fakeSessions) seen(ctx context.Context) {
	id, _ := FromContext(ctx)
	f.mu.Lock()
	f.ids = append(f.ids, id)
	f.mu.Unlock()
}

func (f *fakeSessions) last(t *testing.T) Identity {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ids) == 0 {
		t.Fatal("no call reached the handler")
	}
	return f.ids[len(f.ids)-1]
}

func (f *fakeSessions) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ids)
}

func (f *fakeSessions) CreateSession(ctx context.Context, r *hushv1.CreateSessionRequest) (*hushv1.Session, error) {
	f.seen(ctx)
	return &hushv1.Session{SessionId: "s-new"}, nil
}

func (f *fakeSessions) PauseRecording(ctx context.Context, r *hushv1.PauseRecordingRequest) (*hushv1.Session, error) {
	f.seen(ctx)
	return &hushv1.Session{SessionId: r.GetSessionId()}, nil
}

func (f *fakeSessions) ListSessions(ctx context.Context, r *hushv1.ListSessionsRequest) (*hushv1.ListSessionsResponse, error) {
	f.seen(ctx)
	return &hushv1.ListSessionsResponse{}, nil
}

func (f *fakeSessions) WatchSession(r *hushv1.WatchSessionRequest, s grpc.ServerStreamingServer[hushv1.SessionEvent]) error {
	f.seen(s.Context())
	return s.Send(&hushv1.SessionEvent{SessionId: r.GetSessionId()})
}

// owners binds sessions to agents.
type owners map[string]string

func (o owners) AgentOf(id string) (string, bool) {
	a, ok := o[id]
	return a, ok
}

var testOwners = owners{"s-a17": "a-17", "s-a18": "a-18"}

// Tokens by role; the file holds their hashes only.
var testTokens = map[string]TokenEntry{
	"platform": {Subject: "sbc-1", Role: RolePlatform},
	"agent17":  {Subject: "alice", Role: RoleAgent, AgentID: "a-17"},
	"qa":       {Subject: "quinn", Role: RoleQA},
	"payment":  {Subject: "psp", Role: RolePayment},
	"admin":    {Subject: "ops", Role: RoleAdmin},
}

func tokenOf(name string) string { return "tok-" + name + "-0123456789abcdef" }

func testStore() *TokenStore {
	var es []TokenEntry
	for name, e := range testTokens {
		e.SHA256 = HashToken(tokenOf(name))
		es = append(es, e)
	}
	return NewTokenStore(es)
}

type denial struct {
	method string
	id     Identity
	code   codes.Code
	reason string
}

type testServer struct {
	addr    string
	ca      *authtest.CA // signs the server and the good client certificates
	fake    *fakeSessions
	mu      sync.Mutex
	denials []denial
}

func (s *testServer) lastDenial(t *testing.T) denial {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.denials) == 0 {
		t.Fatal("OnDenied was not called")
	}
	return s.denials[len(s.denials)-1]
}

// startServer runs the real gRPC server on loopback with TLS (server cert
// from files, as hushd loads it), the limiter and the authorizer.
func startServer(t *testing.T, mode string, clientCA bool, limiter *RateLimiter) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{ca: authtest.NewCA(t, "hush test CA"), fake: &fakeSessions{}}
	srvCert := ts.ca.Issue(t, authtest.LeafOpts{CN: "hushd", Server: true})
	tc := config.TLS{
		CertFile: authtest.WriteFile(t, dir, "tls.crt", srvCert.CertPEM),
		KeyFile:  authtest.WriteFile(t, dir, "tls.key", srvCert.KeyPEM),
	}
	if clientCA {
		tc.ClientCAFile = authtest.WriteFile(t, dir, "ca.crt", ts.ca.PEM)
	}
	st, err := NewServerTLS(tc, mode)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthorizer(Options{Mode: mode, Tokens: testStore(), Owner: testOwners, Certs: st,
		OnDenied: func(_ context.Context, m string, id Identity, c codes.Code, reason string) {
			ts.mu.Lock()
			ts.denials = append(ts.denials, denial{m, id, c, reason})
			ts.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(st.GRPC())),
		grpc.ChainUnaryInterceptor(limiter.Unary(), a.Unary()),
		grpc.ChainStreamInterceptor(limiter.Stream(), a.Stream()))
	hushv1.RegisterSessionServiceServer(g, ts.fake)
	hushv1.RegisterPaymentServiceServer(g, hushv1.UnimplementedPaymentServiceServer{})
	healthpb.RegisterHealthServer(g, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { _ = g.Serve(ln); close(done) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return ts
}

// dial connects with TLS trusting the server's CA, presenting certs if any.
func (s *testServer) dial(t *testing.T, certs ...tls.Certificate) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: s.ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12,
	})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func callCtx(t *testing.T, token string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", token)
	}
	return ctx
}

func bearerOf(name string) string { return "Bearer " + tokenOf(name) }

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("code %v (%v), want %v", got, err, want)
	}
}

func TestTokenAuth(t *testing.T) {
	s := startServer(t, config.AuthToken, false, nil)
	c := hushv1.NewSessionServiceClient(s.dial(t))
	pay := hushv1.NewPaymentServiceClient(s.dial(t))

	type call func(ctx context.Context) error
	create := func(ctx context.Context) error {
		_, err := c.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "c1"})
		return err
	}
	pause := func(sid string) call {
		return func(ctx context.Context) error {
			_, err := c.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: sid})
			return err
		}
	}
	watch := func(sid string) call {
		return func(ctx context.Context) error {
			st, err := c.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: sid})
			if err != nil {
				return err
			}
			ev, err := st.Recv()
			if err == nil && ev.GetSessionId() != sid {
				t.Errorf("watch event for %q, want %q", ev.GetSessionId(), sid)
			}
			return err
		}
	}
	list := func(agentID string) call {
		return func(ctx context.Context) error {
			_, err := c.ListSessions(ctx, &hushv1.ListSessionsRequest{AgentId: agentID})
			return err
		}
	}
	collect := func(ctx context.Context) error {
		st, err := pay.CollectDigits(ctx, &hushv1.CollectDigitsRequest{SessionId: "s-a17"})
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}

	for _, tc := range []struct {
		name  string
		auth  string
		call  call
		want  codes.Code
		subj  string // identity the handler must see on success
		leaks bool   // the denial must not reveal whether the session exists
	}{
		{"no token", "", create, codes.Unauthenticated, "", false},
		{"unknown token", "Bearer not-a-real-token", create, codes.Unauthenticated, "", false},
		{"hash as token", "Bearer " + HashToken(tokenOf("platform")), create, codes.Unauthenticated, "", false},
		{"basic scheme", "Basic " + tokenOf("platform"), create, codes.Unauthenticated, "", false},
		{"bearer without token", "Bearer ", create, codes.Unauthenticated, "", false},
		{"lower-case scheme", "bearer " + tokenOf("platform"), create, codes.OK, "sbc-1", false},
		{"platform creates", bearerOf("platform"), create, codes.OK, "sbc-1", false},
		{"admin creates", bearerOf("admin"), create, codes.OK, "ops", false},
		{"qa may not create", bearerOf("qa"), create, codes.PermissionDenied, "", false},
		{"agent may not create", bearerOf("agent17"), create, codes.PermissionDenied, "", false},
		{"payment may not create", bearerOf("payment"), create, codes.PermissionDenied, "", false},
		{"agent pauses own", bearerOf("agent17"), pause("s-a17"), codes.OK, "alice", false},
		{"agent pauses other's", bearerOf("agent17"), pause("s-a18"), codes.PermissionDenied, "", true},
		{"agent pauses missing", bearerOf("agent17"), pause("s-nope"), codes.PermissionDenied, "", true},
		{"agent pauses empty id", bearerOf("agent17"), pause(""), codes.PermissionDenied, "", true},
		{"platform pauses any", bearerOf("platform"), pause("s-a18"), codes.OK, "sbc-1", false},
		{"qa may not pause", bearerOf("qa"), pause("s-a17"), codes.PermissionDenied, "", false},
		{"agent watches own", bearerOf("agent17"), watch("s-a17"), codes.OK, "alice", false},
		{"agent watches other's", bearerOf("agent17"), watch("s-a18"), codes.PermissionDenied, "", true},
		{"watch without token", "", watch("s-a17"), codes.Unauthenticated, "", false},
		// An agent desktop finds its current call: its own sessions only.
		{"agent lists own", bearerOf("agent17"), list("a-17"), codes.OK, "alice", false},
		{"agent lists other's", bearerOf("agent17"), list("a-18"), codes.PermissionDenied, "", false},
		{"agent lists all", bearerOf("agent17"), list(""), codes.PermissionDenied, "", false},
		{"platform lists all", bearerOf("platform"), list(""), codes.OK, "sbc-1", false},
		{"qa may not list sessions", bearerOf("qa"), list(""), codes.PermissionDenied, "", false},
		// Authorized payment calls reach the (unimplemented) service.
		{"payment collects", bearerOf("payment"), collect, codes.Unimplemented, "", false},
		{"admin may not collect digits", bearerOf("admin"), collect, codes.PermissionDenied, "", false},
		{"platform may not collect digits", bearerOf("platform"), collect, codes.PermissionDenied, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.fake.calls()
			err := tc.call(callCtx(t, tc.auth))
			wantCode(t, err, tc.want)
			if tc.want != codes.OK {
				if tc.want != codes.Unimplemented && s.fake.calls() != before {
					t.Error("a refused call reached the handler")
				}
				if tc.want == codes.Unauthenticated || tc.want == codes.PermissionDenied {
					d := s.lastDenial(t)
					if d.code != tc.want || d.method == "" {
						t.Errorf("OnDenied got %+v", d)
					}
					if strings.Contains(d.reason, tokenOf("platform")) || strings.Contains(err.Error(), "tok-") {
						t.Error("a credential leaked into a denial")
					}
				}
				if tc.leaks && !strings.Contains(status.Convert(err).Message(), "only on sessions bound to it") {
					t.Errorf("agent denial message %q differs: it may reveal existence", status.Convert(err).Message())
				}
				return
			}
			if id := s.fake.last(t); id.Subject != tc.subj || id.Method != MethodToken {
				t.Errorf("handler saw identity %+v, want subject %q by token", id, tc.subj)
			}
		})
	}

	// Health needs no credentials.
	if _, err := healthpb.NewHealthClient(s.dial(t)).Check(callCtx(t, ""), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without token: %v", err)
	}
}

func TestClientCertAuth(t *testing.T) {
	s := startServer(t, config.AuthMTLS, true, nil)
	other := authtest.NewCA(t, "someone else's CA")
	now := time.Now()
	for _, tc := range []struct {
		name    string
		cert    func() []tls.Certificate
		sid     string
		want    codes.Code
		wantID  Identity
		reached bool
	}{
		{"valid agent cert, own session", func() []tls.Certificate {
			return []tls.Certificate{s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"desk", "agent"}}).Pair}
		}, "s-a17", codes.OK, Identity{Subject: "a-17", Role: RoleAgent, AgentID: "a-17", Method: MethodCert}, true},
		{"valid agent cert, other's session", func() []tls.Certificate {
			return []tls.Certificate{s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"}}).Pair}
		}, "s-a18", codes.PermissionDenied, Identity{}, false},
		{"valid platform cert", func() []tls.Certificate {
			return []tls.Certificate{s.ca.Issue(t, authtest.LeafOpts{CN: "sbc-1", OUs: []string{"platform"}}).Pair}
		}, "s-a18", codes.OK, Identity{Subject: "sbc-1", Role: RolePlatform, Method: MethodCert}, true},
		{"cert without role OU", func() []tls.Certificate {
			return []tls.Certificate{s.ca.Issue(t, authtest.LeafOpts{CN: "x", OUs: []string{"sales"}}).Pair}
		}, "s-a17", codes.Unauthenticated, Identity{}, false},
		{"cert with two roles", func() []tls.Certificate {
			return []tls.Certificate{s.ca.Issue(t, authtest.LeafOpts{CN: "x", OUs: []string{"agent", "admin"}}).Pair}
		}, "s-a17", codes.Unauthenticated, Identity{}, false},
		// The handshake itself fails: the call never gets a stream.
		{"expired cert", func() []tls.Certificate {
			return []tls.Certificate{s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"},
				NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}).Pair}
		}, "s-a17", codes.Unavailable, Identity{}, false},
		{"not yet valid cert", func() []tls.Certificate {
			return []tls.Certificate{s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"},
				NotBefore: now.Add(time.Hour), NotAfter: now.Add(2 * time.Hour)}).Pair}
		}, "s-a17", codes.Unavailable, Identity{}, false},
		{"untrusted CA", func() []tls.Certificate {
			return []tls.Certificate{other.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"}}).Pair}
		}, "s-a17", codes.Unavailable, Identity{}, false},
		{"no cert", func() []tls.Certificate { return nil }, "s-a17", codes.Unavailable, Identity{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.fake.calls()
			c := hushv1.NewSessionServiceClient(s.dial(t, tc.cert()...))
			_, err := c.PauseRecording(callCtx(t, ""), &hushv1.PauseRecordingRequest{SessionId: tc.sid})
			wantCode(t, err, tc.want)
			if reached := s.fake.calls() > before; reached != tc.reached {
				t.Fatalf("handler reached = %v, want %v", reached, tc.reached)
			}
			if tc.reached {
				if id := s.fake.last(t); id != tc.wantID {
					t.Errorf("identity %+v, want %+v", id, tc.wantID)
				}
			}
		})
	}
}

// token_or_mtls: either credential works; a bad token fails even with a
// good certificate.
func TestTokenOrCert(t *testing.T) {
	s := startServer(t, config.AuthTokenOrMTLS, true, nil)
	cert := s.ca.Issue(t, authtest.LeafOpts{CN: "sbc-2", OUs: []string{"platform"}}).Pair
	create := func(cc *grpc.ClientConn, auth string) error {
		_, err := hushv1.NewSessionServiceClient(cc).CreateSession(callCtx(t, auth), &hushv1.CreateSessionRequest{})
		return err
	}
	wantCode(t, create(s.dial(t), bearerOf("platform")), codes.OK)
	if id := s.fake.last(t); id.Method != MethodToken || id.Subject != "sbc-1" {
		t.Errorf("token identity %+v", id)
	}
	wantCode(t, create(s.dial(t, cert), ""), codes.OK)
	if id := s.fake.last(t); id.Method != MethodCert || id.Subject != "sbc-2" {
		t.Errorf("cert identity %+v", id)
	}
	wantCode(t, create(s.dial(t, cert), "Bearer wrong"), codes.Unauthenticated)
	wantCode(t, create(s.dial(t), ""), codes.Unauthenticated)
}

// auth.mode none: every caller is anonymous and allowed.
func TestModeNone(t *testing.T) {
	a, err := NewAuthorizer(Options{Mode: config.AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	var got Identity
	h := func(ctx context.Context, _ any) (any, error) { got, _ = FromContext(ctx); return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: hushv1.PaymentService_CollectDigits_FullMethodName}
	if _, err := a.Unary()(context.Background(), nil, info, h); err != nil {
		t.Fatal(err)
	}
	if got.Method != MethodNone || got.Subject != "anonymous" {
		t.Errorf("identity %+v", got)
	}
	info.FullMethod = "/hush.v1.SessionService/NotInPolicy"
	_, err = a.Unary()(context.Background(), nil, info, h)
	wantCode(t, err, codes.PermissionDenied)
}

func TestNewAuthorizerChecks(t *testing.T) {
	for _, o := range []Options{
		{Mode: "basic"},
		{Mode: config.AuthToken, Owner: testOwners},
		{Mode: config.AuthMTLS},
	} {
		if _, err := NewAuthorizer(o); err == nil {
			t.Errorf("NewAuthorizer(%+v) accepted", o)
		}
	}
}

// A method missing from Policy is refused even to admin.
func TestUnknownMethodDenied(t *testing.T) {
	a, _ := NewAuthorizer(Options{Mode: config.AuthToken, Tokens: testStore(), Owner: testOwners})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", bearerOf("admin")))
	_, err := a.Unary()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/hush.v1.SessionService/Unlisted"},
		func(context.Context, any) (any, error) { t.Fatal("handler reached"); return nil, nil })
	wantCode(t, err, codes.PermissionDenied)
}

// Plaintext dialing to a TLS server fails; keeps the harness honest.
func TestPlaintextRefused(t *testing.T) {
	s := startServer(t, config.AuthToken, false, nil)
	cc, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = hushv1.NewSessionServiceClient(cc).CreateSession(callCtx(t, bearerOf("platform")), &hushv1.CreateSessionRequest{})
	wantCode(t, err, codes.Unavailable)
}
