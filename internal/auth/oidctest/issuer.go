// Package oidctest is a fake OpenID Connect identity provider for tests: discovery and
// a JWKS served on loopback, keys made by the test, and a signer for tokens good and bad.
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a fake identity provider.
type Issuer struct {
	URL string
	// JWKSFetches counts requests for the key set.
	JWKSFetches atomic.Int64

	mu   sync.Mutex
	keys []jose.JSONWebKey // published
	rsa  *rsa.PrivateKey
	kid  string
}

// New starts an issuer with one RSA key (kid "k1") published.
func New(t *testing.T) *Issuer {
	t.Helper()
	is := &Issuer{rsa: NewRSAKey(t), kid: "k1"}
	is.keys = []jose.JSONWebKey{{Key: is.rsa.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.URL, "jwks_uri": is.URL + "/jwks",
			"authorization_endpoint": is.URL + "/auth", "token_endpoint": is.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		is.JWKSFetches.Add(1)
		is.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), is.keys...)}
		is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	is.URL = srv.URL
	return is
}

// NewRSAKey makes a 2048-bit RSA key.
func NewRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Rotate publishes a new RSA key under kid (beside the old ones) and signs with it from now on.
func (is *Issuer) Rotate(t *testing.T, kid string) {
	k := NewRSAKey(t)
	is.mu.Lock()
	defer is.mu.Unlock()
	is.rsa, is.kid = k, kid
	is.keys = append(is.keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "RS256", Use: "sig"})
}

// PublishEC adds an ECDSA P-256 key under kid and returns it.
func (is *Issuer) PublishEC(t *testing.T, kid string) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"})
	return k
}

// Claims are a token's claims; Std fills the usual ones.
type Claims map[string]any

// Std returns claims from this issuer for audience aud, valid for ttl from now.
func (is *Issuer) Std(aud, sub string, ttl time.Duration) Claims {
	now := time.Now()
	return Claims{"iss": is.URL, "aud": aud, "sub": sub, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
}

// Sign signs claims with the issuer's current RSA key.
func (is *Issuer) Sign(t *testing.T, c Claims) string {
	is.mu.Lock()
	k, kid := is.rsa, is.kid
	is.mu.Unlock()
	return SignWith(t, jose.RS256, k, kid, c)
}

// SignWith signs claims with any key and algorithm (wrong keys, HMAC, ...).
func SignWith(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, c Claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Unsigned is the token with "alg": "none" and an empty signature.
func Unsigned(t *testing.T, c Claims) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}
