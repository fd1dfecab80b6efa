package auth

import (
	"crypto/x509"
	"net"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/hushmedia/hush/internal/config"
)

// HTTP guards an HTTP handler (hushd's /metrics) with the same credentials as the gRPC
// API: a bearer token in the Authorization header or the verified client certificate,
// judged by the token file and the trust in force now, and one of roles. In auth mode
// none it lets everyone through, as the API does. A refusal is 401 (no or bad
// credential) or 403 (wrong role), reported to OnDenied with the request's path.
func (a *Authorizer) HTTP(next http.Handler, roles ...Role) http.Handler {
	if a.o.Mode == config.AuthNone {
		return next
	}
	rule := Rule{Roles: roles}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, reason := a.authenticateWith(r.Context(), r.Header.Values("Authorization"), httpChain(r))
		switch {
		case reason != "":
			a.httpDeny(w, r, Identity{}, codes.Unauthenticated, reason)
		case !rule.Allows(c.id.Role):
			a.httpDeny(w, r, c.id, codes.PermissionDenied, "role "+string(c.id.Role)+" may not read "+r.URL.Path)
		default:
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c.id)))
		}
	})
}

func (a *Authorizer) httpDeny(w http.ResponseWriter, r *http.Request, id Identity, code codes.Code, reason string) {
	if a.o.OnDenied != nil {
		ctx := r.Context()
		if addr, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: addr})
		}
		a.o.OnDenied(ctx, r.Method+" "+r.URL.Path, id, code, reason)
	}
	status := http.StatusForbidden
	if code == codes.Unauthenticated {
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="hush"`)
	}
	http.Error(w, reason, status)
}

// httpChain is the client certificate chain the TLS handshake verified, if any.
func httpChain(r *http.Request) []*x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0]
}
