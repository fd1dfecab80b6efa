package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// serverPKI writes a CA and a 127.0.0.1 server certificate signed by it, made at test time.
func serverPKI(t *testing.T, dir string) (caPool *x509.CertPool, certFile, keyFile string) {
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
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "hushd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	caPool = x509.NewCertPool()
	caPool.AddCert(ca)
	return caPool, certFile, keyFile
}

// hushd with TLS, tokens and the audit log: roles are enforced, every call and refusal is
// in a chain that verifies, and no plaintext or unauthenticated caller gets through.
func TestSecureDaemon(t *testing.T) {
	dir := t.TempDir()
	pool, certFile, keyFile := serverPKI(t, dir)
	tokens := map[string]auth.TokenEntry{
		"platform-token-0123456789": {Subject: "sbc-1", Role: auth.RolePlatform},
		"qa-token-0123456789abcdef": {Subject: "quinn", Role: auth.RoleQA},
	}
	var tf bytes.Buffer
	for tok, e := range tokens {
		tf.WriteString(`{"sha256":"` + auth.HashToken(tok) + `","subject":"` + e.Subject + `","role":"` + string(e.Role) + "\"}\n")
	}
	tokenFile := filepath.Join(dir, "tokens.jsonl")
	os.WriteFile(tokenFile, tf.Bytes(), 0o600)
	auditFile := filepath.Join(dir, "audit", "audit.jsonl")

	lo, hi := mediaRange(t, 40)
	args := []string{"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", strconv.Itoa(lo), "--media-port-max", strconv.Itoa(hi),
		"--recording-enabled=false", "--session-drain-timeout", "0s",
		"--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--auth-mode", "token", "--auth-token-file", tokenFile, "--audit-file", auditFile}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	readyc := make(chan ready, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, args, nil, io.Discard, logs, readyc)
	}()
	var rd ready
	select {
	case rd = <-readyc:
	case err := <-done:
		t.Fatalf("hushd exited: %v\n%s", err, logs)
	case <-time.After(wait):
		t.Fatalf("hushd not ready\n%s", logs)
	}
	cc, err := grpc.NewClient(rd.GRPC, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := hushv1.NewSessionServiceClient(cc)
	call := func(tok string) (*hushv1.Session, error) {
		cctx, ccancel := context.WithTimeout(context.Background(), wait)
		defer ccancel()
		if tok != "" {
			cctx = metadata.AppendToOutgoingContext(cctx, "authorization", "Bearer "+tok)
		}
		return c.CreateSession(cctx, &hushv1.CreateSessionRequest{CallId: "call-1", RequestId: "r-1", AgentId: "a-1"})
	}
	s, err := call("platform-token-0123456789")
	if err != nil {
		t.Fatalf("platform create: %v", err)
	}
	if _, err := call("qa-token-0123456789abcdef"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("qa create: %v", err)
	}
	if _, err := call(""); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no token: %v", err)
	}
	// HTTP is TLS too.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + rd.HTTP + "/healthz")
	if err != nil {
		t.Fatalf("https healthz: %v", err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(2 * wait):
		t.Fatal("hushd did not stop")
	}

	f, err := os.Open(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := audit.Verify(f)
	if err != nil || n < 3 {
		t.Fatalf("audit: %d records, %v", n, err)
	}
	data, _ := os.ReadFile(auditFile)
	for _, want := range []string{`"actor":"sbc-1","role":"platform","action":"session.create","session_id":"` + s.GetSessionId(),
		`"actor":"quinn","role":"qa","action":"auth.denied"`, `"actor":"unauthenticated","action":"auth.denied"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("audit lacks %s\n%s", want, data)
		}
	}
}

// A non-loopback listener without TLS and auth is refused at start, naming the setting.
func TestRefusesUnsafeListen(t *testing.T) {
	err := run(context.Background(), []string{"--grpc-listen", "0.0.0.0:0", "--audit-file", ""},
		nil, io.Discard, io.Discard, nil)
	if !errors.Is(err, auth.ErrUnsafeListen) || !strings.Contains(err.Error(), "grpc.insecure") {
		t.Fatalf("run = %v", err)
	}
}

// writeTokens writes a token file of the given tokens (token -> entry).
func writeTokens(t *testing.T, path string, tokens map[string]auth.TokenEntry) {
	t.Helper()
	var tf bytes.Buffer
	for tok, e := range tokens {
		tf.WriteString(`{"sha256":"` + auth.HashToken(tok) + `","subject":"` + e.Subject + `","role":"` + string(e.Role) + `"`)
		if e.AgentID != "" {
			tf.WriteString(`,"agent_id":"` + e.AgentID + `"`)
		}
		tf.WriteString("}\n")
	}
	if err := os.WriteFile(path, tf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// bearer returns ctx carrying a token (bounded by wait).
func bearer(t *testing.T, tok string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}
