package config

import (
	_ "embed"
	"log/slog"
	"net/netip"
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
	Recording Recording `yaml:"recording"`
	Log       Log       `yaml:"log"`
}

// GRPC configures the gRPC API server.
type GRPC struct {
	Listen string `yaml:"listen"` // host:port
}

// HTTP configures the HTTP server (/metrics, /healthz).
type HTTP struct {
	Listen string `yaml:"listen"` // host:port
}

// Media configures the RTP data plane.
type Media struct {
	Address            string        `yaml:"address"`              // IP literal to bind media sockets
	AdvertiseAddress   string        `yaml:"advertise_address"`    // IP literal for SDP / local addresses; "" = Address
	PortMin            int           `yaml:"port_min"`             // even; RTP on even ports, RTCP on +1
	PortMax            int           `yaml:"port_max"`             // inclusive
	StrictSource       bool          `yaml:"strict_source"`        // drop packets from other than the latched source
	IdleTimeout        time.Duration `yaml:"idle_timeout"`         // >= 100ms
	LatencySampleEvery int           `yaml:"latency_sample_every"` // >= 1
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

// Recording configures call recording.
type Recording struct {
	Enabled bool   `yaml:"enabled"`
	Dir     string `yaml:"dir"`
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
