// Package auth is hushd's gate: TLS (and mTLS) server configuration,
// authentication by bearer token or client certificate, authorization of
// every RPC by one table of method -> roles, the binding of agents to their
// own sessions, and a per-client rate limit.
//
// Interceptor order (outermost first): recovery/logging, RateLimiter,
// Authorizer, handler. Health is exempt from both; everything else is
// authorized by Policy, and a test asserts every method of every hush
// service has a row, so a new RPC cannot ship unprotected.
//
// Identities:
//
//   - token: "authorization: Bearer TOKEN" metadata. The token file holds
//     only SHA-256 hashes (see ParseTokens); a presented token is hashed
//     and looked up by its hash, so no secret is compared byte by byte.
//   - OIDC: a bearer token shaped like a JWT, verified by OIDC (auth.oidc.*): signature
//     by the issuer's published keys (fetched and cached), issuer, audience, expiry,
//     algorithm; the role and agent id come from configured claims. Its streams end when
//     it expires.
//   - certificate: a client certificate verified by tls.client_ca_file and
//     checked against the CRLs of tls.crl_file (Trust), at the handshake and
//     again on every call. Subject is the certificate's CN; the role is its
//     one OU that names a role; an agent's agent id is its CN.
//   - none (auth.mode none): every caller is "anonymous" and may call every
//     RPC. For loopback development only; CheckListenSafety refuses it on
//     other addresses unless grpc.insecure is set.
//
// Revocation: the Authorizer keeps the open streams with the credential that
// opened them (a token's hash, a certificate chain). Recheck, which hushd
// calls after every reload of the token file or the TLS files, ends those
// whose credential no longer holds with codes.Unauthenticated; a
// certificate's stream also ends when the certificate expires. The same table
// caps the streams one client identity may hold (Options.MaxStreamsPerClient).
//
// The browser door (gateway.go): hushd's HTTP/JSON gateway calls the gRPC server over an
// in-process connection (InProcess), so browsers' requests cross the same interceptors;
// GatewayPeer makes the browser's address and verified certificate the call's peer,
// believing that metadata only on the in-process connection (GatewayCreds).
//
// Errors reaching callers are codes.Unauthenticated (no or bad credentials)
// and codes.PermissionDenied (wrong role; an agent naming a session that is
// not its own, whether or not the session exists, so an agent cannot probe
// for other sessions).
package auth
