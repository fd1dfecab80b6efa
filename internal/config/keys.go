package config

import "time"

// keys is the table of configuration keys, in documentation order. Adding a
// key: add the struct field (with its yaml tag), one row here and its
// default in default.yaml. TestKeysCoverConfig and TestDefaultYAMLComplete
// fail until all three agree. Cross-key rules live in crossChecks.
var keys = []key{
	def("grpc.listen", "gRPC API listen address, host:port (port 0 picks a free port)",
		func(c *Config) *string { return &c.GRPC.Listen }, listenAddr),
	def("grpc.insecure", "allow gRPC without TLS or without authentication on a non-loopback address (logged as a warning)",
		func(c *Config) *bool { return &c.GRPC.Insecure }, nil),
	def("grpc.max_message_size", "largest gRPC message accepted, bytes; larger ones get RESOURCE_EXHAUSTED",
		func(c *Config) *int { return &c.GRPC.MaxMessageSize }, intRange(4096, 64<<20)),
	def("grpc.max_connections", "gRPC connections open at once; more are closed at accept (0 = no cap)",
		func(c *Config) *int { return &c.GRPC.MaxConnections }, intRange(0, 1_000_000)),
	def("grpc.max_connections_per_ip", "gRPC connections open at once from one source IP address; more are closed at accept (0 = no cap)",
		func(c *Config) *int { return &c.GRPC.MaxConnectionsPerIP }, intRange(0, 1_000_000)),
	def("grpc.handshake_timeout", "time a new gRPC connection has to complete TLS and HTTP/2 set-up before it is closed",
		func(c *Config) *time.Duration { return &c.GRPC.HandshakeTimeout }, durationRange(100*time.Millisecond, 5*time.Minute)),
	def("grpc.idle_timeout", "close a gRPC connection that has had no open call for this long (clients reconnect when needed)",
		func(c *Config) *time.Duration { return &c.GRPC.IdleTimeout }, durationRange(time.Second, 24*time.Hour)),
	def("grpc.max_streams_per_connection", "concurrent calls and streams on one gRPC connection (HTTP/2 MAX_CONCURRENT_STREAMS)",
		func(c *Config) *int { return &c.GRPC.MaxStreamsPerConnection }, intRange(1, 1_000_000)),
	def("grpc.max_header_bytes", "largest header list (metadata) of a gRPC call, bytes; a larger one resets the call before anything reads it",
		func(c *Config) *int { return &c.GRPC.MaxHeaderBytes }, intRange(1024, 1<<20)),
	def("grpc.health_listen", "plaintext listener serving only gRPC health, for probes that cannot do TLS (Kubernetes grpc probes), host:port; empty = off",
		func(c *Config) *string { return &c.GRPC.HealthListen }, optional(listenAddr)),
	def("http.listen", "HTTP listen address for /metrics and /healthz, host:port",
		func(c *Config) *string { return &c.HTTP.Listen }, listenAddr),
	def("http.insecure", "allow HTTP without TLS on a non-loopback address (logged as a warning)",
		func(c *Config) *bool { return &c.HTTP.Insecure }, nil),
	def("http.metrics_open", "serve /metrics without a credential even when auth.mode requires one (a private scrape network only); false = a token or certificate of role metrics or admin",
		func(c *Config) *bool { return &c.HTTP.MetricsOpen }, nil),
	def("http.max_connections", "HTTP connections open at once; more are closed at accept (0 = no cap)",
		func(c *Config) *int { return &c.HTTP.MaxConnections }, intRange(0, 1_000_000)),
	def("http.max_connections_per_ip", "HTTP connections open at once from one source IP address; more are closed at accept (0 = no cap)",
		func(c *Config) *int { return &c.HTTP.MaxConnectionsPerIP }, intRange(0, 1_000_000)),
	def("http.max_header_bytes", "largest HTTP request header, bytes; larger ones get 431",
		func(c *Config) *int { return &c.HTTP.MaxHeaderBytes }, intRange(1024, 1<<20)),
	def("http.max_body_bytes", "largest request body of the HTTP/JSON API (/v1/), bytes; larger ones get RESOURCE_EXHAUSTED (429)",
		func(c *Config) *int { return &c.HTTP.MaxBodyBytes }, intRange(1024, 64<<20)),
	def("http.cors_origins", "browser origins besides hushd's own that may call the HTTP/JSON API, comma-separated (https://desktop.example.com); no wildcard; empty = none",
		func(c *Config) *string { return &c.HTTP.CORSOrigins }, originList),
	def("http.ui", "serve the agent payment panel (/agent, /embed.js) and the QA console (/qa) on the HTTP listener",
		func(c *Config) *bool { return &c.HTTP.UI }, nil),

	def("media.address", "IP address media sockets bind to (IPv4 or IPv6 literal; 0.0.0.0 or :: for all)",
		func(c *Config) *string { return &c.Media.Address }, ipLiteral(false)),
	def("media.advertise_address", "IP address put in SDP and returned local addresses; empty = media.address",
		func(c *Config) *string { return &c.Media.AdvertiseAddress }, ipLiteral(true)),
	def("media.port_min", "first media port; even (RTP on even ports, RTCP on the next odd port, RFC 3550 s11)",
		func(c *Config) *int { return &c.Media.PortMin }, all(intRange(1024, 65535), even)),
	def("media.port_max", "last media port (inclusive); greater than media.port_min",
		func(c *Config) *int { return &c.Media.PortMax }, intRange(1024, 65535)),
	def("media.strict_source", "drop packets not from the leg's given or latched remote address",
		func(c *Config) *bool { return &c.Media.StrictSource }, nil),
	def("media.idle_timeout", "end a session when its media stops: nothing received on any leg for this long (>= 100ms)",
		func(c *Config) *time.Duration { return &c.Media.IdleTimeout }, durationRange(100*time.Millisecond, 24*time.Hour)),
	def("media.setup_timeout", "end a session whose media never started this long after it was created (a call may ring for minutes before any RTP); the idle timeout when that is longer",
		func(c *Config) *time.Duration { return &c.Media.SetupTimeout }, durationRange(100*time.Millisecond, 24*time.Hour)),
	def("media.latency_sample_every", "measure forwarding latency on one packet in this many, per direction",
		func(c *Config) *int { return &c.Media.LatencySampleEvery }, intRange(1, 1<<20)),
	def("media.lock_ssrc", "drop RTP whose SSRC differs from the first one a leg sent (an update re-learns it); off allows SSRC changes (RFC 3550 s8.2)",
		func(c *Config) *bool { return &c.Media.LockSSRC }, nil),
	def("media.rate_limit_pps", "packets per second each media socket accepts from its remote; more are dropped and counted (0 = no cap)",
		func(c *Config) *int { return &c.Media.RateLimitPPS }, intRange(0, 1_000_000)),
	def("media.engine", "socket I/O engine: portable (a goroutine per socket), epoll (Linux workers, recvmmsg, fewer wake-ups under load), io_uring (Linux 6.0+, multishot receive, batched submission) or auto (the best the kernel allows)",
		func(c *Config) *string { return &c.Media.Engine }, oneOf("portable", "epoll", "io_uring", "auto")),
	def("media.fd_reserve", "file descriptors kept free for media sockets and recordings: control connections are refused rather than take them (0 = no reserve)",
		func(c *Config) *int { return &c.Media.FDReserve }, intRange(0, 1<<30)),

	def("session.max_sessions", "maximum concurrent sessions; creating more is refused",
		func(c *Config) *int { return &c.Session.MaxSessions }, intRange(1, 1_000_000)),
	def("session.drain_timeout", "on shutdown, wait this long for sessions to end (0 = close at once)",
		func(c *Config) *time.Duration { return &c.Session.DrainTimeout }, durationRange(0, 24*time.Hour)),

	def("masking.customer_to_agent", "default DTMF masking of what the agent hears: off, silence, comfort-noise or tone (masked modes delay it by masking.look_ahead)",
		func(c *Config) *string { return &c.Masking.CustomerToAgent }, oneOf(maskModes...)),
	def("masking.agent_to_customer", "default DTMF masking of what the customer hears: off, silence, comfort-noise or tone",
		func(c *Config) *string { return &c.Masking.AgentToCustomer }, oneOf(maskModes...)),
	def("masking.look_ahead", "delay added toward a masked listener so a tone is masked from its first sample (>= 40ms: the detector's decision delay for 20 ms packets)",
		func(c *Config) *time.Duration { return &c.Masking.LookAhead }, durationRange(40*time.Millisecond, 200*time.Millisecond)),
	def("masking.tone_hz", "frequency of the masking tone, Hz; never within 5% of a DTMF frequency",
		func(c *Config) *int { return &c.Masking.ToneHz }, toneHz),
	def("masking.capture_mode", "masking of what the agent hears during secure capture, and for the rest of the session once one began, when policy leaves it off: silence, comfort-noise or tone",
		func(c *Config) *string { return &c.Masking.CaptureMode }, oneOf(maskModes[1:]...)),
	def("masking.capture_trigger", "keys that, pressed on the agent's phone, start secure capture (e.g. *7; up to 8 of 0-9 * # A-D); empty = off",
		func(c *Config) *string { return &c.Masking.CaptureTrigger }, keySequence),

	def("recording.enabled", "record sanitized calls (stereo WAV + JSON sidecar)",
		func(c *Config) *bool { return &c.Recording.Enabled }, nil),
	def("recording.dir", "directory for recordings; created if missing",
		func(c *Config) *string { return &c.Recording.Dir }, path),
	def("recording.look_ahead", "how far behind live the recording is written, so DTMF is masked from its first sample (>= 80ms)",
		func(c *Config) *time.Duration { return &c.Recording.LookAhead }, durationRange(80*time.Millisecond, time.Second)),

	def("log.level", "log level: debug, info, warn or error",
		func(c *Config) *string { return &c.Log.Level }, oneOf("debug", "info", "warn", "error")),
	def("log.format", "log format: text or json",
		func(c *Config) *string { return &c.Log.Format }, oneOf("text", "json")),

	def("tls.cert_file", "PEM server certificate chain for gRPC and HTTP; empty = plaintext (reloaded on SIGHUP)",
		func(c *Config) *string { return &c.TLS.CertFile }, path),
	def("tls.key_file", "PEM private key of tls.cert_file",
		func(c *Config) *string { return &c.TLS.KeyFile }, path),
	def("tls.client_ca_file", "PEM CA bundle that signs client certificates; set = mTLS (reloaded on SIGHUP)",
		func(c *Config) *string { return &c.TLS.ClientCAFile }, path),
	def("tls.crl_file", "certificate revocation lists (PEM or DER) signed by a CA of tls.client_ca_file; revoked client certificates are refused, open streams included (reloaded on SIGHUP); empty = none",
		func(c *Config) *string { return &c.TLS.CRLFile }, path),

	def("auth.mode", "authentication: none, token, mtls or token_or_mtls",
		func(c *Config) *string { return &c.Auth.Mode }, oneOf(AuthNone, AuthToken, AuthMTLS, AuthTokenOrMTLS)),
	def("auth.token_file", "token file: JSON lines of {sha256, subject, role, agent_id} (reloaded on SIGHUP)",
		func(c *Config) *string { return &c.Auth.TokenFile }, path),
	def("auth.rate_limit", "requests per second allowed per client (0 = no limit)",
		func(c *Config) *int { return &c.Auth.RateLimit }, intRange(0, 1_000_000)),
	def("auth.rate_burst", "requests a client may make at once above auth.rate_limit",
		func(c *Config) *int { return &c.Auth.RateBurst }, intRange(1, 1_000_000)),
	def("auth.reflection", "serve gRPC reflection (callers must still authenticate)",
		func(c *Config) *bool { return &c.Auth.Reflection }, nil),
	def("auth.max_streams_per_client", "streams (WatchSession, CollectDigits, ...) one client identity may have open at once; more get RESOURCE_EXHAUSTED (0 = no cap)",
		func(c *Config) *int { return &c.Auth.MaxStreamsPerClient }, intRange(0, 1_000_000)),

	def("auth.oidc.issuer", "OpenID Connect issuer URL whose JWTs are accepted as bearer tokens (auth.mode token or token_or_mtls); https, or http on loopback; empty = off",
		func(c *Config) *string { return &c.Auth.OIDC.Issuer }, issuerURL),
	def("auth.oidc.audience", "value a JWT's aud claim must hold (the client id hush is registered under)",
		func(c *Config) *string { return &c.Auth.OIDC.Audience }, nil),
	def("auth.oidc.subject_claim", "JWT claim naming the caller in the audit trail",
		func(c *Config) *string { return &c.Auth.OIDC.SubjectClaim }, claimName),
	def("auth.oidc.role_claim", "JWT claim holding the hush role (a string, or a list with exactly one hush role); dots reach into nested objects (realm_access.roles)",
		func(c *Config) *string { return &c.Auth.OIDC.RoleClaim }, claimName),
	def("auth.oidc.agent_id_claim", "JWT claim holding an agent's agent id",
		func(c *Config) *string { return &c.Auth.OIDC.AgentIDClaim }, claimName),
	def("auth.oidc.algorithms", "JWT signing algorithms accepted, comma-separated (RS256, ES256, PS256, EdDSA, ...); empty = every asymmetric one; none and HMAC are never accepted",
		func(c *Config) *string { return &c.Auth.OIDC.Algorithms }, jwtAlgorithms),

	def("audit.file", "append-only, hash-chained audit log (JSON lines); empty = no audit log",
		func(c *Config) *string { return &c.Audit.File }, path),

	def("monitor.enabled", "agent-activity monitoring: flag suspicious pauses, abandoned captures, agent keys during capture, recording failures, unrecorded calls and controls from an unexpected source (event, audit record, hush_agent_suspicious_total)",
		func(c *Config) *bool { return &c.Monitor.Enabled }, nil),
	def("monitor.max_pause", "flag a pause longer than this when the session's policy sets no max_pause (0 = only the policy's)",
		func(c *Config) *time.Duration { return &c.Monitor.MaxPause }, durationRange(0, 24*time.Hour)),
	def("monitor.payment_window", "a pause with no secure capture and no key press by the customer this close to it (before, during or after) is flagged as outside a payment",
		func(c *Config) *time.Duration { return &c.Monitor.PaymentWindow }, durationRange(0, time.Hour)),
	def("monitor.pauses_per_hour", "flag an agent's pauses beyond this many within an hour (0 = off)",
		func(c *Config) *int { return &c.Monitor.PausesPerHour }, intRange(0, 10000)),
}

// crossChecks are rules over several keys. Each names the keys it reads so
// Validate can skip it when one of them already failed its own check.
var crossChecks = []struct {
	reads []string
	check func(*Config) *KeyError
}{
	{[]string{"media.port_min", "media.port_max"}, portRange},
	{[]string{"media.address", "media.advertise_address"}, advertise},
	{[]string{"grpc.listen", "http.listen"}, distinctListeners},
	{[]string{"grpc.listen", "http.listen", "grpc.health_listen"}, healthListener},
	{[]string{"recording.enabled", "recording.dir"}, recordingDir},
	{[]string{"tls.cert_file", "tls.key_file"}, tlsPair},
	{[]string{"tls.cert_file", "tls.client_ca_file"}, clientCA},
	{[]string{"tls.client_ca_file", "tls.crl_file"}, crlNeedsCA},
	{[]string{"auth.mode", "auth.token_file", "auth.oidc.issuer"}, tokenFile},
	{[]string{"auth.mode", "auth.oidc.issuer", "auth.oidc.audience"}, oidcSettings},
	{[]string{"auth.mode", "tls.client_ca_file"}, mtlsCA},
}

// keyIndex maps a dotted path to its row.
var keyIndex = func() map[string]*key {
	m := make(map[string]*key, len(keys))
	for i := range keys {
		m[keys[i].path] = &keys[i]
	}
	return m
}()
