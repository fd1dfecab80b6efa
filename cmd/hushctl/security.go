package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/internal/auth"
)

// tokenEnv holds the bearer token; safer than --token, which other users
// can read in the process list.
const tokenEnv = "HUSHCTL_TOKEN"

// security is how hushctl proves who it is and checks whom it talks to.
type security struct {
	tls        bool
	ca         string
	crl        string
	cert, key  string
	serverName string
	token      string
}

func (s *security) register(fs *flag.FlagSet) {
	fs.BoolVar(&s.tls, "tls", s.tls, "connect with TLS (implied by --ca and --cert)")
	fs.StringVar(&s.ca, "ca", s.ca, "PEM `FILE` of CAs that sign hushd's certificate (default: system roots)")
	fs.StringVar(&s.crl, "crl", s.crl, "certificate revocation lists `FILE` (PEM or DER, signed by a --ca CA): refuse a revoked hushd certificate")
	fs.StringVar(&s.cert, "cert", s.cert, "PEM client certificate `FILE` for mTLS (with --key)")
	fs.StringVar(&s.key, "key", s.key, "PEM client key `FILE` for mTLS")
	fs.StringVar(&s.serverName, "server-name", s.serverName, "name to verify in hushd's certificate (default: the --addr host)")
	fs.StringVar(&s.token, "token", s.token, "bearer token (prefer env "+tokenEnv+": flags show in ps)")
}

// dialOptions builds transport and per-call credentials for addr.
func (s *security) dialOptions(addr string) ([]grpc.DialOption, error) {
	if (s.cert == "") != (s.key == "") {
		return nil, usageErrorf("--cert and --key go together")
	}
	if s.crl != "" && s.ca == "" {
		return nil, usageErrorf("--crl needs --ca (the CRLs must be signed by a CA it names)")
	}
	useTLS := s.tls || s.ca != "" || s.cert != ""
	token := strings.TrimSpace(s.token)
	if token != "" && !useTLS && !loopbackTarget(addr) {
		return nil, usageErrorf("refusing to send a token in plaintext to %s: add --tls", addr)
	}
	var opts []grpc.DialOption
	if !useTLS {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.serverName}
		if s.ca != "" {
			pem, err := os.ReadFile(s.ca)
			if err != nil {
				return nil, fmt.Errorf("--ca: %w", err)
			}
			c.RootCAs = x509.NewCertPool()
			if !c.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--ca %s: no PEM certificate", s.ca)
			}
			if s.crl != "" {
				if err := s.checkRevocation(c, pem); err != nil {
					return nil, err
				}
			}
		}
		if s.cert != "" {
			pair, err := tls.LoadX509KeyPair(s.cert, s.key)
			if err != nil {
				return nil, fmt.Errorf("--cert/--key: %w", err)
			}
			c.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(c)))
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: token, secure: useTLS}))
	}
	return opts, nil
}

// checkRevocation makes the handshake refuse a hushd certificate that the CRLs of --crl
// revoke, with the same judge hushd applies to client certificates.
func (s *security) checkRevocation(c *tls.Config, caPEM []byte) error {
	crl, err := os.ReadFile(s.crl)
	if err != nil {
		return fmt.Errorf("--crl: %w", err)
	}
	trust, err := auth.LoadTrust(caPEM, crl)
	if err != nil {
		return fmt.Errorf("--crl %s: %w", s.crl, err)
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.VerifiedChains) == 0 {
			return errors.New("hushd's certificate was not verified")
		}
		if err := trust.Check(cs.VerifiedChains[0], time.Now()); err != nil {
			return fmt.Errorf("hushd's certificate: %w", err)
		}
		return nil
	}
	return nil
}

// bearer sends "authorization: Bearer TOKEN" (RFC 6750 s2.1) on each call.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity lets the token travel in plaintext only where
// dialOptions allowed it: to a loopback address.
func (b bearer) RequireTransportSecurity() bool { return b.secure }

// loopbackTarget reports whether addr (host:port, possibly with a gRPC
// scheme) names a loopback host.
func loopbackTarget(addr string) bool {
	if i := strings.LastIndex(addr, "///"); i >= 0 {
		addr = addr[i+3:]
	}
	return auth.IsLoopback(addr)
}
