package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/auth/authtest"
)

// get fetches https://HTTP/path with an optional bearer token and client certificate and
// returns the status code and whether the body is Prometheus text with hush's metrics.
func (d *secureDaemon) get(t *testing.T, path, token string, certs ...tls.Certificate) (int, bool) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.ca.Pool(), Certificates: certs}}, Timeout: wait}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "https://"+d.ready.HTTP+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.Contains(string(body), "hush_sessions_active")
}

// TestMetricsNeedsCredential: in token and token_or_mtls modes /metrics answers only a
// token or certificate of role metrics (or admin): none is 401, another role 403, both
// audited; /healthz stays open; http.metrics_open opens /metrics for a private network.
func TestMetricsNeedsCredential(t *testing.T) {
	const metricsTok, agentTok, adminTok = "metrics-token-0123456789abcdef", "agent-token-m-0123456789abcdef", "admin-token-m-0123456789abcdef"
	tokens := map[string]auth.TokenEntry{
		metricsTok: {Subject: "prometheus", Role: auth.RoleMetrics},
		agentTok:   {Subject: "alice", Role: auth.RoleAgent, AgentID: "a-1"},
		adminTok:   {Subject: "ops", Role: auth.RoleAdmin},
	}
	for _, mode := range []string{"token", "token_or_mtls"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			ca := authtest.NewCA(t, "hush CA")
			tokenFile := filepath.Join(dir, "tokens.jsonl")
			writeTokens(t, tokenFile, tokens)
			args := []string{"--auth-mode", mode, "--auth-token-file", tokenFile}
			if mode == "token_or_mtls" {
				args = append(args, "--tls-client-ca-file", authtest.WriteFile(t, dir, "clients.crt", ca.PEM))
			}
			d := startSecure(t, ca, dir, args...)
			for _, c := range []struct {
				name, path, token string
				certs             []tls.Certificate
				want              int
			}{
				{"no credential", "/metrics", "", nil, http.StatusUnauthorized},
				{"unknown token", "/metrics", "not-a-token", nil, http.StatusUnauthorized},
				{"agent token", "/metrics", agentTok, nil, http.StatusForbidden},
				{"metrics token", "/metrics", metricsTok, nil, http.StatusOK},
				{"admin token", "/metrics", adminTok, nil, http.StatusOK},
				{"healthz without credential", "/healthz", "", nil, http.StatusOK},
			} {
				if code, ok := d.get(t, c.path, c.token, c.certs...); code != c.want || (c.path == "/metrics" && ok != (c.want == http.StatusOK)) {
					t.Errorf("%s: %d (metrics in body: %v), want %d", c.name, code, ok, c.want)
				}
			}
			if mode == "token_or_mtls" {
				scraper := ca.Issue(t, authtest.LeafOpts{CN: "prometheus", OUs: []string{"metrics"}}).Pair
				agent := ca.Issue(t, authtest.LeafOpts{CN: "a-1", OUs: []string{"agent"}}).Pair
				if code, ok := d.get(t, "/metrics", "", scraper); code != http.StatusOK || !ok {
					t.Errorf("metrics certificate: %d", code)
				}
				if code, _ := d.get(t, "/metrics", "", agent); code != http.StatusForbidden {
					t.Errorf("agent certificate: %d, want 403", code)
				}
			}
			denied := 0
			for _, r := range auditRecords(t, d.auditFile) {
				if r.Action == audit.ActionAuthDenied && strings.HasPrefix(r.Detail, "GET /metrics") {
					denied++
				}
			}
			if denied < 3 {
				t.Errorf("%d refused /metrics requests audited, want at least 3", denied)
			}
		})
	}
	t.Run("metrics_open", func(t *testing.T) {
		dir := t.TempDir()
		tokenFile := filepath.Join(dir, "tokens.jsonl")
		writeTokens(t, tokenFile, tokens)
		d := startSecure(t, authtest.NewCA(t, "hush CA"), dir, "--auth-mode", "token", "--auth-token-file", tokenFile, "--http-metrics-open")
		if code, ok := d.get(t, "/metrics", ""); code != http.StatusOK || !ok {
			t.Errorf("http.metrics_open: /metrics without a credential: %d", code)
		}
	})
}

// TestPprofNeedsAdmin: /debug/pprof/ answers the admin role only, through the same
// authorizer as /metrics (even with http.metrics_open), and a CPU profile runs there.
func TestPprofNeedsAdmin(t *testing.T) {
	const metricsTok, agentTok, adminTok = "metrics-token-0123456789abcdef", "agent-token-m-0123456789abcdef", "admin-token-m-0123456789abcdef"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens.jsonl")
	writeTokens(t, tokenFile, map[string]auth.TokenEntry{
		metricsTok: {Subject: "prometheus", Role: auth.RoleMetrics},
		agentTok:   {Subject: "alice", Role: auth.RoleAgent, AgentID: "a-1"},
		adminTok:   {Subject: "ops", Role: auth.RoleAdmin},
	})
	ca := authtest.NewCA(t, "hush CA")
	d := startSecure(t, ca, dir, "--auth-mode", "token", "--auth-token-file", tokenFile, "--http-metrics-open")
	get := func(path, token string) (int, string) {
		t.Helper()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}, Timeout: 3 * wait}
		defer hc.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, "https://"+d.ready.HTTP+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, c := range []struct {
		name, token string
		want        int
	}{{"no credential", "", 401}, {"metrics token", metricsTok, 403}, {"agent token", agentTok, 403}, {"admin token", adminTok, 200}} {
		code, body := get("/debug/pprof/", c.token)
		if code != c.want || (code == 200) != strings.Contains(body, "goroutine") {
			t.Errorf("%s: /debug/pprof/ %d, want %d", c.name, code, c.want)
		}
	}
	if code, body := get("/debug/pprof/profile?seconds=1", adminTok); code != 200 || len(body) == 0 {
		t.Errorf("CPU profile: %d, %d bytes", code, len(body))
	}
	if code, _ := get("/debug/pprof/profile?seconds=100000", adminTok); code != 400 {
		t.Errorf("a profile of 100000 s: %d, want 400", code)
	}
	denied := 0
	for _, r := range auditRecords(t, d.auditFile) {
		if r.Action == audit.ActionAuthDenied && strings.HasPrefix(r.Detail, "GET /debug/pprof/") {
			denied++
		}
	}
	if denied != 3 {
		t.Errorf("%d refused /debug/pprof/ requests audited, want 3", denied)
	}
}
