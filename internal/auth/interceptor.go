package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/config"
)

// SessionOwner tells which agent a session is bound to. The session
// registry implements it; ok is false when the session does not exist.
type SessionOwner interface {
	AgentOf(sessionID string) (agentID string, ok bool)
}

// sessionRequest is satisfied by every generated request with a session_id.
type sessionRequest interface {
	GetSessionId() string
}

// agentRequest is satisfied by every generated request with an agent_id.
type agentRequest interface {
	GetAgentId() string
}

// DeniedFunc observes a refused call (for the audit log). id is the zero
// Identity when the caller was not authenticated. reason never holds a
// credential.
type DeniedFunc func(ctx context.Context, fullMethod string, id Identity, code codes.Code, reason string)

// CertChecker judges a client certificate chain the TLS handshake verified by the trust
// in force now (ServerTLS implements it): revoked, expired or no longer trusted is an
// error.
type CertChecker interface {
	CheckChain(chain []*x509.Certificate) error
}

// Options configure an Authorizer.
type Options struct {
	Mode   string       // config.AuthNone, AuthToken, AuthMTLS or AuthTokenOrMTLS
	Tokens *TokenStore  // token file; a token mode needs it or OIDC
	OIDC   *OIDC        // JWT bearer tokens from an identity provider (token modes); optional
	Certs  CertChecker  // required for certificate modes
	Owner  SessionOwner // required unless Mode is none
	// OnDenied hears every refused call; OnRevoked every open stream ended because its
	// credential was revoked (code Unauthenticated). Both optional.
	OnDenied  DeniedFunc
	OnRevoked DeniedFunc
	// MaxStreamsPerClient caps the streams one client identity (in mode none, and for
	// health checks: one IP address) has open at once; more get RESOURCE_EXHAUSTED.
	// 0: no cap.
	MaxStreamsPerClient int
	// Peer makes this the authorizer of the cluster's peer listener: callers are the
	// ones other nodes forward (see ForwardContext), never the peers themselves. Peers
	// judges the peers' certificates (the cluster CA); nil only when the cluster runs
	// without TLS, which configuration allows only with auth.mode none on loopback.
	Peer  bool
	Peers CertChecker
}

// Authorizer is the authentication and authorization interceptor. It also keeps the
// table of open streams, so that a credential revoked while a stream is open ends it.
type Authorizer struct {
	o       Options
	streams streamTable
	now     func() time.Time
}

// NewAuthorizer checks o and returns the interceptor.
func NewAuthorizer(o Options) (*Authorizer, error) {
	switch o.Mode {
	case config.AuthNone, config.AuthMTLS:
	case config.AuthToken, config.AuthTokenOrMTLS:
		if o.Tokens == nil && o.OIDC == nil {
			return nil, errors.New("auth: token mode needs a token store or OIDC")
		}
	default:
		return nil, errors.New("auth: unknown mode " + o.Mode)
	}
	if (o.Mode == config.AuthMTLS || o.Mode == config.AuthTokenOrMTLS) && o.Certs == nil && !o.Peer {
		return nil, errors.New("auth: certificate mode needs a certificate checker")
	}
	if o.Mode != config.AuthNone && o.Owner == nil {
		return nil, errors.New("auth: a session owner is needed to bind agents to their sessions")
	}
	a := &Authorizer{o: o, now: time.Now}
	a.streams.init(o.MaxStreamsPerClient)
	return a, nil
}

// Unary returns the unary server interceptor.
func (a *Authorizer) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if exempt(info.FullMethod) {
			return h(ctx, req)
		}
		c, rule, err := a.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		id := c.id
		ctx = NewContext(ctx, id)
		if err := a.bind(ctx, info.FullMethod, id, rule, req); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// Stream returns the stream server interceptor. For agent-bound methods every received
// message is checked (a server stream receives one, the request), before the handler
// sees it. Each stream is in the table of open streams while it runs: over the
// per-client cap it is refused, and when Recheck finds its credential revoked (or its
// certificate expires) its context is cancelled and it ends with UNAUTHENTICATED,
// whatever the handler returns.
func (a *Authorizer) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx := ss.Context()
		var c credential
		var rule Rule
		if !exempt(info.FullMethod) {
			var err error
			if c, rule, err = a.check(ctx, info.FullMethod); err != nil {
				return err
			}
			ctx = NewContext(ctx, c.id)
		}
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		st := &openStream{method: info.FullMethod, cred: c, ctx: ctx, cancel: cancel,
			client: streamClient(ctx, c.id, exempt(info.FullMethod))}
		if !a.streams.add(st) {
			return a.deny(ctx, info.FullMethod, c.id, codes.ResourceExhausted,
				fmt.Sprintf("too many open streams for this client (limit %d)", a.o.MaxStreamsPerClient))
		}
		defer a.streams.remove(st)
		if !c.expires.IsZero() {
			a.watchExpiry(st)
		}
		err := h(srv, &boundStream{ServerStream: ss, ctx: ctx, a: a, method: info.FullMethod, id: c.id, rule: rule})
		if r := (*revokedError)(nil); errors.As(context.Cause(ctx), &r) {
			return status.Error(codes.Unauthenticated, r.reason)
		}
		return err
	}
}

type boundStream struct {
	grpc.ServerStream
	ctx    context.Context
	a      *Authorizer
	method string
	id     Identity
	rule   Rule
}

func (s *boundStream) Context() context.Context { return s.ctx }

func (s *boundStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.a.bind(s.ctx, s.method, s.id, s.rule, m)
}

// credential is an authenticated caller and what proved it, kept with each open stream
// so that Recheck can judge it again: the token's hash (never the token), or the
// verified certificate chain; and when it expires (certificates, JWTs), when a stream
// it opened ends.
type credential struct {
	id        Identity
	tokenHash string
	chain     []*x509.Certificate
	expires   time.Time
	// peer is the verified chain of the cluster node that forwarded the call (peer
	// listener with mTLS): a revoked node's open streams end on reload.
	peer []*x509.Certificate
}

// check authenticates the caller and authorizes the method by Policy.
func (a *Authorizer) check(ctx context.Context, method string) (credential, Rule, error) {
	rule, known := Policy[method]
	if a.o.Mode == config.AuthNone {
		c := credential{id: Identity{Subject: "anonymous", Method: MethodNone}}
		if a.o.Peer {
			// Callers are not authenticated, but the forwarding node is, on every call:
			// a node revoked since its connection's handshake is refused.
			pc, reason := a.authenticate(ctx)
			if reason != "" {
				return c, rule, a.deny(ctx, method, Identity{}, codes.Unauthenticated, reason)
			}
			c = pc
		}
		if !known {
			return c, rule, a.deny(ctx, method, c.id, codes.PermissionDenied, "method has no policy")
		}
		return c, rule, nil
	}
	c, reason := a.authenticate(ctx)
	if reason != "" {
		return c, rule, a.deny(ctx, method, Identity{}, codes.Unauthenticated, reason)
	}
	if !known {
		return c, rule, a.deny(ctx, method, c.id, codes.PermissionDenied, "method has no policy")
	}
	if !rule.Allows(c.id.Role) {
		return c, rule, a.deny(ctx, method, c.id, codes.PermissionDenied, "role "+string(c.id.Role)+" may not call this method")
	}
	return c, rule, nil
}

// bind enforces the agent binding. An agent gets the same answer whether
// the session is another agent's or does not exist, so it cannot probe.
func (a *Authorizer) bind(ctx context.Context, method string, id Identity, rule Rule, req any) error {
	if id.Role != RoleAgent || a.o.Mode == config.AuthNone {
		return nil
	}
	if rule.AgentScoped {
		if ar, ok := req.(agentRequest); ok && id.AgentID != "" && ar.GetAgentId() == id.AgentID {
			return nil
		}
		return a.deny(ctx, method, id, codes.PermissionDenied, "an agent may list only its own sessions (agent_id = its own)")
	}
	if !rule.AgentBound {
		return nil
	}
	sr, ok := req.(sessionRequest)
	var sid string
	if ok {
		sid = sr.GetSessionId()
	}
	if sid != "" && id.AgentID != "" {
		if owner, ok := a.o.Owner.AgentOf(sid); ok && owner == id.AgentID {
			return nil
		}
	}
	return a.deny(ctx, method, id, codes.PermissionDenied, "an agent may act only on sessions bound to it")
}

func (a *Authorizer) deny(ctx context.Context, method string, id Identity, code codes.Code, reason string) error {
	if a.o.OnDenied != nil {
		a.o.OnDenied(ctx, method, id, code, reason)
	}
	return status.Error(code, reason)
}

// authenticate returns the caller's credential, or a reason it has none. A bearer token,
// when sent and accepted by the mode, wins over a certificate; a bad token fails even
// with a good certificate, so a mistake is never papered over. A certificate is judged
// again by the trust in force now: the handshake may predate a CRL or CA reload.
func (a *Authorizer) authenticate(ctx context.Context) (credential, string) {
	md, _ := metadata.FromIncomingContext(ctx)
	if a.o.Peer {
		return a.peerCredential(ctx, md, verifiedChain(ctx))
	}
	return a.authenticateWith(ctx, md.Get("authorization"), verifiedChain(ctx))
}

// authenticateWith is authenticate over the authorization header values and the
// verified certificate chain, whichever transport they came by.
func (a *Authorizer) authenticateWith(ctx context.Context, authorization []string, chain []*x509.Certificate) (credential, string) {
	if a.o.Mode == config.AuthToken || a.o.Mode == config.AuthTokenOrMTLS {
		tok, present, reason := bearer(authorization)
		if reason != "" {
			return credential{}, reason
		}
		if present {
			if a.o.OIDC != nil && (a.o.Tokens == nil || LooksLikeJWT(tok)) {
				return a.oidcCredential(ctx, tok)
			}
			if a.o.Tokens == nil {
				return credential{}, "invalid token"
			}
			return a.tokenCredential(tok)
		}
	}
	if a.o.Mode == config.AuthMTLS || a.o.Mode == config.AuthTokenOrMTLS {
		if chain != nil {
			return a.certCredential(chain)
		}
	}
	if a.o.Mode == config.AuthMTLS {
		return credential{}, "client certificate required"
	}
	return credential{}, "bearer token required"
}

func (a *Authorizer) tokenCredential(tok string) (credential, string) {
	hash := HashToken(tok)
	id, ok := a.o.Tokens.lookupHash(hash)
	if !ok {
		return credential{}, "invalid token"
	}
	return credential{id: id, tokenHash: hash}, ""
}

func (a *Authorizer) oidcCredential(ctx context.Context, tok string) (credential, string) {
	id, exp, err := a.o.OIDC.Verify(ctx, tok)
	if err != nil {
		return credential{}, err.Error()
	}
	return credential{id: id, expires: exp}, ""
}

func (a *Authorizer) certCredential(chain []*x509.Certificate) (credential, string) {
	if err := a.o.Certs.CheckChain(chain); err != nil {
		return credential{}, err.Error()
	}
	id, err := IdentityFromCert(chain[0])
	if err != nil {
		return credential{}, err.Error()
	}
	return credential{id: id, chain: chain, expires: expiry(chain)}, ""
}

// bearer reads "authorization: Bearer TOKEN" (RFC 6750 s2.1) from the header's values.
func bearer(vals []string) (token string, present bool, reason string) {
	switch {
	case len(vals) == 0:
		return "", false, ""
	case len(vals) > 1:
		return "", true, "more than one authorization header"
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(tok) == "" {
		return "", true, "authorization must be: Bearer TOKEN"
	}
	return strings.TrimSpace(tok), true, ""
}

// verifiedChain returns the peer's certificate chain (leaf first) if the TLS handshake
// verified it against the client CA.
func verifiedChain(ctx context.Context) []*x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return ti.State.VerifiedChains[0]
}

// verifiedCert returns the peer's verified leaf certificate, or nil.
func verifiedCert(ctx context.Context) *x509.Certificate {
	if chain := verifiedChain(ctx); chain != nil {
		return chain[0]
	}
	return nil
}
