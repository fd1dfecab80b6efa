package auth

import "context"

// Role is what a caller may do; see Policy.
type Role string

// Roles.
const (
	RolePlatform Role = "platform" // sessions and all their controls
	RoleAgent    Role = "agent"    // controls of the sessions bound to its agent id
	RoleQA       Role = "qa"       // recordings, read-only
	RolePayment  Role = "payment"  // captured digits
	RoleAdmin    Role = "admin"    // everything but captured digits, plus drain
	RoleMetrics  Role = "metrics"  // reads /metrics (a Prometheus scraper); no RPC
	RoleAudit    Role = "audit"    // reads and follows the audit trail (a SIEM); nothing else
)

// Roles lists every role, for validation and documentation.
var Roles = []Role{RolePlatform, RoleAgent, RoleQA, RolePayment, RoleAdmin, RoleMetrics, RoleAudit}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Authentication methods, Identity.Method.
const (
	MethodToken = "token"
	MethodCert  = "cert"
	MethodOIDC  = "oidc" // a JWT from the OIDC identity provider
	MethodNone  = "none" // auth.mode none: anonymous
)

// Identity is an authenticated caller.
type Identity struct {
	Subject string // who: token subject or certificate CN
	Role    Role
	AgentID string // for RoleAgent: the agent whose sessions it may touch
	Method  string // MethodToken, MethodOIDC, MethodCert or MethodNone
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity the interceptor put in ctx.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
