package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/internal/config"
)

// ServerTLS is the listeners' TLS configuration: the server certificate and, for mTLS,
// the Trust client certificates are judged by. Reload (on SIGHUP) re-reads all of them
// (certificate and key, client CA bundle, CRLs) and swaps them atomically for new
// handshakes; the Authorizer re-checks open streams and every call against the new Trust.
type ServerTLS struct {
	t      config.TLS
	mode   string
	now    func() time.Time
	cert   atomic.Pointer[tls.Certificate]
	trust  atomic.Pointer[Trust] // nil without a client CA
	listen [2]atomic.Pointer[tls.Config]
}

const (
	forGRPC = iota
	forHTTP
)

// NewServerTLS loads tls.* for auth.mode. It returns nil, nil when TLS is off (no
// certificate configured). With a client CA, client certificates are required and
// verified, except in token_or_mtls mode where a certificate is optional (but verified
// when sent).
func NewServerTLS(t config.TLS, mode string) (*ServerTLS, error) {
	if !t.Enabled() {
		return nil, nil
	}
	s := &ServerTLS{t: t, mode: mode, now: time.Now}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the certificate and key, the client CA bundle and the CRL file. It is
// all or nothing: on any error the old set stays and the error says which file is bad.
func (s *ServerTLS) Reload() error {
	pair, err := tls.LoadX509KeyPair(s.t.CertFile, s.t.KeyFile)
	if err != nil {
		return fmt.Errorf("%w: tls.cert_file/tls.key_file: %v", ErrTLSConfig, err)
	}
	var trust *Trust
	if s.t.ClientCAFile != "" {
		caPEM, err := os.ReadFile(s.t.ClientCAFile)
		if err != nil {
			return fmt.Errorf("%w: tls.client_ca_file: %v", ErrTLSConfig, err)
		}
		var crl []byte
		if s.t.CRLFile != "" {
			if crl, err = os.ReadFile(s.t.CRLFile); err != nil {
				return fmt.Errorf("%w: tls.crl_file: %v", ErrCRL, err)
			}
		}
		if trust, err = LoadTrust(caPEM, crl); err != nil {
			return err
		}
	}
	s.cert.Store(&pair)
	s.trust.Store(trust)
	s.listen[forGRPC].Store(s.config(trust, []string{"h2"}))
	s.listen[forHTTP].Store(s.config(trust, []string{"h2", "http/1.1"}))
	return nil
}

// config is the handshake configuration for one listener under trust.
func (s *ServerTLS) config(trust *Trust, protos []string) *tls.Config {
	c := &tls.Config{
		// TLS 1.2 is the floor (RFC 8996 retires 1.0/1.1); Go negotiates 1.3 when the
		// client offers it, and its 1.2 defaults are AEAD-only ECDHE suites.
		MinVersion: tls.VersionTLS12,
		NextProtos: protos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
	if trust != nil {
		c.ClientCAs = trust.pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
		if s.mode == config.AuthTokenOrMTLS {
			c.ClientAuth = tls.VerifyClientCertIfGiven
		}
		// Go verified the chain against the pool; this adds the CRLs. It runs on resumed
		// sessions too, so a session ticket does not outlive a revocation.
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.VerifiedChains) == 0 {
				return nil // no certificate sent, where one is optional
			}
			return trust.Check(cs.VerifiedChains[0], s.now())
		}
	}
	return c
}

// GRPC returns a config for credentials.NewTLS. Each handshake takes the configuration
// current at that moment.
func (s *ServerTLS) GRPC() *tls.Config { return s.outer(forGRPC) }

// HTTP returns a config for the HTTP listener (tls.NewListener).
func (s *ServerTLS) HTTP() *tls.Config { return s.outer(forHTTP) }

func (s *ServerTLS) outer(which int) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.listen[which].Load(), nil
		},
	}
}

// CheckChain judges a verified client chain by the current Trust (see Trust.Check).
func (s *ServerTLS) CheckChain(chain []*x509.Certificate) error {
	t := s.trust.Load()
	if t == nil {
		return errors.New("client certificates are not configured")
	}
	return t.Check(chain, s.now())
}

// Trust returns the client trust in force (nil without a client CA).
func (s *ServerTLS) Trust() *Trust { return s.trust.Load() }
