package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/auth/oidctest"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

const testAudience = "hush"

func newTestOIDC(t *testing.T, is *oidctest.Issuer, mod ...func(*OIDCOptions)) *OIDC {
	t.Helper()
	o := OIDCOptions{Issuer: is.URL, Audience: testAudience, RoleClaim: "hush_role", AgentIDClaim: "agent_id"}
	for _, m := range mod {
		m(&o)
	}
	v, err := NewOIDC(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every refusal has its own clear reason, and none echoes the token or a claim.
func TestOIDCRefusals(t *testing.T) {
	is := oidctest.New(t)
	v := newTestOIDC(t, is)
	good := func() oidctest.Claims {
		c := is.Std(testAudience, "alice@example.com", time.Hour)
		c["hush_role"], c["agent_id"] = "agent", "a-17"
		return c
	}
	with := func(k string, val any) oidctest.Claims {
		c := good()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	other := oidctest.NewRSAKey(t)
	pubDER, err := x509.MarshalPKIXPublicKey(other.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, want string
	}{
		{"expired", is.Sign(t, with("exp", time.Now().Add(-time.Minute).Unix())), "expired"},
		{"no expiry", is.Sign(t, with("exp", nil)), "expired"},
		{"wrongly signed (another key, same kid)", oidctest.SignWith(t, jose.RS256, other, "k1", good()), "signature does not verify"},
		{"signed by an unknown key", oidctest.SignWith(t, jose.RS256, other, "k-unknown", good()), "signature does not verify"},
		{"wrong audience", is.Sign(t, with("aud", "someone-else")), "another audience"},
		{"audience list without hush", is.Sign(t, with("aud", []string{"a", "b"})), "another audience"},
		{"wrong issuer", is.Sign(t, with("iss", "https://evil.example")), "not issued by the configured issuer"},
		{"alg none", oidctest.Unsigned(t, good()), "signing algorithm is not allowed"},
		{"HS256 keyed with the public key", oidctest.SignWith(t, jose.HS256, pubDER, "k1", good()), "signing algorithm is not allowed"},
		{"not yet valid", is.Sign(t, with("nbf", time.Now().Add(time.Hour).Unix())), "not valid yet"},
		{"no role", is.Sign(t, with("hush_role", nil)), "names no hush role"},
		{"unknown role", is.Sign(t, with("hush_role", "superuser")), "names no hush role"},
		{"two hush roles", is.Sign(t, with("hush_role", []string{"agent", "qa"})), "more than one hush role"},
		{"agent without agent id", is.Sign(t, with("agent_id", nil)), "agent id claim"},
		{"no subject", is.Sign(t, with("sub", nil)), "subject claim"},
		{"garbage", "eyJhbGciOi.not.base64!", "not a signed JWT"},
		{"two parts", "eyJhbGciOiJSUzI1NiJ9.e30", "not a signed JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrToken saying %q", err, tc.want)
			}
			for _, leak := range []string{tc.token, "alice@example.com", "someone-else", "evil.example", "superuser"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("the reason echoes %q", leak)
				}
			}
		})
	}
}

// Good tokens map to identities by the configured claim names, RSA and ECDSA alike; the
// key set is fetched once for many tokens, and again only when a token names a new key.
func TestOIDCIdentityAndKeyCache(t *testing.T) {
	is := oidctest.New(t)
	v := newTestOIDC(t, is, func(o *OIDCOptions) {
		o.RoleClaim, o.AgentIDClaim, o.SubjectClaim = "realm_access.roles", "ext.agent", "preferred_username"
	})
	claims := func(roles []string, agent string) oidctest.Claims {
		c := is.Std(testAudience, "uuid-1", time.Hour)
		c["preferred_username"] = "alice"
		c["realm_access"] = map[string]any{"roles": append(roles, "offline_access")}
		c["ext"] = map[string]any{"agent": agent}
		return c
	}
	for i := range 20 {
		id, exp, err := v.Verify(context.Background(), is.Sign(t, claims([]string{"agent"}, "a-17")))
		if err != nil {
			t.Fatal(err)
		}
		if id != (Identity{Subject: "alice", Role: RoleAgent, AgentID: "a-17", Method: MethodOIDC}) || exp.Before(time.Now()) {
			t.Fatalf("token %d: %+v exp %v", i, id, exp)
		}
	}
	if n := is.JWKSFetches.Load(); n != 1 {
		t.Errorf("key set fetched %d times for 20 tokens, want 1 (cached)", n)
	}
	is.Rotate(t, "k2")
	if id, _, err := v.Verify(context.Background(), is.Sign(t, claims([]string{"qa"}, ""))); err != nil || id.Role != RoleQA || id.AgentID != "" {
		t.Fatalf("after rotation: %+v %v", id, err)
	}
	ec := is.PublishEC(t, "e1")
	if id, _, err := v.Verify(context.Background(), oidctest.SignWith(t, jose.ES256, ec, "e1", claims([]string{"admin"}, ""))); err != nil || id.Role != RoleAdmin {
		t.Fatalf("ES256: %+v %v", id, err)
	}
	if n := is.JWKSFetches.Load(); n != 3 {
		t.Errorf("key set fetched %d times after two new keys, want 3", n)
	}
}

func TestOIDCConfigRefused(t *testing.T) {
	for _, o := range []OIDCOptions{
		{Audience: "hush", RoleClaim: "r", AgentIDClaim: "a"},
		{Issuer: "https://idp", RoleClaim: "r", AgentIDClaim: "a"},
		{Issuer: "https://idp", Audience: "hush", RoleClaim: "r", AgentIDClaim: "a", Algorithms: []string{"HS256"}},
		{Issuer: "https://idp", Audience: "hush", RoleClaim: "r", AgentIDClaim: "a", Algorithms: []string{"none"}},
	} {
		if _, err := NewOIDC(o); !errors.Is(err, ErrOIDCConfig) {
			t.Errorf("%+v: %v, want ErrOIDCConfig", o, err)
		}
	}
}

// An identity provider down at the first token is an error that names it, not a hang;
// later tokens within RetryAfter do not wait on it again.
func TestOIDCIssuerDown(t *testing.T) {
	v, err := NewOIDC(OIDCOptions{Issuer: "http://127.0.0.1:1", Audience: "hush", RoleClaim: "r", AgentIDClaim: "a"})
	if err != nil {
		t.Fatal(err)
	}
	is := oidctest.New(t)
	tok := is.Sign(t, is.Std("hush", "x", time.Hour))
	for range 3 {
		if _, _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrOIDCUnavailable) {
			t.Fatalf("err = %v, want ErrOIDCUnavailable", err)
		}
	}
}

// blockingWatch holds a watch stream open until its context ends.
type blockingWatch struct{ fakeSessions }

func (b *blockingWatch) WatchSession(r *hushv1.WatchSessionRequest, s grpc.ServerStreamingServer[hushv1.SessionEvent]) error {
	if err := s.Send(&hushv1.SessionEvent{SessionId: r.GetSessionId()}); err != nil {
		return err
	}
	<-s.Context().Done()
	return s.Context().Err()
}

// Through the gRPC authorizer: a JWT is a bearer token beside the token file, judged by
// the same table and agent binding; a stream it opened ends with UNAUTHENTICATED when
// the token expires.
func TestOIDCThroughAuthorizer(t *testing.T) {
	is := oidctest.New(t)
	a, err := NewAuthorizer(Options{Mode: config.AuthToken, Tokens: testStore(), OIDC: newTestOIDC(t, is), Owner: testOwners})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.ChainUnaryInterceptor(a.Unary()), grpc.ChainStreamInterceptor(a.Stream()))
	fake := &blockingWatch{}
	hushv1.RegisterSessionServiceServer(g, fake)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := hushv1.NewSessionServiceClient(cc)
	jwt := func(role, agent string, ttl time.Duration) string {
		cl := is.Std(testAudience, "bob", ttl)
		cl["hush_role"], cl["agent_id"] = role, agent
		return "Bearer " + is.Sign(t, cl)
	}
	for _, tc := range []struct {
		name, auth string
		want       codes.Code
		msg        string
	}{
		{"token file still works", bearerOf("agent17"), codes.OK, ""},
		{"agent JWT, own session", jwt("agent", "a-17", time.Hour), codes.OK, ""},
		{"agent JWT, other's session", jwt("agent", "a-18", time.Hour), codes.PermissionDenied, "only on sessions bound to it"},
		{"qa JWT may not pause", jwt("qa", "", time.Hour), codes.PermissionDenied, "may not call"},
		{"expired JWT", jwt("agent", "a-17", -time.Hour), codes.Unauthenticated, "expired"},
		{"alg none", "Bearer " + oidctest.Unsigned(t, is.Std(testAudience, "bob", time.Hour)), codes.Unauthenticated, "algorithm"},
	} {
		_, err := c.PauseRecording(callCtx(t, tc.auth), &hushv1.PauseRecordingRequest{SessionId: "s-a17"})
		if status.Code(err) != tc.want || !strings.Contains(status.Convert(err).Message(), tc.msg) {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.want, tc.msg)
		}
	}
	if id := fake.last(t); id.Method != MethodOIDC || id.Subject != "bob" || id.AgentID != "a-17" {
		t.Errorf("handler saw %+v", id)
	}

	// A watch opened with a token that expires in two seconds ends then.
	st, err := c.WatchSession(callCtx(t, jwt("agent", "a-17", 2*time.Second)), &hushv1.WatchSessionRequest{SessionId: "s-a17"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	_, err = st.Recv()
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("watch after expiry: %v, want UNAUTHENTICATED token expired", err)
	}
}
