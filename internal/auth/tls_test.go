package auth

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/hushmedia/hush/internal/config"
)

func TestServerTLS(t *testing.T) {
	if st, err := NewServerTLS(config.TLS{}, config.AuthNone); st != nil || err != nil {
		t.Fatalf("TLS off: %v, %v", st, err)
	}
	dir := t.TempDir()
	ca := newCA(t, "ca")
	one := ca.issue(t, leafOpts{cn: "one", server: true})
	tc := config.TLS{
		CertFile:     writeFile(t, dir, "c.pem", one.certPEM),
		KeyFile:      writeFile(t, dir, "k.pem", one.keyPEM),
		ClientCAFile: writeFile(t, dir, "ca.pem", ca.pem),
	}
	st, err := NewServerTLS(tc, config.AuthMTLS)
	if err != nil {
		t.Fatal(err)
	}
	g := st.GRPC()
	if g.MinVersion != tls.VersionTLS12 || g.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("min version %x, client auth %v", g.MinVersion, g.ClientAuth)
	}
	if h := st.HTTP(); len(h.NextProtos) != 2 {
		t.Errorf("HTTP ALPN %v", h.NextProtos)
	}
	if st2, _ := NewServerTLS(tc, config.AuthTokenOrMTLS); st2.GRPC().ClientAuth != tls.VerifyClientCertIfGiven {
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
	two := ca.issue(t, leafOpts{cn: "two", server: true})
	writeFile(t, dir, "c.pem", two.certPEM)
	writeFile(t, dir, "k.pem", two.keyPEM)
	if err := st.Reload(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(served(), first) {
		t.Error("Reload did not rotate the certificate")
	}
	// A broken key keeps the old pair.
	writeFile(t, dir, "k.pem", []byte("junk"))
	if err := st.Reload(); !errors.Is(err, ErrTLSConfig) {
		t.Errorf("reload of junk: %v", err)
	}
	if !bytes.Equal(served(), two.pair.Certificate[0]) {
		t.Error("failed reload replaced the certificate")
	}

	for name, bad := range map[string]config.TLS{
		"missing cert": {CertFile: dir + "/nope", KeyFile: tc.KeyFile},
		"missing CA":   {CertFile: tc.CertFile, KeyFile: writeFile(t, dir, "k2.pem", two.keyPEM), ClientCAFile: dir + "/nope"},
		"CA not PEM":   {CertFile: tc.CertFile, KeyFile: dir + "/k2.pem", ClientCAFile: writeFile(t, dir, "bad-ca", []byte("x"))},
	} {
		if _, err := NewServerTLS(bad, config.AuthMTLS); !errors.Is(err, ErrTLSConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
