package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/hushmedia/hush/internal/config"
)

// ServerTLS is the listeners' TLS configuration. The certificate is served
// through GetCertificate from an atomic pointer, so Reload (on SIGHUP)
// rotates it for new connections without a restart. The client CA is read
// once, at start.
type ServerTLS struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
	base              *tls.Config
}

// NewServerTLS loads tls.* for auth.mode. It returns nil, nil when TLS is
// off (no certificate configured). With a client CA, client certificates
// are required and verified, except in token_or_mtls mode where a
// certificate is optional (but verified when sent).
func NewServerTLS(t config.TLS, mode string) (*ServerTLS, error) {
	if !t.Enabled() {
		return nil, nil
	}
	s := &ServerTLS{certFile: t.CertFile, keyFile: t.KeyFile}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	c := &tls.Config{
		// TLS 1.2 is the floor (RFC 8996 retires 1.0/1.1); Go negotiates 1.3
		// when the client offers it, and its 1.2 defaults are AEAD-only
		// ECDHE suites.
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls.client_ca_file: %v", ErrTLSConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: tls.client_ca_file %s: no PEM certificate", ErrTLSConfig, t.ClientCAFile)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
		if mode == config.AuthTokenOrMTLS {
			c.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	s.base = c
	return s, nil
}

// Reload re-reads the certificate and key; on error the old pair stays.
func (s *ServerTLS) Reload() error {
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("%w: tls.cert_file/tls.key_file: %v", ErrTLSConfig, err)
	}
	s.cert.Store(&pair)
	return nil
}

// GRPC returns a config for credentials.NewTLS (which adds ALPN "h2").
func (s *ServerTLS) GRPC() *tls.Config { return s.base.Clone() }

// HTTP returns a config for the HTTP listener (tls.NewListener).
func (s *ServerTLS) HTTP() *tls.Config {
	c := s.base.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}
