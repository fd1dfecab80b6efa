package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a platform
// client certificate into dir, made at test time.
type pki struct{ ca, srvCert, srvKey, cliCert, cliKey string }

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(serial int64, cn string, ous []string, server bool) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, OrganizationalUnit: ous},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return write(cn+".crt", "CERTIFICATE", der), write(cn+".key", "EC PRIVATE KEY", kder)
	}
	p := pki{ca: write("ca.crt", "CERTIFICATE", caDER)}
	p.srvCert, p.srvKey = issue(2, "hushd", nil, true)
	p.cliCert, p.cliKey = issue(3, "sbc-9", []string{"platform"}, false)
	return p
}

const platformToken = "platform-token-0123456789"

// startSecure serves the fake SessionService over TLS with hush's real
// authorizer in the given mode.
func startSecure(t *testing.T, mode string) (addr string, p pki, f *fakeServer) {
	t.Helper()
	dir := t.TempDir()
	p = newPKI(t, dir)
	tc := config.TLS{CertFile: p.srvCert, KeyFile: p.srvKey}
	if mode != config.AuthToken {
		tc.ClientCAFile = p.ca
	}
	st, err := auth.NewServerTLS(tc, mode)
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokenStore([]auth.TokenEntry{{SHA256: auth.HashToken(platformToken), Subject: "sbc-1", Role: auth.RolePlatform}})
	az, err := auth.NewAuthorizer(auth.Options{Mode: mode, Tokens: tokens, Certs: st,
		Owner: ownerFunc(func(string) (string, bool) { return "", false })})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(st.GRPC())),
		grpc.UnaryInterceptor(az.Unary()), grpc.StreamInterceptor(az.Stream()))
	f = &fakeServer{}
	hushv1.RegisterSessionServiceServer(srv, f)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), p, f
}

type ownerFunc func(string) (string, bool)

func (o ownerFunc) AgentOf(id string) (string, bool) { return o(id) }

// runCtl runs hushctl without the in-process dialer.
func runCtl(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	return result{code, out.String(), errOut.String()}
}

func TestTLSAndToken(t *testing.T) {
	addr, p, _ := startSecure(t, config.AuthToken)
	base := []string{"--addr", addr, "--ca", p.ca}
	get := append(append([]string{}, base...), "session", "get", "s-1")

	r := runCtl(t, "", map[string]string{tokenEnv: platformToken}, get...)
	if r.code != exitOK {
		t.Fatalf("token via env: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "output", r.stdout, "s-1")
	if r := runCtl(t, "", nil, append(get, "--token", platformToken)...); r.code != exitOK {
		t.Fatalf("token via flag: exit %d: %s", r.code, r.stderr)
	}
	r = runCtl(t, "", nil, get...)
	if r.code != exitFail {
		t.Fatalf("no token: exit %d", r.code)
	}
	contains(t, "stderr", r.stderr, "Unauthenticated")
	r = runCtl(t, "", map[string]string{tokenEnv: "wrong-token-0123456789"}, get...)
	contains(t, "stderr", r.stderr, "Unauthenticated", "invalid token")
	// Without --ca the server's private CA is not trusted.
	r = runCtl(t, "", map[string]string{tokenEnv: platformToken}, "--addr", addr, "--tls", "session", "get", "s-1")
	if r.code != exitFail || !strings.Contains(r.stderr, "Unavailable") {
		t.Fatalf("untrusted server: exit %d: %s", r.code, r.stderr)
	}
}

func TestMTLS(t *testing.T) {
	addr, p, _ := startSecure(t, config.AuthMTLS)
	r := runCtl(t, "", nil, "--addr", addr, "--ca", p.ca, "--cert", p.cliCert, "--key", p.cliKey, "session", "get", "s-1")
	if r.code != exitOK {
		t.Fatalf("mTLS: exit %d: %s", r.code, r.stderr)
	}
	r = runCtl(t, "", nil, "--addr", addr, "--ca", p.ca, "session", "get", "s-1")
	if r.code != exitFail {
		t.Fatalf("no client cert: exit %d", r.code)
	}
	r = runCtl(t, "", nil, "--addr", addr, "--cert", p.cliCert, "session", "get", "s-1")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--cert and --key go together") {
		t.Fatalf("cert without key: exit %d: %s", r.code, r.stderr)
	}
}

func TestTokenNeverInPlaintextToRemote(t *testing.T) {
	r := runCtl(t, "", map[string]string{tokenEnv: platformToken}, "--addr", "192.0.2.1:50051", "session", "get", "s-1")
	if r.code != exitUsage || !strings.Contains(r.stderr, "refusing to send a token in plaintext") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, platformToken) {
		t.Error("the token was printed")
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "localhost:1": true,
		"passthrough:///127.0.0.1:1": true, "10.0.0.1:1": false, "hush:1": false, "nonsense": false} {
		if got := loopbackTarget(addr); got != want {
			t.Errorf("loopbackTarget(%q) = %v", addr, got)
		}
	}
}

func TestAuditVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, act := range []string{audit.ActionSessionCreate, audit.ActionPause, audit.ActionSessionDelete} {
		if _, err := l.Append(audit.Record{Actor: "sbc-1", Action: act, SessionID: "s-1", Outcome: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	r := runCtl(t, "", nil, "audit", "verify", path)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	contains(t, "stdout", r.stdout, "OK, 3 records")

	data, _ := os.ReadFile(path)
	second := bytes.IndexByte(data, '\n') + 1
	data[second+20] ^= 1 // one byte of line 2
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	r = runCtl(t, "", nil, "audit", "verify", path)
	if r.code != exitFail {
		t.Fatalf("tampered: exit %d", r.code)
	}
	contains(t, "stdout", r.stdout, "BROKEN at line 2", "1 good records")

	if r := runCtl(t, "", nil, "audit", "verify", path+".missing"); r.code != exitFail {
		t.Errorf("missing file: exit %d", r.code)
	}
	for _, args := range [][]string{{"audit"}, {"audit", "check", path}, {"audit", "verify"}, {"audit", "verify", "a", "b"}} {
		if r := runCtl(t, "", nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d", args, r.code)
		}
	}
}

func TestTokenHash(t *testing.T) {
	r := runCtl(t, "  "+platformToken+"\n", nil, "token", "hash", "--subject", "alice", "--role", "agent", "--agent-id", "a-17")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var e auth.TokenEntry
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
		t.Fatal(err)
	}
	want := auth.TokenEntry{SHA256: auth.HashToken(platformToken), Subject: "alice", Role: auth.RoleAgent, AgentID: "a-17"}
	if e != want {
		t.Errorf("entry %+v, want %+v", e, want)
	}
	if strings.Contains(r.stdout, platformToken) {
		t.Error("the token itself was printed")
	}
	// The printed line loads as a token file that accepts the token.
	es, err := auth.ParseTokens(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := auth.NewTokenStore(es).Lookup(platformToken); !ok || id.AgentID != "a-17" {
		t.Errorf("lookup %+v, %v", id, ok)
	}

	for name, tc := range map[string]struct {
		stdin string
		args  []string
		want  string
	}{
		"short token":      {"short\n", []string{"--subject", "s", "--role", "qa"}, "at least 16"},
		"empty stdin":      {"", []string{"--subject", "s", "--role", "qa"}, "at least 16"},
		"no role":          {platformToken, []string{"--subject", "s"}, "role must be one of"},
		"agent without id": {platformToken, []string{"--subject", "s", "--role", "agent"}, "agent_id is required"},
		"no subject":       {platformToken, []string{"--role", "qa"}, "subject is required"},
		"token as arg":     {"", []string{platformToken}, "reads the token on stdin"},
	} {
		r := runCtl(t, tc.stdin, nil, append([]string{"token", "hash"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d: %s", name, r.code, r.stderr)
		}
	}
}

func TestTokenNew(t *testing.T) {
	a, b := runCtl(t, "", nil, "token", "new"), runCtl(t, "", nil, "token", "new")
	if a.code != exitOK || len(strings.TrimSpace(a.stdout)) != 43 || a.stdout == b.stdout {
		t.Fatalf("token new: %d %q %q", a.code, a.stdout, b.stdout)
	}
	// A new token goes straight into token hash.
	if r := runCtl(t, a.stdout, nil, "token", "hash", "--subject", "s", "--role", "qa"); r.code != exitOK {
		t.Errorf("hash of a new token: %s", r.stderr)
	}
	if r := runCtl(t, "", nil, "token"); r.code != exitUsage {
		t.Errorf("token without verb: exit %d", r.code)
	}
}

// --crl: hushctl refuses a hushd certificate revoked by a CRL its --ca signed, and
// accepts it when the CRL does not list it.
func TestServerCRL(t *testing.T) {
	dir := t.TempDir()
	ca := authtest.NewCA(t, "hush CA")
	srv := ca.Issue(t, authtest.LeafOpts{CN: "hushd", Server: true})
	st, err := auth.NewServerTLS(config.TLS{CertFile: authtest.WriteFile(t, dir, "s.crt", srv.CertPEM),
		KeyFile: authtest.WriteFile(t, dir, "s.key", srv.KeyPEM)}, config.AuthToken)
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokenStore([]auth.TokenEntry{{SHA256: auth.HashToken(platformToken), Subject: "sbc-1", Role: auth.RolePlatform}})
	az, err := auth.NewAuthorizer(auth.Options{Mode: config.AuthToken, Tokens: tokens,
		Owner: ownerFunc(func(string) (string, bool) { return "", false })})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(st.GRPC())), grpc.UnaryInterceptor(az.Unary()))
	hushv1.RegisterSessionServiceServer(g, &fakeServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	caFile := authtest.WriteFile(t, dir, "ca.crt", ca.PEM)
	env := map[string]string{tokenEnv: platformToken}
	get := func(crl []byte) result {
		return runCtl(t, "", env, "--addr", lis.Addr().String(), "--ca", caFile,
			"--crl", authtest.WriteFile(t, dir, "hush.crl", crl), "session", "get", "s-1")
	}
	if r := get(ca.CRL(t, time.Time{})); r.code != exitOK {
		t.Fatalf("CRL not listing hushd's certificate: exit %d: %s", r.code, r.stderr)
	}
	r := get(ca.CRL(t, time.Time{}, srv.Cert))
	if r.code != exitFail {
		t.Fatalf("revoked hushd certificate: exit %d", r.code)
	}
	contains(t, "stderr", r.stderr, "revoked")
	if r := get(authtest.NewCA(t, "other").CRL(t, time.Time{})); r.code != exitFail || !strings.Contains(r.stderr, "not signed") {
		t.Fatalf("CRL of another CA: exit %d: %s", r.code, r.stderr)
	}
	if r := runCtl(t, "", env, "--addr", lis.Addr().String(), "--crl", "x.crl", "session", "get", "s-1"); r.code != exitUsage {
		t.Fatalf("--crl without --ca: exit %d", r.code)
	}
}

func TestVersionFlag(t *testing.T) {
	r := runCtl(t, "", nil, "--version")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "hushctl ") || !strings.Contains(r.stdout, " go1.") {
		t.Fatalf("--version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
