package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/auth/oidctest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// A browser's client certificate, verified by hushd's HTTPS listener, is its identity on
// the HTTP/JSON API, judged by the same authorizer; a refusal's audit record names the
// gRPC method and the browser's own address.
func TestGatewayClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := authtest.NewCA(t, "hush CA")
	d := startSecure(t, ca, dir, "--auth-mode", "mtls", "--tls-client-ca-file", authtest.WriteFile(t, dir, "clients.crt", ca.PEM))
	qa := ca.Issue(t, authtest.LeafOpts{CN: "quinn", OUs: []string{"qa"}}).Pair
	agent := ca.Issue(t, authtest.LeafOpts{CN: "a-1", OUs: []string{"agent"}}).Pair
	for _, c := range []struct {
		name, path string
		cert       tls.Certificate
		want       int
	}{
		{"qa lists recordings", "/v1/recordings", qa, http.StatusOK},
		{"agent may not", "/v1/recordings", agent, http.StatusForbidden},
		{"agent lists its own sessions", "/v1/sessions?agentId=a-1", agent, http.StatusOK},
		{"agent may not list another's", "/v1/sessions?agentId=a-2", agent, http.StatusForbidden},
		{"qa may not watch a session", "/v1/sessions/s-1:watch", qa, http.StatusForbidden},
	} {
		if code, _ := d.get(t, c.path, "", c.cert); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	found := false
	for _, r := range auditRecords(t, d.auditFile) {
		if r.Action == audit.ActionAuthDenied && r.Actor == "a-1" &&
			strings.HasPrefix(r.Detail, hushv1.RecordingService_ListRecordings_FullMethodName+": ") &&
			strings.Contains(r.Detail, "(peer 127.0.0.1:") {
			found = true
		}
	}
	if !found {
		t.Error("no audit record of the agent's refused ListRecordings with its browser's address")
	}
}

// JWTs of the configured OIDC issuer work on both doors, by the same rules.
func TestGatewayOIDC(t *testing.T) {
	is := oidctest.New(t)
	d := startDaemon(t, "--auth-mode", "token", "--auth-oidc-issuer", is.URL, "--auth-oidc-audience", "hush",
		"--auth-oidc-role-claim", "roles", "--auth-oidc-agent-id-claim", "agent")
	jwt := func(role string, ttl time.Duration) string {
		c := is.Std("hush", "quinn@example.com", ttl)
		c["roles"], c["agent"] = []string{"offline_access", role}, "a-1"
		return is.Sign(t, c)
	}
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+d.ready.HTTP+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/v1/recordings", jwt("qa", time.Hour)); code != http.StatusOK {
		t.Errorf("qa JWT over HTTP: %d %s", code, body)
	}
	if code, body := get("/v1/recordings", jwt("agent", time.Hour)); code != http.StatusForbidden {
		t.Errorf("agent JWT over HTTP: %d %s", code, body)
	}
	if code, body := get("/v1/recordings", jwt("qa", -time.Minute)); code != http.StatusUnauthorized || !strings.Contains(body, "expired") {
		t.Errorf("expired JWT over HTTP: %d %s", code, body)
	}
	rec := hushv1.NewRecordingServiceClient(d.conn)
	ctx := metadata.AppendToOutgoingContext(d.ctx(), "authorization", "Bearer "+jwt("qa", time.Hour))
	if _, err := rec.ListRecordings(ctx, &hushv1.ListRecordingsRequest{}); err != nil {
		t.Errorf("qa JWT over gRPC: %v", err)
	}
	ctx = metadata.AppendToOutgoingContext(d.ctx(), "authorization", "Bearer "+oidctest.Unsigned(t, is.Std("hush", "x", time.Hour)))
	if _, err := rec.ListRecordings(ctx, &hushv1.ListRecordingsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("alg none over gRPC: %v", err)
	}
}

// hushd's pages answer an agent at the QA console with "not for your role", carry the
// strict CSP, and embed everything they use.
func TestPagesRefuseAgentAtQA(t *testing.T) {
	tokens := tokenFile(t, map[string]auth.TokenEntry{"agent": {Subject: "alice", Role: auth.RoleAgent, AgentID: "a-17"}})
	d := startDaemon(t, "--auth-mode", "token", "--auth-token-file", tokens)
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.ready.HTTP+"/qa", nil)
	req.AddCookie(&http.Cookie{Name: "hush_token", Value: browserToken("agent")})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "role agent may not call this method") {
		t.Errorf("agent at /qa: %d %s", resp.StatusCode, b)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	resp, err = http.Get("http://" + d.ready.HTTP + "/qa")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/qa signed out: %d, want 401 (the sign-in page)", resp.StatusCode)
	}
}
