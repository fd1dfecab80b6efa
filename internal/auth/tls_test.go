package auth

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/config"
)

func TestServerTLS(t *testing.T) {
	if st, err := NewServerTLS(config.TLS{}, config.AuthNone); st != nil || err != nil {
		t.Fatalf("TLS off: %v, %v", st, err)
	}
	dir := t.TempDir()
	ca := authtest.NewCA(t, "ca")
	one := ca.Issue(t, authtest.LeafOpts{CN: "one", Server: true})
	tc := config.TLS{
		CertFile:     authtest.WriteFile(t, dir, "c.pem", one.CertPEM),
		KeyFile:      authtest.WriteFile(t, dir, "k.pem", one.KeyPEM),
		ClientCAFile: authtest.WriteFile(t, dir, "ca.PEM", ca.PEM),
	}
	st, err := NewServerTLS(tc, config.AuthMTLS)
	if err != nil {
		t.Fatal(err)
	}
	// Each handshake takes the configuration in force (GetConfigForClient).
	inner := func(c *tls.Config) *tls.Config {
		t.Helper()
		x, err := c.GetConfigForClient(&tls.ClientHelloInfo{})
		if err != nil || x == nil {
			t.Fatalf("GetConfigForClient: %v %v", x, err)
		}
		return x
	}
	g := inner(st.GRPC())
	if g.MinVersion != tls.VersionTLS12 || g.ClientAuth != tls.RequireAndVerifyClientCert || len(g.NextProtos) != 1 {
		t.Errorf("min version %x, client auth %v, ALPN %v", g.MinVersion, g.ClientAuth, g.NextProtos)
	}
	if h := inner(st.HTTP()); len(h.NextProtos) != 2 {
		t.Errorf("HTTP ALPN %v", h.NextProtos)
	}
	if st2, _ := NewServerTLS(tc, config.AuthTokenOrMTLS); inner(st2.GRPC()).ClientAuth != tls.VerifyClientCertIfGiven {
		t.Error("token_or_mtls must make the certificate optional")
	}
	served := func() []byte {
		c, err := g.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificate[0]
	}
	first := served()

	// Rotation: new files, Reload, the next handshake gets the new pair.
	two := ca.Issue(t, authtest.LeafOpts{CN: "two", Server: true})
	authtest.WriteFile(t, dir, "c.pem", two.CertPEM)
	authtest.WriteFile(t, dir, "k.pem", two.KeyPEM)
	if err := st.Reload(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(served(), first) {
		t.Error("Reload did not rotate the certificate")
	}
	// A broken key keeps the old pair.
	authtest.WriteFile(t, dir, "k.pem", []byte("junk"))
	if err := st.Reload(); !errors.Is(err, ErrTLSConfig) {
		t.Errorf("reload of junk: %v", err)
	}
	if !bytes.Equal(served(), two.Pair.Certificate[0]) {
		t.Error("failed reload replaced the certificate")
	}

	for name, bad := range map[string]config.TLS{
		"missing cert": {CertFile: dir + "/nope", KeyFile: tc.KeyFile},
		"missing CA":   {CertFile: tc.CertFile, KeyFile: authtest.WriteFile(t, dir, "k2.pem", two.KeyPEM), ClientCAFile: dir + "/nope"},
		"CA not PEM":   {CertFile: tc.CertFile, KeyFile: dir + "/k2.pem", ClientCAFile: authtest.WriteFile(t, dir, "bad-ca", []byte("x"))},
	} {
		if _, err := NewServerTLS(bad, config.AuthMTLS); !errors.Is(err, ErrTLSConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
