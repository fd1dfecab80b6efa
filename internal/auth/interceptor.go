package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"

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

// DeniedFunc observes a refused call (for the audit log). id is the zero
// Identity when the caller was not authenticated. reason never holds a
// credential.
type DeniedFunc func(ctx context.Context, fullMethod string, id Identity, code codes.Code, reason string)

// Options configure an Authorizer.
type Options struct {
	Mode     string       // config.AuthNone, AuthToken, AuthMTLS or AuthTokenOrMTLS
	Tokens   *TokenStore  // required for token modes
	Owner    SessionOwner // required unless Mode is none
	OnDenied DeniedFunc   // optional
}

// Authorizer is the authentication and authorization interceptor.
type Authorizer struct {
	o Options
}

// NewAuthorizer checks o and returns the interceptor.
func NewAuthorizer(o Options) (*Authorizer, error) {
	switch o.Mode {
	case config.AuthNone, config.AuthMTLS:
	case config.AuthToken, config.AuthTokenOrMTLS:
		if o.Tokens == nil {
			return nil, errors.New("auth: token mode needs a token store")
		}
	default:
		return nil, errors.New("auth: unknown mode " + o.Mode)
	}
	if o.Mode != config.AuthNone && o.Owner == nil {
		return nil, errors.New("auth: a session owner is needed to bind agents to their sessions")
	}
	return &Authorizer{o: o}, nil
}

// Unary returns the unary server interceptor.
func (a *Authorizer) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if exempt(info.FullMethod) {
			return h(ctx, req)
		}
		id, rule, err := a.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		ctx = NewContext(ctx, id)
		if err := a.bind(ctx, info.FullMethod, id, rule, req); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// Stream returns the stream server interceptor. For agent-bound methods
// every received message is checked (a server stream receives one, the
// request), before the handler sees it.
func (a *Authorizer) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if exempt(info.FullMethod) {
			return h(srv, ss)
		}
		id, rule, err := a.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return h(srv, &boundStream{ServerStream: ss, ctx: NewContext(ss.Context(), id),
			a: a, method: info.FullMethod, id: id, rule: rule})
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

// check authenticates the caller and authorizes the method by Policy.
func (a *Authorizer) check(ctx context.Context, method string) (Identity, Rule, error) {
	rule, known := Policy[method]
	if a.o.Mode == config.AuthNone {
		id := Identity{Subject: "anonymous", Method: MethodNone}
		if !known {
			return id, rule, a.deny(ctx, method, id, codes.PermissionDenied, "method has no policy")
		}
		return id, rule, nil
	}
	id, reason := a.authenticate(ctx)
	if reason != "" {
		return id, rule, a.deny(ctx, method, Identity{}, codes.Unauthenticated, reason)
	}
	if !known {
		return id, rule, a.deny(ctx, method, id, codes.PermissionDenied, "method has no policy")
	}
	if !rule.Allows(id.Role) {
		return id, rule, a.deny(ctx, method, id, codes.PermissionDenied, "role "+string(id.Role)+" may not call this method")
	}
	return id, rule, nil
}

// bind enforces the agent binding. An agent gets the same answer whether
// the session is another agent's or does not exist, so it cannot probe.
func (a *Authorizer) bind(ctx context.Context, method string, id Identity, rule Rule, req any) error {
	if !rule.AgentBound || id.Role != RoleAgent || a.o.Mode == config.AuthNone {
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

// authenticate returns the caller's identity, or a reason it has none. A
// bearer token, when sent and accepted by the mode, wins over a
// certificate; a bad token fails even with a good certificate, so a
// mistake is never papered over.
func (a *Authorizer) authenticate(ctx context.Context) (Identity, string) {
	if a.o.Tokens != nil && (a.o.Mode == config.AuthToken || a.o.Mode == config.AuthTokenOrMTLS) {
		tok, present, reason := bearer(ctx)
		if reason != "" {
			return Identity{}, reason
		}
		if present {
			id, ok := a.o.Tokens.Lookup(tok)
			if !ok {
				return Identity{}, "invalid token"
			}
			return id, ""
		}
	}
	if a.o.Mode == config.AuthMTLS || a.o.Mode == config.AuthTokenOrMTLS {
		if c := verifiedCert(ctx); c != nil {
			id, err := IdentityFromCert(c)
			if err != nil {
				return Identity{}, err.Error()
			}
			return id, ""
		}
	}
	if a.o.Mode == config.AuthMTLS {
		return Identity{}, "client certificate required"
	}
	return Identity{}, "bearer token required"
}

// bearer reads "authorization: Bearer TOKEN" (RFC 6750 s2.1).
func bearer(ctx context.Context) (token string, present bool, reason string) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
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

// verifiedCert returns the peer's leaf certificate if the TLS handshake
// verified it against the client CA.
func verifiedCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return ti.State.VerifiedChains[0][0]
}
