package auth

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// peerCluster is one owner node's peer listener (the real authorizer in peer mode behind
// the cluster's mTLS) and the certificates a forwarding node and others may dial it with.
type peerCluster struct {
	addr    string
	fake    *fakeSessions
	ca      *authtest.CA
	peer    *PeerTLS // the forwarding node's
	dir     string
	denials []denial
}

func writePeerTLS(t *testing.T, ca *authtest.CA, dir, name string, ous ...string) (*PeerTLS, error) {
	t.Helper()
	l := ca.Issue(t, authtest.LeafOpts{CN: name, OUs: ous})
	return LoadPeerTLS(authtest.WriteFile(t, dir, name+".crt", l.CertPEM), authtest.WriteFile(t, dir, name+".key", l.KeyPEM),
		authtest.WriteFile(t, dir, "cluster-ca.crt", ca.PEM), "")
}

func startPeer(t *testing.T, mode string) *peerCluster {
	t.Helper()
	pc := &peerCluster{ca: authtest.NewCA(t, "hush cluster CA"), fake: &fakeSessions{}, dir: t.TempDir()}
	owner, err := writePeerTLS(t, pc.ca, pc.dir, "node-b", PeerOU)
	if err != nil {
		t.Fatal(err)
	}
	if pc.peer, err = writePeerTLS(t, pc.ca, pc.dir, "node-a", PeerOU); err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthorizer(Options{Mode: mode, Tokens: testStore(), Owner: testOwners, Peer: true, Peers: owner,
		OnDenied: func(_ context.Context, m string, id Identity, c codes.Code, reason string) {
			pc.denials = append(pc.denials, denial{m, id, c, reason})
		}})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(owner.Server())),
		grpc.ChainUnaryInterceptor(a.Unary()), grpc.ChainStreamInterceptor(a.Stream()))
	hushv1.RegisterSessionServiceServer(g, pc.fake)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { _ = g.Serve(ln); close(done) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return pc
}

func (pc *peerCluster) client(t *testing.T, cfg *tls.Config) hushv1.SessionServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(pc.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return hushv1.NewSessionServiceClient(cc)
}

// edge is the incoming call a forwarding node authenticated: id, and the bearer token when
// the caller sent one.
func edge(t *testing.T, id Identity, authorization string) context.Context {
	t.Helper()
	ctx := callCtx(t, "")
	if authorization != "" {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", authorization))
	}
	out, err := ForwardContext(NewContext(ctx, id))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func forged(t *testing.T, f forwarded) context.Context {
	b, _ := json.Marshal(f)
	return metadata.AppendToOutgoingContext(callCtx(t, ""), forwardedHeader, base64.RawURLEncoding.EncodeToString(b))
}

// TestPeerForwardedIdentity: the owner authorizes a forwarded certificate caller by its
// own policy and agent binding. The forwarding node cannot raise the caller's grant: an
// agent forwarded stays bound to its own sessions and may not create, a QA caller may not
// pause; a peer request that names no caller, or a token caller forwarded by identity
// instead of with its token, is refused; so is a forged header with a bad role.
func TestPeerForwardedIdentity(t *testing.T) {
	pc := startPeer(t, config.AuthMTLS)
	c := pc.client(t, pc.peer.Client())
	agent := Identity{Subject: "a-17", Role: RoleAgent, AgentID: "a-17", Method: MethodCert}
	pause := func(ctx context.Context, sid string) error {
		_, err := c.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: sid})
		return err
	}
	if err := pause(edge(t, agent, ""), "s-a17"); err != nil {
		t.Fatalf("agent's own session, forwarded: %v", err)
	}
	if got := pc.fake.last(t); got != agent {
		t.Fatalf("owner's handler saw %+v, want the forwarded %+v", got, agent)
	}
	calls := pc.fake.calls()
	for _, tc := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"agent, another agent's session", func() error { return pause(edge(t, agent, ""), "s-a18") }, codes.PermissionDenied},
		{"agent creates", func() error {
			_, err := c.CreateSession(edge(t, agent, ""), &hushv1.CreateSessionRequest{CallId: "x"})
			return err
		}, codes.PermissionDenied},
		{"qa pauses", func() error {
			return pause(edge(t, Identity{Subject: "quinn", Role: RoleQA, Method: MethodCert}, ""), "s-a17")
		}, codes.PermissionDenied},
		{"no caller named", func() error { return pause(callCtx(t, ""), "s-a17") }, codes.Unauthenticated},
		{"token caller by identity", func() error {
			return pause(forged(t, forwarded{Subject: "sbc-1", Role: RolePlatform, Method: MethodToken}), "s-a17")
		}, codes.Unauthenticated},
		{"unknown role", func() error {
			return pause(forged(t, forwarded{Subject: "x", Role: "root", Method: MethodCert}), "s-a17")
		}, codes.Unauthenticated},
		{"metrics role", func() error {
			return pause(forged(t, forwarded{Subject: "prom", Role: RoleMetrics, Method: MethodCert}), "s-a17")
		}, codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.call(), tc.want)
			if pc.fake.calls() != calls {
				t.Fatal("a refused call reached the handler")
			}
		})
	}
}

// TestPeerForwardedToken: a token caller is forwarded with its token and the owner
// authenticates it itself; an identity header beside it is ignored, so a forwarding node
// cannot pass a token caller off as someone else.
func TestPeerForwardedToken(t *testing.T) {
	pc := startPeer(t, config.AuthTokenOrMTLS)
	c := pc.client(t, pc.peer.Client())
	agent := Identity{Subject: "alice", Role: RoleAgent, AgentID: "a-17", Method: MethodToken}
	ctx := edge(t, agent, bearerOf("agent17"))
	if _, err := c.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: "s-a17"}); err != nil {
		t.Fatal(err)
	}
	if got := pc.fake.last(t); got != agent {
		t.Fatalf("owner saw %+v, want %+v", got, agent)
	}
	// The token with a forged admin identity beside it: still the agent, still bound.
	b, _ := json.Marshal(forwarded{Subject: "ops", Role: RoleAdmin, Method: MethodCert})
	ctx = metadata.AppendToOutgoingContext(callCtx(t, bearerOf("agent17")), forwardedHeader, base64.RawURLEncoding.EncodeToString(b))
	_, err := c.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: "s-a18"})
	wantCode(t, err, codes.PermissionDenied)
	// A bad token forwarded is refused as it is at the edge.
	_, err = c.PauseRecording(callCtx(t, "Bearer not-a-token"), &hushv1.PauseRecordingRequest{SessionId: "s-a17"})
	wantCode(t, err, codes.Unauthenticated)
}

// TestPeerListenerRefusesNonPeers: only a certificate of the cluster CA with the peer OU
// gets through the peer listener's handshake: not a client certificate of the same CA,
// not a certificate of another CA, not a connection without one.
func TestPeerListenerRefusesNonPeers(t *testing.T) {
	pc := startPeer(t, config.AuthMTLS)
	other := authtest.NewCA(t, "other CA")
	agentCert := pc.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"}})
	foreign := other.Issue(t, authtest.LeafOpts{CN: "node-x", OUs: []string{PeerOU}})
	agent := Identity{Subject: "a-17", Role: RoleAgent, AgentID: "a-17", Method: MethodCert}
	for name, certs := range map[string][]tls.Certificate{
		"client certificate of the cluster CA": {agentCert.Pair},
		"peer OU from another CA":              {foreign.Pair},
		"no certificate":                       nil,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := pc.peer.Client()
			cfg.Certificates = certs
			_, err := pc.client(t, cfg).PauseRecording(edge(t, agent, ""), &hushv1.PauseRecordingRequest{SessionId: "s-a17"})
			wantCode(t, err, codes.Unavailable)
		})
	}
	if pc.fake.calls() != 0 {
		t.Fatal("a non-peer reached the handler")
	}
	// And a node dialing a listener that is not a peer's refuses it.
	srv := startServer(t, config.AuthMTLS, true, nil)
	cc, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(credentials.NewTLS(pc.peer.Client())))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = hushv1.NewSessionServiceClient(cc).PauseRecording(edge(t, agent, ""), &hushv1.PauseRecordingRequest{SessionId: "s-a17"})
	wantCode(t, err, codes.Unavailable)
}

// TestClientListenerIgnoresForwardedIdentity: on the client listener the forwarded
// identity header means nothing: an agent that sends one claiming admin is still an agent.
func TestClientListenerIgnoresForwardedIdentity(t *testing.T) {
	s := startServer(t, config.AuthMTLS, true, nil)
	cert := s.ca.Issue(t, authtest.LeafOpts{CN: "a-17", OUs: []string{"agent"}})
	c := hushv1.NewSessionServiceClient(s.dial(t, cert.Pair))
	b, _ := json.Marshal(forwarded{Subject: "ops", Role: RoleAdmin, Method: MethodCert})
	ctx := metadata.AppendToOutgoingContext(callCtx(t, ""), forwardedHeader, base64.RawURLEncoding.EncodeToString(b))
	_, err := c.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: "s-a18"})
	wantCode(t, err, codes.PermissionDenied)
	if _, err := c.PauseRecording(ctx, &hushv1.PauseRecordingRequest{SessionId: "s-a17"}); err != nil {
		t.Fatal(err)
	}
	if id := s.fake.last(t); id.Role != RoleAgent || id.Subject != "a-17" {
		t.Fatalf("handler saw %+v", id)
	}
}

// TestLoadPeerTLSNeedsPeerOU: a node certificate without the peer OU is refused at start.
func TestLoadPeerTLSNeedsPeerOU(t *testing.T) {
	ca := authtest.NewCA(t, "cluster")
	if _, err := writePeerTLS(t, ca, t.TempDir(), "node-a", "platform"); err == nil || !strings.Contains(err.Error(), PeerOU) {
		t.Fatalf("err %v, want one naming %s", err, PeerOU)
	}
}

func TestParseForwardedBad(t *testing.T) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for name, vals := range map[string][]string{
		"none":            nil,
		"two":             {enc(forwarded{Subject: "a", Role: RoleQA, Method: MethodCert}), enc(forwarded{Subject: "b", Role: RoleQA, Method: MethodCert})},
		"not base64":      {"%%%"},
		"not json":        {base64.RawURLEncoding.EncodeToString([]byte("{"))},
		"json array":      {base64.RawURLEncoding.EncodeToString([]byte("[]"))},
		"token method":    {enc(forwarded{Subject: "a", Role: RoleQA, Method: MethodToken})},
		"no method":       {enc(forwarded{Subject: "a", Role: RoleQA})},
		"no subject":      {enc(forwarded{Role: RoleQA, Method: MethodCert})},
		"agent, no id":    {enc(forwarded{Subject: "a", Role: RoleAgent, Method: MethodCert})},
		"unknown role":    {enc(forwarded{Subject: "a", Role: "superuser", Method: MethodCert})},
		"control in name": {enc(forwarded{Subject: "a\x00b", Role: RoleQA, Method: MethodCert})},
		"too long":        {strings.Repeat("A", maxForwardedHeader+1)},
	} {
		if id, err := parseForwarded(vals); err == nil {
			t.Errorf("%s: accepted as %+v", name, id)
		}
	}
}

func FuzzParseForwarded(f *testing.F) {
	b, _ := json.Marshal(forwarded{Subject: "a-17", Role: RoleAgent, AgentID: "a-17", Method: MethodCert})
	f.Add(base64.RawURLEncoding.EncodeToString(b))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, v string) {
		id, err := parseForwarded([]string{v})
		if err != nil {
			return
		}
		if id.Method != MethodCert && id.Method != MethodNone || id.Subject == "" || id.Role == RoleAgent && id.AgentID == "" {
			t.Fatalf("accepted %+v", id)
		}
	})
}
