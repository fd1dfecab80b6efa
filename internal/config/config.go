package config

import (
	_ "embed"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Config is hushd's whole configuration. Every leaf field is a key in the
// key table (keys.go); its yaml tag is the last element of the key's path.
// Keep it a plain value (no pointers, slices or maps) so copies are deep;
// a section that needs a slice must add a Clone.
type Config struct {
	GRPC      GRPC      `yaml:"grpc"`
	HTTP      HTTP      `yaml:"http"`
	Media     Media     `yaml:"media"`
	Session   Session   `yaml:"session"`
	Masking   Masking   `yaml:"masking"`
	Recording Recording `yaml:"recording"`
	Log       Log       `yaml:"log"`
	TLS       TLS       `yaml:"tls"`
	Auth      Auth      `yaml:"auth"`
	Audit     Audit     `yaml:"audit"`
	Cluster   Cluster   `yaml:"cluster"`
	NG        NG        `yaml:"ng"`
	Monitor   Monitor   `yaml:"monitor"`
}

// Cluster configures the session directory (Redis) and the peer listener of a fleet of
// nodes. RedisAddr empty: the node runs alone and nothing waits on the network.
type Cluster struct {
	RedisAddr         string        `yaml:"redis_addr"`          // host:port; "" = no cluster
	RedisPasswordFile string        `yaml:"redis_password_file"` // file holding the Redis password; "" = none
	KeyPrefix         string        `yaml:"key_prefix"`          // namespace of this fleet's keys
	NodeID            string        `yaml:"node_id"`             // "" = the host name
	Listen            string        `yaml:"listen"`              // peer listener, host:port
	Advertise         string        `yaml:"advertise"`           // host:port peers dial; "" = the bound listener address
	CertFile          string        `yaml:"cert_file"`           // node certificate (OU hush-peer); "" = plaintext peers
	KeyFile           string        `yaml:"key_file"`
	CAFile            string        `yaml:"ca_file"`       // the cluster CA
	CRLFile           string        `yaml:"crl_file"`      // CRLs of the cluster CA (PEM or DER); "" = none
	Lease             time.Duration `yaml:"lease"`         // a node silent this long is dead
	WriteTimeout      time.Duration `yaml:"write_timeout"` // a control change waits this long for the directory
	DrainHandoff      bool          `yaml:"drain_handoff"` // SIGTERM drains hand sessions over
}

// Enabled reports whether the node is part of a cluster.
func (c Cluster) Enabled() bool { return c.RedisAddr != "" }

// TLS reports whether peers talk mTLS.
func (c Cluster) TLS() bool { return c.CertFile != "" }

// GRPC configures the gRPC API server.
type GRPC struct {
	Listen         string `yaml:"listen"`           // host:port
	Insecure       bool   `yaml:"insecure"`         // allow plaintext / unauthenticated on a non-loopback address
	MaxMessageSize int    `yaml:"max_message_size"` // bytes, per received message
	// Connection limits: open at once, in total and per source address (0 = no cap).
	MaxConnections      int `yaml:"max_connections"`
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// HandshakeTimeout bounds TCP accept to a working HTTP/2 connection (TLS included);
	// IdleTimeout closes a connection without streams for that long.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	IdleTimeout      time.Duration `yaml:"idle_timeout"`
	// MaxStreamsPerConnection is HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
	MaxStreamsPerConnection int `yaml:"max_streams_per_connection"`
	// MaxHeaderBytes is HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE: larger headers are refused
	// before anything reads them.
	MaxHeaderBytes int    `yaml:"max_header_bytes"`
	HealthListen   string `yaml:"health_listen"` // host:port of the health-only plaintext listener; "" = off
}

// HTTP configures the HTTP server (/metrics, /healthz).
type HTTP struct {
	Listen   string `yaml:"listen"`   // host:port
	Insecure bool   `yaml:"insecure"` // allow plaintext on a non-loopback address
	// MetricsOpen serves /metrics without a credential in every auth mode.
	MetricsOpen bool `yaml:"metrics_open"`
	// Connection limits, as for gRPC, and the largest request header accepted.
	MaxConnections      int `yaml:"max_connections"`
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	MaxHeaderBytes      int `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds a request body of the HTTP/JSON API.
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// CORSOrigins is the comma-separated allow-list of browser origins, besides hushd's
	// own, that may call the HTTP/JSON API (see Origins).
	CORSOrigins string `yaml:"cors_origins"`
	// UI serves the agent payment panel and the QA console.
	UI bool `yaml:"ui"`
}

// Origins is CORSOrigins as a list. Call it only on a validated Config.
func (h HTTP) Origins() []string {
	var out []string
	for o := range strings.SplitSeq(h.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// TLS configures the server certificate for the gRPC and HTTP listeners,
// and client certificate verification (mTLS) when ClientCAFile is set.
type TLS struct {
	CertFile     string `yaml:"cert_file"`      // PEM certificate chain; "" = plaintext
	KeyFile      string `yaml:"key_file"`       // PEM private key
	ClientCAFile string `yaml:"client_ca_file"` // PEM CA bundle for client certificates; "" = no mTLS
	CRLFile      string `yaml:"crl_file"`       // CRLs (PEM or DER) signed by the client CAs; "" = none
}

// Enabled reports whether the listeners serve TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Auth configures authentication, authorization and per-client limits.
type Auth struct {
	Mode       string `yaml:"mode"`       // none|token|mtls|token_or_mtls
	TokenFile  string `yaml:"token_file"` // JSON lines of token hashes
	RateLimit  int    `yaml:"rate_limit"` // requests per second per client; 0 = off
	RateBurst  int    `yaml:"rate_burst"` // bucket size
	Reflection bool   `yaml:"reflection"` // register gRPC reflection
	// MaxStreamsPerClient caps the streams one client identity has open; 0 = no cap.
	MaxStreamsPerClient int `yaml:"max_streams_per_client"`
	// OIDC accepts JWT bearer tokens from an identity provider (token modes).
	OIDC OIDC `yaml:"oidc"`
}

// OIDC configures JWT bearer tokens issued by an OpenID Connect identity provider.
type OIDC struct {
	Issuer       string `yaml:"issuer"`         // "" = off
	Audience     string `yaml:"audience"`       // a value the token's aud must hold
	SubjectClaim string `yaml:"subject_claim"`  // who, for the audit trail
	RoleClaim    string `yaml:"role_claim"`     // a string or list naming one hush role
	AgentIDClaim string `yaml:"agent_id_claim"` // an agent's agent id
	Algorithms   string `yaml:"algorithms"`     // comma-separated; "" = every asymmetric one
}

// Enabled reports whether OIDC tokens are accepted.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// AlgorithmList is Algorithms as a list.
func (o OIDC) AlgorithmList() []string {
	var out []string
	for a := range strings.SplitSeq(o.Algorithms, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Auth modes.
const (
	AuthNone        = "none"
	AuthToken       = "token"
	AuthMTLS        = "mtls"
	AuthTokenOrMTLS = "token_or_mtls"
)

// Tokens reports whether the mode accepts bearer tokens.
func (a Auth) Tokens() bool { return a.Mode == AuthToken || a.Mode == AuthTokenOrMTLS }

// Certs reports whether the mode accepts client certificates as identity.
func (a Auth) Certs() bool { return a.Mode == AuthMTLS || a.Mode == AuthTokenOrMTLS }

// Audit configures the hash-chained audit log.
type Audit struct {
	File string `yaml:"file"` // JSON lines; "" = no audit log
}

// Monitor configures agent-activity monitoring: what hush flags as suspicious.
type Monitor struct {
	Enabled bool `yaml:"enabled"`
	// MaxPause flags a pause longer than this when the session's policy sets no max_pause.
	MaxPause time.Duration `yaml:"max_pause"`
	// PaymentWindow: a pause with no secure capture and no customer key press this close
	// to it (before, during or after) is flagged as outside a payment.
	PaymentWindow time.Duration `yaml:"payment_window"`
	// PausesPerHour flags an agent's pauses beyond this many within an hour (0 = off).
	PausesPerHour int `yaml:"pauses_per_hour"`
}

// Media configures the RTP data plane.
type Media struct {
	Address            string        `yaml:"address"`              // IP literal to bind media sockets
	AdvertiseAddress   string        `yaml:"advertise_address"`    // IP literal for SDP / local addresses; "" = Address
	PortMin            int           `yaml:"port_min"`             // even; RTP on even ports, RTCP on +1
	PortMax            int           `yaml:"port_max"`             // inclusive
	StrictSource       bool          `yaml:"strict_source"`        // drop packets from other than the latched source
	IdleTimeout        time.Duration `yaml:"idle_timeout"`         // >= 100ms
	SetupTimeout       time.Duration `yaml:"setup_timeout"`        // before the first packet; >= 100ms
	LatencySampleEvery int           `yaml:"latency_sample_every"` // >= 1
	LockSSRC           bool          `yaml:"lock_ssrc"`            // drop RTP with another SSRC than the leg's first
	RateLimitPPS       int           `yaml:"rate_limit_pps"`       // packets/s accepted per socket; 0 = no cap
	// MaxQueueDelay drops RTP that waited longer than this beyond the look-ahead; 0 = off.
	MaxQueueDelay time.Duration `yaml:"max_queue_delay"`
	Engine        string        `yaml:"engine"` // socket I/O engine: portable, epoll, io_uring or auto
	// Workers is the epoll and io_uring engines' worker threads; 0 = half the cores.
	Workers int `yaml:"workers"`
	// RealtimePriority runs those workers under SCHED_RR at this priority; 0 = off.
	RealtimePriority int `yaml:"realtime_priority"`
	// BusyPoll is how long those workers poll before they sleep; 0 = off.
	BusyPoll time.Duration `yaml:"busy_poll"`
	// BackgroundNice is the nice value of the recording writers' threads (SCHED_BATCH);
	// 0 = hushd's own priority.
	BackgroundNice int `yaml:"background_nice"`
	// FDReserve is how many file descriptors control connections must leave free.
	FDReserve int `yaml:"fd_reserve"`
}

// BindIP is the parsed Address. Call it only on a validated Config.
func (m Media) BindIP() netip.Addr {
	a, _ := netip.ParseAddr(m.Address)
	return a
}

// AdvertiseIP is the address to put in SDP and returned local addresses:
// AdvertiseAddress, or Address when that is empty. Call it only on a
// validated Config.
func (m Media) AdvertiseIP() netip.Addr {
	if m.AdvertiseAddress == "" {
		return m.BindIP()
	}
	a, _ := netip.ParseAddr(m.AdvertiseAddress)
	return a
}

// Session configures the session registry.
type Session struct {
	MaxSessions  int           `yaml:"max_sessions"`  // >= 1
	DrainTimeout time.Duration `yaml:"drain_timeout"` // >= 0
}

// Masking configures the default DTMF masking toward each listener and secure capture.
type Masking struct {
	CustomerToAgent string        `yaml:"customer_to_agent"` // off|silence|comfort-noise|tone
	AgentToCustomer string        `yaml:"agent_to_customer"` // off|silence|comfort-noise|tone
	LookAhead       time.Duration `yaml:"look_ahead"`        // delay added toward a masked listener
	ToneHz          int           `yaml:"tone_hz"`           // the masking tone, never near a DTMF frequency
	CaptureMode     string        `yaml:"capture_mode"`      // customer->agent masking while capturing, when policy is off
	CaptureTrigger  string        `yaml:"capture_trigger"`   // keys on the agent's phone that start secure capture; "" = off
}

// Recording configures call recording.
type Recording struct {
	Enabled   bool          `yaml:"enabled"`
	Dir       string        `yaml:"dir"`
	LookAhead time.Duration `yaml:"look_ahead"` // how far behind live the recording is masked
	// Encrypt seals each recording at rest with its own data key, wrapped by the key
	// file's current key; false writes plain WAV (for disks encrypted underneath).
	Encrypt bool   `yaml:"encrypt"`
	KeyFile string `yaml:"key_file"`
	// Retention deletes a recording this long after it started (0: kept until erased).
	Retention time.Duration `yaml:"retention"`
	// Format of the audio: pcm16 (16-bit linear) or ulaw (G.711 mu-law, half the size).
	Format string `yaml:"format"`
	// Object store (S3-compatible); StoreEndpoint "" keeps recordings on the local disk.
	StoreEndpoint        string `yaml:"store_endpoint"`
	StoreBucket          string `yaml:"store_bucket"`
	StoreRegion          string `yaml:"store_region"`
	StoreTLS             bool   `yaml:"store_tls"`
	StoreCredentialsFile string `yaml:"store_credentials_file"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug|info|warn|error
	Format string `yaml:"format"` // text|json
}

// SlogLevel maps Level to a slog.Level. Call it only on a validated Config;
// an unknown level maps to Info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded, commented default configuration file
// (for `hushd --print-default-config`). The caller may modify the copy.
func DefaultYAML() []byte {
	return append([]byte(nil), defaultYAML...)
}

// Default returns the configuration parsed from the embedded default.yaml.
// Each call returns a new value. It panics if the embedded file is broken,
// which the package tests rule out.
func Default() *Config {
	c := &Config{}
	if err := decodeYAML(c, defaultYAML, "default.yaml"); err != nil {
		panic("config: embedded default.yaml: " + err.Error())
	}
	return c
}

// Parse reads YAML over the defaults and validates the result. Unknown and
// duplicate keys are rejected with their dotted path and line. Keys the data
// does not mention keep their default.
func Parse(data []byte) (*Config, error) {
	c := Default()
	if err := decodeYAML(c, data, ""); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
