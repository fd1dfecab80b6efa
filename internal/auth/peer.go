package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/hushmedia/hush/internal/config"
)

// Requests between cluster nodes. A node that gets a request for a session another node
// runs authenticates and authorizes the caller itself (the edge), then forwards the
// request to the owner's peer listener over the cluster's mTLS. The owner must not take
// the forwarding node's word for more than it can check:
//
//   - A caller that sent a bearer token (hush's own, or an OIDC JWT) is forwarded with
//     its token: the owner authenticates the token itself and trusts the peer for nothing.
//   - A caller that presented a client certificate cannot be re-proved (its key stays
//     with it), so the edge forwards the identity it verified, in one metadata header.
//     The owner honours that header only on its peer listener, only from a connection
//     whose certificate verifies against the cluster CA and carries the OU PeerOU, and
//     then authorizes the named caller by the same policy table and agent binding as any
//     other (against its own, authoritative, session state). The peer certificate itself
//     grants no method: a forwarding node can only relay what a caller may do, never
//     turn it into more, and the client listener never reads the header.
//
// A peer (a node's certificate) is thus trusted to say who a certificate caller is,
// which it verified, never what that caller may do.

// PeerOU marks a cluster node's certificate (cluster.cert_file): only a certificate with
// this OU, signed by the cluster CA, may forward requests. It names no role, so a peer
// certificate presented to the client listener is refused.
const PeerOU = "hush-peer"

// forwardedHeader carries the identity a peer verified for a certificate caller.
const forwardedHeader = "x-hush-forwarded-identity"

// maxForwardedHeader bounds the forwarded identity header.
const maxForwardedHeader = 2048

// forwarded is the wire form of a forwarded identity.
type forwarded struct {
	Subject string `json:"s"`
	Role    Role   `json:"r"`
	AgentID string `json:"a,omitempty"`
	Method  string `json:"m"`
}

// ForwardContext returns the outgoing context of a request this node forwards to a
// session's owner on behalf of the caller that ctx (an incoming call the authorizer
// passed) carries: its bearer token when it used one, else the identity it proved.
// Deadline and cancellation come from ctx.
func ForwardContext(ctx context.Context) (context.Context, error) {
	id, ok := FromContext(ctx)
	if !ok {
		return nil, errors.New("auth: forwarding a call that was not authenticated")
	}
	out := metadata.MD{}
	if id.Method == MethodToken || id.Method == MethodOIDC {
		in, _ := metadata.FromIncomingContext(ctx)
		authz := in.Get("authorization")
		if len(authz) != 1 {
			return nil, errors.New("auth: token caller without its token")
		}
		out.Set("authorization", authz[0])
	} else {
		b, err := json.Marshal(forwarded(id))
		if err != nil {
			return nil, err
		}
		out.Set(forwardedHeader, base64.RawURLEncoding.EncodeToString(b))
	}
	return metadata.NewOutgoingContext(ctx, out), nil
}

// parseForwarded reads a forwarded identity header. Only certificate (and, with
// authentication off, anonymous) identities travel this way: a token caller is forwarded
// with its token.
func parseForwarded(vals []string) (Identity, error) {
	if len(vals) != 1 {
		return Identity{}, fmt.Errorf("%d forwarded identity headers", len(vals))
	}
	if len(vals[0]) > maxForwardedHeader {
		return Identity{}, errors.New("forwarded identity too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(vals[0])
	if err != nil {
		return Identity{}, errors.New("forwarded identity is not base64url")
	}
	var f forwarded
	if err := json.Unmarshal(b, &f); err != nil {
		return Identity{}, errors.New("forwarded identity is not JSON")
	}
	if f.Method != MethodCert && f.Method != MethodNone {
		return Identity{}, errors.New("forwarded identity: only certificate callers are forwarded by identity")
	}
	if err := checkName("subject", f.Subject, true); err != nil {
		return Identity{}, fmt.Errorf("forwarded identity: %v", err)
	}
	if err := checkName("agent id", f.AgentID, f.Role == RoleAgent); err != nil {
		return Identity{}, fmt.Errorf("forwarded identity: %v", err)
	}
	if !f.Role.Valid() && f.Method != MethodNone {
		return Identity{}, errors.New("forwarded identity: unknown role")
	}
	return Identity(f), nil
}

// peerCredential authenticates a request on the peer listener: the connection must be a
// cluster peer's (unless the cluster runs without TLS, which config allows only with
// auth.mode none on loopback); the caller is the forwarded token, or else the forwarded
// identity.
func (a *Authorizer) peerCredential(ctx context.Context, md metadata.MD, chain []*x509.Certificate) (credential, string) {
	if a.o.Peers != nil {
		if chain == nil {
			return credential{}, "peer certificate required"
		}
		if err := a.o.Peers.CheckChain(chain); err != nil {
			return credential{}, err.Error()
		}
		if !slices.Contains(chain[0].Subject.OrganizationalUnit, PeerOU) {
			return credential{}, "not a cluster peer certificate (OU " + PeerOU + ")"
		}
	} else {
		chain = nil
	}
	c, reason := a.forwardedCredential(ctx, md)
	c.peer = chain
	return c, reason
}

// forwardedCredential is the caller a peer names: its forwarded token, or else the
// forwarded identity.
func (a *Authorizer) forwardedCredential(ctx context.Context, md metadata.MD) (credential, string) {
	if a.o.Mode == config.AuthNone {
		return credential{id: Identity{Subject: "anonymous", Method: MethodNone}}, ""
	}
	if authz := md.Get("authorization"); len(authz) > 0 {
		if !(config.Auth{Mode: a.o.Mode}).Tokens() {
			return credential{}, "a forwarded token in a mode without tokens"
		}
		return a.authenticateWith(ctx, authz, nil) // the token judged as at the edge
	}
	vals := md.Get(forwardedHeader)
	if len(vals) == 0 {
		return credential{}, "a peer request names no caller"
	}
	id, err := parseForwarded(vals)
	if err != nil {
		return credential{}, err.Error()
	}
	if id.Method == MethodNone || !(config.Auth{Mode: a.o.Mode}).Certs() {
		return credential{}, "forwarded identity not accepted in auth.mode " + a.o.Mode
	}
	return credential{id: id}, ""
}

// PeerTLS is the cluster's mTLS: one certificate per node (with the OU PeerOU), signed by
// a CA for the cluster alone, used both to serve the peer listener and to dial peers. The
// cluster CA and its CRLs (cluster.crl_file) are the Trust node certificates are judged
// by; Reload (on SIGHUP) re-reads both, so revoking a node takes effect on new
// connections in both directions, on every forwarded call and on open forwarded streams.
// The node's own certificate and key are read once, at start.
type PeerTLS struct {
	cert            tls.Certificate
	caFile, crlFile string
	trust           atomic.Pointer[Trust]
	server          atomic.Pointer[tls.Config]
	now             func() time.Time
}

// LoadPeerTLS reads cluster.cert_file, cluster.key_file, cluster.ca_file and, when not
// empty, cluster.crl_file.
func LoadPeerTLS(certFile, keyFile, caFile, crlFile string) (*PeerTLS, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: cluster.cert_file/cluster.key_file: %v", ErrTLSConfig, err)
	}
	if pair.Leaf == nil || !slices.Contains(pair.Leaf.Subject.OrganizationalUnit, PeerOU) {
		return nil, fmt.Errorf("%w: cluster.cert_file: the node certificate needs the OU %s", ErrTLSConfig, PeerOU)
	}
	p := &PeerTLS{cert: pair, caFile: caFile, crlFile: crlFile, now: time.Now}
	if err := p.Reload(); err != nil {
		return nil, err
	}
	return p, nil
}

// Reload re-reads cluster.ca_file and cluster.crl_file. All or nothing: on an error the
// trust in force stays.
func (p *PeerTLS) Reload() error {
	caPEM, err := os.ReadFile(p.caFile)
	if err != nil {
		return fmt.Errorf("%w: cluster.ca_file: %v", ErrTLSConfig, err)
	}
	var crl []byte
	if p.crlFile != "" {
		if crl, err = os.ReadFile(p.crlFile); err != nil {
			return fmt.Errorf("%w: cluster.crl_file: %v", ErrCRL, err)
		}
	}
	trust, err := loadTrust(caPEM, crl, "cluster.ca_file", "cluster.crl_file")
	if err != nil {
		return err
	}
	p.trust.Store(trust)
	p.server.Store(p.serverConfig(trust))
	return nil
}

// Trust returns the cluster trust in force.
func (p *PeerTLS) Trust() *Trust { return p.trust.Load() }

// CheckChain judges a peer's verified chain by the cluster CA and CRLs in force, now.
func (p *PeerTLS) CheckChain(chain []*x509.Certificate) error {
	return p.trust.Load().Check(chain, p.now())
}

// verifyPeer verifies a peer's certificate chain against the cluster CA (any key usage:
// one certificate serves and dials) and requires the peer OU. Host names are not
// checked: the cluster CA signs node certificates only, and a node is known by the OU.
func (p *PeerTLS) verifyPeer(raw [][]byte) ([]*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, errors.New("no peer certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return nil, err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	trust := p.trust.Load()
	chains, err := certs[0].Verify(x509.VerifyOptions{Roots: trust.pool, Intermediates: inter,
		CurrentTime: p.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, err
	}
	if !slices.Contains(certs[0].Subject.OrganizationalUnit, PeerOU) {
		return nil, fmt.Errorf("not a cluster peer certificate (OU %s)", PeerOU)
	}
	if err := trust.Check(chains[0], p.now()); err != nil {
		return nil, err
	}
	return chains[0], nil
}

// Server is the peer listener's TLS: a certificate signed by the cluster CA (for client
// authentication) with the peer OU, not revoked, is required. Each handshake takes the
// trust in force at that moment.
func (p *PeerTLS) Server() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return p.server.Load(), nil
		},
	}
}

// serverConfig is the peer listener's handshake configuration under trust.
func (p *PeerTLS) serverConfig(trust *Trust) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"},
		Certificates: []tls.Certificate{p.cert},
		ClientCAs:    trust.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		// Go verified the chain against the pool; this adds the OU and the CRLs. It runs
		// on resumed sessions too, so a session ticket does not outlive a revocation.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.VerifiedChains) == 0 || !slices.Contains(cs.VerifiedChains[0][0].Subject.OrganizationalUnit, PeerOU) {
				return fmt.Errorf("not a cluster peer certificate (OU %s)", PeerOU)
			}
			return trust.Check(cs.VerifiedChains[0], p.now())
		},
	}
}

// Client is the TLS a node dials its peers with.
func (p *PeerTLS) Client() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"},
		Certificates: []tls.Certificate{p.cert},
		// Verification is verifyPeer's (the cluster CA and CRLs in force, the peer OU, no
		// host name).
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := p.verifyPeer(raw)
			return err
		},
	}
}
