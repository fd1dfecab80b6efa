package auth

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrTokenFile: the token file is malformed (bad JSON, hash, role, ...).
	ErrTokenFile = errors.New("invalid token file")
	// ErrCertIdentity: a client certificate names no usable identity.
	ErrCertIdentity = errors.New("client certificate has no hush identity")
	// ErrTLSConfig: certificate, key or CA files cannot be loaded.
	ErrTLSConfig = errors.New("invalid TLS configuration")
	// ErrCRL: the CRL file cannot be read, parsed, or is not signed by a client CA.
	ErrCRL = errors.New("invalid certificate revocation list")
	// ErrCertRefused: a certificate no longer verifies: revoked by a CRL, expired, or
	// its CA is no longer trusted.
	ErrCertRefused = errors.New("certificate refused")
	// ErrToken: a JWT bearer token is refused (malformed, expired, wrongly signed, for
	// another audience or issuer, a disallowed algorithm, no hush role).
	ErrToken = errors.New("token refused")
	// ErrOIDCConfig: the auth.oidc settings are unusable.
	ErrOIDCConfig = errors.New("invalid OIDC configuration")
	// ErrOIDCUnavailable: the identity provider's discovery document or keys cannot be had.
	ErrOIDCUnavailable = errors.New("identity provider unavailable")
	// ErrUnsafeListen: a listener would serve plaintext or unauthenticated
	// on a non-loopback address without the explicit insecure setting.
	ErrUnsafeListen = errors.New("unsafe listener")
)
