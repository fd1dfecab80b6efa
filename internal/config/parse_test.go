package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(`
# only what differs from the default
media:
  address: "::"
  advertise_address: 2001:db8::1
  port_min: 40000
  port_max: 40099
  idle_timeout: 1m30s
  strict_source: false
session:
  drain_timeout: 0s
log: {level: warn, format: json}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Media.PortMin != 40000 || c.Media.PortMax != 40099 || c.Media.IdleTimeout != 90*time.Second ||
		c.Media.StrictSource || c.Session.DrainTimeout != 0 || c.Log.Level != "warn" || c.Log.Format != "json" {
		t.Errorf("parsed %+v", c)
	}
	if c.GRPC.Listen != "127.0.0.1:50051" || c.Session.MaxSessions != 10000 {
		t.Errorf("unset keys lost their defaults: %+v", c)
	}
	if got := c.Media.AdvertiseIP().String(); got != "2001:db8::1" {
		t.Errorf("AdvertiseIP = %s", got)
	}
	if got := c.Log.SlogLevel().String(); got != "WARN" {
		t.Errorf("SlogLevel = %s", got)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "# just a comment\n", "---\n", "{}"} {
		c, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if *c != *Default() {
			t.Errorf("Parse(%q) differs from the default", in)
		}
	}
}

func TestParseAlias(t *testing.T) {
	c, err := Parse([]byte("grpc: {listen: &l 127.0.0.1:7000}\nlog: &log {level: debug}\n"))
	if err != nil || c.GRPC.Listen != "127.0.0.1:7000" || c.Log.Level != "debug" {
		t.Fatalf("anchors: %v %+v", err, c)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  error
		want []string // substrings of the error message
	}{
		{"bad YAML", "grpc: [unclosed", ErrSyntax, []string{"config:", "invalid YAML"}},
		{"tab indentation", "grpc:\n\tlisten: x", ErrSyntax, nil},
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n", ErrSyntax, []string{"one YAML document"}},
		{"top level scalar", "hello", ErrInvalid, []string{"(top level)", "mapping"}},
		{"top level list", "- a\n- b", ErrInvalid, []string{"(top level)"}},
		{"unknown section", "sip:\n  cert: x\n", ErrUnknownKey, []string{"config: sip (line 1): unknown key"}},
		{"unknown key", "media:\n  port_mni: 30000\n", ErrUnknownKey, []string{"media.port_mni (line 2)", "did you mean media.port_min?"}},
		{"unknown deep key", "media:\n  port_min:\n    x: 1\n", ErrInvalid, []string{"media.port_min", "single int value", "mapping"}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", ErrDuplicateKey, []string{"log.level (line 3)"}},
		{"duplicate section", "log: {level: info}\nlog: {format: json}\n", ErrDuplicateKey, []string{"config: log (line 2)"}},
		{"merge key", "base: &b {level: debug}\nlog:\n  <<: *b\n", ErrUnknownKey, []string{"base"}},
		{"section is scalar", "media: 5\n", ErrInvalid, []string{"media (line 1): must be a mapping"}},
		{"trigger not keys", "masking: {capture_trigger: \"*x\"}\n", ErrInvalid, []string{"masking.capture_trigger", "0-9 * # A-D"}},
		{"trigger too long", "masking: {capture_trigger: \"123456789\"}\n", ErrInvalid, []string{"masking.capture_trigger", "at most 8"}},
		{"tone on a DTMF frequency", "masking: {tone_hz: 700}\n", ErrInvalid, []string{"masking.tone_hz", "DTMF"}},
		{"look-ahead too short", "masking: {look_ahead: 10ms}\n", ErrInvalid, []string{"masking.look_ahead"}},
		{"unknown mask mode", "masking: {customer_to_agent: loud}\n", ErrInvalid, []string{"masking.customer_to_agent", "tone"}},
		{"section is list", "media: [1, 2]\n", ErrInvalid, []string{"media"}},
		{"non-scalar mapping key", "media:\n  ? [a]\n  : 1\n", ErrSyntax, []string{"media.?"}},
		{"wrong type int", "media: {port_min: abc}\n", ErrInvalid, []string{"media.port_min (line 1)", `not an integer: "abc"`}},
		{"float port", "media: {port_min: 30000.5}\n", ErrInvalid, []string{"media.port_min"}},
		{"int too big", "media: {port_min: 99999999999999999999}\n", ErrInvalid, []string{"media.port_min"}},
		{"null int", "media: {port_min: }\n", ErrInvalid, []string{"media.port_min", `not an integer: ""`}},
		{"list for string", "grpc: {listen: [a]}\n", ErrInvalid, []string{"grpc.listen", "a list"}},
		{"wrong type bool", "media: {strict_source: yes}\n", ErrInvalid, []string{"media.strict_source", "true or false"}},
		{"bad duration", "media: {idle_timeout: 60}\n", ErrInvalid, []string{"media.idle_timeout", "not a duration"}},
		{"bad duration unit", "session: {drain_timeout: 5 minutes}\n", ErrInvalid, []string{"session.drain_timeout"}},
		{"port out of range", "media: {port_min: 70000}\n", ErrInvalid, []string{"config: media.port_min: must be in 1024..65535, got 70000"}},
		{"privileged port", "media: {port_min: 1000, port_max: 2000}\n", ErrInvalid, []string{"media.port_min: must be in 1024..65535, got 1000"}},
		{"odd port_min", "media: {port_min: 30001}\n", ErrInvalid, []string{"media.port_min: must be even"}},
		{"cert without key", "tls: {cert_file: /c}\n", ErrInvalid, []string{"tls.key_file: tls.cert_file and tls.key_file must be set together"}},
		{"key without cert", "tls: {key_file: /k}\n", ErrInvalid, []string{"tls.key_file: tls.cert_file and tls.key_file"}},
		{"client CA without cert", "tls: {client_ca_file: /ca}\n", ErrInvalid, []string{"tls.client_ca_file: needs tls.cert_file"}},
		{"token mode without file", "auth: {mode: token}\n", ErrInvalid, []string{"auth.token_file: must be set when auth.mode is token"}},
		{"either mode without file", "auth: {mode: token_or_mtls}\n", ErrInvalid, []string{"auth.token_file: must be set"}},
		{"mtls mode without CA", "tls: {cert_file: /c, key_file: /k}\nauth: {mode: mtls}\n", ErrInvalid, []string{"tls.client_ca_file: must be set when auth.mode is mtls"}},
		{"unknown auth mode", "auth: {mode: basic}\n", ErrInvalid, []string{"auth.mode: must be one of none, token, mtls, token_or_mtls"}},
		{"cluster cert without CA", "cluster: {cert_file: /c, key_file: /k}\n", ErrInvalid, []string{"cluster.cert_file: cluster.cert_file, cluster.key_file and cluster.ca_file must be set together"}},
		{"cluster CRL without CA", "cluster: {crl_file: /crl}\n", ErrInvalid, []string{"cluster.crl_file: needs cluster.ca_file"}},
		{"plaintext cluster with tokens", "cluster: {redis_addr: \"127.0.0.1:6379\"}\nauth: {mode: token, token_file: /t}\n", ErrInvalid, []string{"cluster.cert_file: must be set"}},
		{"plaintext cluster off loopback", "cluster: {redis_addr: \"127.0.0.1:6379\", listen: \"10.0.0.5:50052\"}\n", ErrInvalid, []string{"cluster.cert_file: must be set"}},
		{"node id with a space", "cluster: {node_id: \"hush 1\"}\n", ErrInvalid, []string{"cluster.node_id: must hold only"}},
		{"empty key prefix", "cluster: {key_prefix: \"\"}\n", ErrInvalid, []string{"cluster.key_prefix"}},
		{"short lease", "cluster: {lease: 10ms}\n", ErrInvalid, []string{"cluster.lease"}},
		{"negative rate", "auth: {rate_limit: -1}\n", ErrInvalid, []string{"auth.rate_limit"}},
		{"zero burst", "auth: {rate_burst: 0}\n", ErrInvalid, []string{"auth.rate_burst"}},
		{"tiny message size", "grpc: {max_message_size: 10}\n", ErrInvalid, []string{"grpc.max_message_size"}},
		{"ng allow list not addresses", "ng: {allow_from: \"10.0.0.0/8, pbx.example\"}\n", ErrInvalid, []string{"ng.allow_from", "\"pbx.example\" is not an IP address"}},
		{"ng allow list with a zone", "ng: {allow_from: \"fe80::1%eth0\"}\n", ErrInvalid, []string{"ng.allow_from"}},
		{"ng customer unknown", "ng: {customer: caller}\n", ErrInvalid, []string{"ng.customer: must be one of offerer, answerer"}},
		{"ng listen not host:port", "ng: {listen: 2223}\n", ErrInvalid, []string{"ng.listen: must be host:port"}},
		{"port_min > port_max", "media: {port_min: 40000, port_max: 30000}\n", ErrInvalid, []string{"media.port_max: must be greater than media.port_min (40000), got 30000"}},
		{"port_min == port_max", "media: {port_min: 30000, port_max: 30000}\n", ErrInvalid, []string{"media.port_max"}},
		{"non-IP media address", "media: {address: localhost}\n", ErrInvalid, []string{`media.address: must be an IPv4 or IPv6 address, got "localhost"`}},
		{"media address with port", "media: {address: \"127.0.0.1:5000\"}\n", ErrInvalid, []string{"media.address"}},
		{"media address zone", "media: {address: \"fe80::1%eth0\"}\n", ErrInvalid, []string{"media.address: must not have a zone"}},
		{"wildcard without advertise", "media: {address: 0.0.0.0}\n", ErrInvalid, []string{"media.advertise_address: must be set"}},
		{"advertise wildcard", "media: {address: 0.0.0.0, advertise_address: 0.0.0.0}\n", ErrInvalid, []string{"media.advertise_address: must not be a wildcard"}},
		{"advertise wrong family v4", "media: {address: 127.0.0.1, advertise_address: \"::1\"}\n", ErrInvalid, []string{"must be IPv4"}},
		{"advertise wrong family v6", "media: {address: \"::1\", advertise_address: 127.0.0.1}\n", ErrInvalid, []string{"must be IPv6"}},
		{"advertise not IP", "media: {advertise_address: sbc.example.com}\n", ErrInvalid, []string{"media.advertise_address"}},
		{"listen no port", "grpc: {listen: 127.0.0.1}\n", ErrInvalid, []string{`grpc.listen: must be host:port, got "127.0.0.1"`}},
		{"listen port range", "grpc: {listen: \"127.0.0.1:65536\"}\n", ErrInvalid, []string{"grpc.listen: port must be a number"}},
		{"listen port name", "http: {listen: \"127.0.0.1:http\"}\n", ErrInvalid, []string{"http.listen: port must be a number"}},
		{"listen bad host", "http: {listen: \"exa mple:80\"}\n", ErrInvalid, []string{"http.listen: host must be"}},
		{"listen v6 no brackets", "http: {listen: \"::1:80\"}\n", ErrInvalid, []string{"http.listen"}},
		{"same listeners", "grpc: {listen: \"127.0.0.1:9000\"}\nhttp: {listen: \"127.0.0.1:9000\"}\n", ErrInvalid, []string{"http.listen: must differ from grpc.listen"}},
		{"health listen no port", "grpc: {health_listen: 127.0.0.1}\n", ErrInvalid, []string{`grpc.health_listen: must be host:port, got "127.0.0.1"`}},
		{"health listen on the API", "grpc: {listen: \"127.0.0.1:9000\", health_listen: \"127.0.0.1:9000\"}\n", ErrInvalid, []string{"grpc.health_listen: must differ from grpc.listen and http.listen"}},
		{"health listen on HTTP", "grpc: {health_listen: \"127.0.0.1:8080\"}\n", ErrInvalid, []string{"grpc.health_listen: must differ"}},
		{"idle too short", "media: {idle_timeout: 99ms}\n", ErrInvalid, []string{"media.idle_timeout: must be in 100ms..24h"}},
		{"queue bound too short", "media: {max_queue_delay: 5ms}\n", ErrInvalid, []string{"media.max_queue_delay: must be 0 (off) or in 20ms..10s, got 5ms"}},
		{"queue bound negative", "media: {max_queue_delay: -1s}\n", ErrInvalid, []string{"media.max_queue_delay: must be 0 (off) or in 20ms..10s, got -1s"}},
		{"drain negative", "session: {drain_timeout: -1s}\n", ErrInvalid, []string{"session.drain_timeout"}},
		{"max sessions zero", "session: {max_sessions: 0}\n", ErrInvalid, []string{"session.max_sessions: must be in 1..1000000, got 0"}},
		{"sample every zero", "media: {latency_sample_every: 0}\n", ErrInvalid, []string{"media.latency_sample_every"}},
		{"log level", "log: {level: verbose}\n", ErrInvalid, []string{`log.level: must be one of debug, info, warn, error, got "verbose"`}},
		{"log format", "log: {format: xml}\n", ErrInvalid, []string{"log.format"}},
		{"recording dir empty", "recording: {dir: \"\"}\n", ErrInvalid, []string{"recording.dir: must be set when recording.enabled"}},
		{"recording dir NUL", "recording: {dir: \"a\\0b\"}\n", ErrInvalid, []string{"recording.dir: must not contain a NUL"}},
		{"too large", "log: {level: info}\n" + strings.Repeat("#", maxFileSize), ErrSyntax, []string{"larger than"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", c)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %q does not wrap %v", err, tt.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Validation reports every problem at once, each naming its key.
func TestValidateCollectsAll(t *testing.T) {
	_, err := Parse([]byte("media: {port_min: 70001, address: x}\nlog: {level: loud, format: xml}\nsession: {max_sessions: -1}\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, k := range []string{"media.port_min", "media.address", "log.level", "log.format", "session.max_sessions"} {
		if !strings.Contains(err.Error(), "config: "+k+": ") {
			t.Errorf("error lacks %s:\n%v", k, err)
		}
	}
	// A cross-key rule over a key that already failed is not reported again.
	if strings.Contains(err.Error(), "media.port_max") || strings.Contains(err.Error(), "advertise") {
		t.Errorf("cascading errors reported:\n%v", err)
	}
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Key == "" {
		t.Errorf("errors.As *KeyError failed on %v", err)
	}
	// Parse errors of several keys are collected too.
	_, err = Parse([]byte("media: {port_min: x, port_max: y}\nfoo: 1\n"))
	for _, w := range []string{"media.port_min (line 1)", "media.port_max (line 1)", "foo (line 2)"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
