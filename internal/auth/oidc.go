package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCOptions configure the verification of JWT bearer tokens issued by an OpenID
// Connect identity provider (auth.oidc.*).
type OIDCOptions struct {
	Issuer   string // the iss every token must carry; discovery reads Issuer/.well-known/openid-configuration
	Audience string // a value the token's aud must hold
	// Claim names, dotted for nested objects ("realm_access.roles"). The role claim holds
	// a string or a list of strings, exactly one of which names a hush role.
	SubjectClaim, RoleClaim, AgentIDClaim string
	// Algorithms allowed; empty: every asymmetric one go-oidc knows. "none" and HMAC
	// algorithms are never allowed: a key published in a JWKS cannot be a shared secret.
	Algorithms []string
	Client     *http.Client     // nil: http.DefaultClient
	Now        func() time.Time // nil: time.Now
	// RetryAfter is how long a failed discovery is remembered before the next try (0: 10 s),
	// so tokens arriving while the identity provider is down do not each wait on it.
	RetryAfter time.Duration
}

// asymmetric is every algorithm allowed by default.
var asymmetric = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// OIDC verifies bearer JWTs: signature by the issuer's published keys (JWKS, fetched on
// first use and cached; fetched again when a token names a key not in the cache, as on
// rotation), issuer, audience, expiry and not-before, and the algorithm against the
// allow-list; then it maps the claims to an Identity.
type OIDC struct {
	o OIDCOptions

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	failedAt time.Time // of the last failed discovery
	lastErr  error
}

// NewOIDC checks o. Discovery happens on the first token, so hushd starts while the
// identity provider is unreachable; Discover tries it at once.
func NewOIDC(o OIDCOptions) (*OIDC, error) {
	if o.Issuer == "" || o.Audience == "" {
		return nil, fmt.Errorf("%w: issuer and audience are required", ErrOIDCConfig)
	}
	if o.SubjectClaim == "" {
		o.SubjectClaim = "sub"
	}
	if o.RoleClaim == "" || o.AgentIDClaim == "" {
		return nil, fmt.Errorf("%w: role and agent id claim names are required", ErrOIDCConfig)
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = asymmetric
	}
	for _, a := range o.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return nil, fmt.Errorf("%w: algorithm %q is not allowed (asymmetric only: %s)", ErrOIDCConfig, a, strings.Join(asymmetric, ", "))
		}
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = 10 * time.Second
	}
	return &OIDC{o: o}, nil
}

// Discover fetches the issuer's discovery document now (once it succeeded, never again;
// the key set refreshes itself).
func (v *OIDC) Discover(ctx context.Context) error {
	_, err := v.get(ctx, true)
	return err
}

func (v *OIDC) get(ctx context.Context, force bool) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !force && !v.failedAt.IsZero() && v.o.Now().Sub(v.failedAt) < v.o.RetryAfter {
		return nil, v.lastErr
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, v.o.Client), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.o.Issuer)
	if err != nil {
		v.failedAt, v.lastErr = v.o.Now(), fmt.Errorf("%w: %v", ErrOIDCUnavailable, err)
		return nil, v.lastErr
	}
	// The key set fetches with a context of its own: keys outlive the request that
	// first needed them.
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.o.Client), jwksURL(p))
	v.verifier = oidc.NewVerifier(v.o.Issuer, keys, &oidc.Config{ClientID: v.o.Audience,
		SupportedSigningAlgs: v.o.Algorithms, Now: v.o.Now})
	return v.verifier, nil
}

func jwksURL(p *oidc.Provider) string {
	var c struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = p.Claims(&c)
	return c.JWKS
}

// LooksLikeJWT reports whether a bearer token has the shape of a JWS compact
// serialization (three base64url parts), so it is judged by OIDC, not the token file.
func LooksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2 && strings.HasPrefix(tok, "eyJ")
}

// Verify judges a JWT and returns the identity it carries and when it expires. Errors
// wrap ErrToken (or ErrOIDCUnavailable) with a reason fit for the caller: never the
// token, never a claim's value.
func (v *OIDC) Verify(ctx context.Context, raw string) (Identity, time.Time, error) {
	hdr, claims, err := peek(raw)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	if alg, _ := hdr["alg"].(string); !slices.Contains(v.o.Algorithms, alg) {
		return Identity{}, time.Time{}, fmt.Errorf("%w: its signing algorithm is not allowed", ErrToken)
	}
	ver, err := v.get(ctx, false)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return Identity{}, time.Time{}, v.why(err, claims)
	}
	var verified map[string]any
	if err := tok.Claims(&verified); err != nil {
		return Identity{}, time.Time{}, fmt.Errorf("%w: its claims are not a JSON object", ErrToken)
	}
	id, err := v.identity(verified)
	return id, tok.Expiry, err
}

// why names the check a token failed. go-oidc checks issuer, audience, expiry and
// not-before before the signature; the token's own (unverified) claims tell which.
func (v *OIDC) why(err error, claims map[string]any) error {
	var exp *oidc.TokenExpiredError
	switch {
	case errors.As(err, &exp):
		return fmt.Errorf("%w: it has expired", ErrToken)
	case claims["iss"] != v.o.Issuer:
		return fmt.Errorf("%w: it was not issued by the configured issuer", ErrToken)
	case !hasAudience(claims["aud"], v.o.Audience):
		return fmt.Errorf("%w: it is meant for another audience", ErrToken)
	}
	if nbf, ok := claims["nbf"].(float64); ok && v.o.Now().Add(5*time.Minute).Before(time.Unix(int64(nbf), 0)) {
		return fmt.Errorf("%w: it is not valid yet", ErrToken)
	}
	return fmt.Errorf("%w: its signature does not verify with the issuer's keys", ErrToken)
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}

// peek decodes a JWT's header and claims without verifying anything.
func peek(raw string) (hdr, claims map[string]any, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%w: not a signed JWT", ErrToken)
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil || *dst == nil {
			return nil, nil, fmt.Errorf("%w: not a signed JWT", ErrToken)
		}
	}
	return hdr, claims, nil
}

// identity maps verified claims to an Identity by the configured claim names.
func (v *OIDC) identity(claims map[string]any) (Identity, error) {
	sub, _ := claim(claims, v.o.SubjectClaim).(string)
	if err := checkName("subject claim", sub, true); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrToken, err)
	}
	var names []string
	switch r := claim(claims, v.o.RoleClaim).(type) {
	case string:
		names = []string{r}
	case []any:
		for _, x := range r {
			if s, ok := x.(string); ok {
				names = append(names, s)
			}
		}
	}
	var role Role
	for _, n := range names {
		if r := Role(n); r.Valid() && r != role {
			if role != "" {
				return Identity{}, fmt.Errorf("%w: its role claim names more than one hush role", ErrToken)
			}
			role = r
		}
	}
	if role == "" {
		return Identity{}, fmt.Errorf("%w: its role claim (%s) names no hush role", ErrToken, v.o.RoleClaim)
	}
	id := Identity{Subject: sub, Role: role, Method: MethodOIDC}
	if role == RoleAgent {
		id.AgentID, _ = claim(claims, v.o.AgentIDClaim).(string)
		if err := checkName("agent id claim", id.AgentID, true); err != nil {
			return Identity{}, fmt.Errorf("%w: an agent's token needs its agent id claim (%s)", ErrToken, v.o.AgentIDClaim)
		}
	}
	return id, nil
}

// claim looks a dotted name up in nested objects; a name that exists as a key with dots
// wins.
func claim(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	head, rest, ok := strings.Cut(name, ".")
	if !ok {
		return nil
	}
	sub, _ := claims[head].(map[string]any)
	if sub == nil {
		return nil
	}
	return claim(sub, rest)
}
