package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// leaves walks Config by reflection and returns each leaf field's dotted
// yaml path and address.
func leaves(c *Config) map[string]any {
	out := map[string]any{}
	var walk func(v reflect.Value, at string)
	walk = func(v reflect.Value, at string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			p := join(at, tag)
			if f.Type.Kind() == reflect.Struct {
				walk(v.Field(i), p)
				continue
			}
			out[p] = v.Field(i).Addr().Interface()
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// Every leaf of Config is a key (so reachable by YAML, env and flag), and
// every key's accessor points at the field its path names.
func TestKeysCoverConfig(t *testing.T) {
	c := &Config{}
	fields := leaves(c)
	for p := range fields {
		if keyIndex[p] == nil {
			t.Errorf("Config field %s has no row in the key table", p)
		}
	}
	for i := range keys {
		k := &keys[i]
		addr, ok := fields[k.path]
		if !ok {
			t.Errorf("key %s names no Config field", k.path)
			continue
		}
		if got := k.field(c); got != addr {
			t.Errorf("key %s: accessor points at another field", k.path)
		}
	}
}

// altValues holds a valid non-default value per key.
var altValues = map[string]string{
	"grpc.listen":                      "[::1]:9000",
	"masking.customer_to_agent":        "off",
	"media.lock_ssrc":                  "true",
	"media.rate_limit_pps":             "0",
	"media.max_queue_delay":            "0s",
	"media.engine":                     "epoll",
	"masking.agent_to_customer":        "silence",
	"masking.look_ahead":               "80ms",
	"masking.tone_hz":                  "450",
	"masking.capture_mode":             "comfort-noise",
	"masking.capture_trigger":          "*7",
	"recording.look_ahead":             "120ms",
	"grpc.insecure":                    "true",
	"grpc.max_connections":             "0",
	"grpc.max_connections_per_ip":      "1",
	"grpc.handshake_timeout":           "1s",
	"grpc.idle_timeout":                "1h",
	"grpc.max_streams_per_connection":  "10",
	"grpc.max_header_bytes":            "1024",
	"http.max_connections":             "0",
	"http.max_connections_per_ip":      "1",
	"http.max_header_bytes":            "1024",
	"http.max_body_bytes":              "1024",
	"http.cors_origins":                "https://desktop.example.com,http://127.0.0.1:9000",
	"http.ui":                          "false",
	"media.fd_reserve":                 "0",
	"media.workers":                    "3",
	"media.realtime_priority":          "10",
	"media.busy_poll":                  "200us",
	"media.background_nice":            "5",
	"grpc.max_message_size":            "4096",
	"grpc.health_listen":               "0.0.0.0:50052",
	"http.insecure":                    "true",
	"http.metrics_open":                "true",
	"http.listen":                      "localhost:9001",
	"media.address":                    "::1",
	"media.advertise_address":          "127.0.0.2",
	"media.port_min":                   "20000",
	"media.port_max":                   "40001",
	"media.strict_source":              "false",
	"media.idle_timeout":               "100ms",
	"media.setup_timeout":              "10m",
	"media.latency_sample_every":       "1",
	"session.max_sessions":             "1",
	"session.drain_timeout":            "0s",
	"recording.enabled":                "false",
	"recording.dir":                    "/var/lib/hush/rec",
	"recording.encrypt":                "false",
	"recording.key_file":               "/etc/hush/rec.kek",
	"recording.retention":              "2160h",
	"recording.format":                 "ulaw",
	"recording.store_endpoint":         "s3.example.net:443",
	"recording.store_bucket":           "calls",
	"recording.store_region":           "eu-west-1",
	"recording.store_tls":              "false",
	"recording.store_credentials_file": "/etc/hush/s3",
	"log.level":                        "debug",
	"log.format":                       "json",
	"tls.cert_file":                    "/etc/hush/tls.crt",
	"tls.key_file":                     "/etc/hush/tls.key",
	"tls.client_ca_file":               "/etc/hush/clients-ca.crt",
	"auth.mode":                        "token",
	"auth.token_file":                  "/etc/hush/tokens.jsonl",
	"auth.rate_limit":                  "0",
	"auth.rate_burst":                  "1",
	"auth.reflection":                  "false",
	"auth.max_streams_per_client":      "0",
	"auth.oidc.issuer":                 "https://idp.example.com/realms/calls",
	"auth.oidc.audience":               "hush-prod",
	"auth.oidc.subject_claim":          "preferred_username",
	"auth.oidc.role_claim":             "realm_access.roles",
	"auth.oidc.agent_id_claim":         "ext.agent",
	"auth.oidc.algorithms":             "RS256,ES256",
	"tls.crl_file":                     "/etc/hush/clients.crl",
	"audit.file":                       "",
	"ng.enabled":                       "true",
	"ng.listen":                        "127.0.0.1:0",
	"ng.allow_from":                    "10.0.0.0/8, 192.0.2.7",
	"ng.insecure":                      "true",
	"ng.rate_limit":                    "0",
	"ng.rate_burst":                    "1",
	"ng.customer":                      "answerer",
	"ng.offer_timeout":                 "1m",
	"cluster.redis_addr":               "redis.internal:6379",
	"cluster.redis_password_file":      "/etc/hush/redis.pass",
	"cluster.key_prefix":               "hush-eu",
	"cluster.node_id":                  "hush-1",
	"cluster.listen":                   "10.0.0.5:50052",
	"cluster.advertise":                "hush-1.internal:50052",
	"cluster.cert_file":                "/etc/hush/node.crt",
	"cluster.key_file":                 "/etc/hush/node.key",
	"cluster.ca_file":                  "/etc/hush/cluster-ca.crt",
	"cluster.crl_file":                 "/etc/hush/cluster.crl",
	"cluster.lease":                    "3s",
	"cluster.write_timeout":            "1s",
	"cluster.drain_handoff":            "true",
	"monitor.enabled":                  "false",
	"monitor.max_pause":                "10m",
	"monitor.payment_window":           "1m",
	"monitor.pauses_per_hour":          "0",
}

// companions are the other keys a key's altValues setting needs to pass the
// cross-key rules (a certificate needs its key, and so on).
var companions = map[string]map[string]string{
	"tls.cert_file":            {"tls.key_file": "/k"},
	"recording.store_endpoint": {"recording.store_bucket": "b", "recording.store_credentials_file": "/c"},
	"auth.oidc.issuer":         {"auth.mode": "token", "auth.oidc.audience": "hush"},
	"tls.key_file":             {"tls.cert_file": "/c"},
	"tls.client_ca_file":       {"tls.cert_file": "/c", "tls.key_file": "/k"},
	"tls.crl_file":             {"tls.cert_file": "/c", "tls.key_file": "/k", "tls.client_ca_file": "/ca"},
	"auth.mode":                {"auth.token_file": "/t"},
	"cluster.redis_addr":       {"cluster.cert_file": "/c", "cluster.key_file": "/k", "cluster.ca_file": "/ca"},
	"cluster.cert_file":        {"cluster.key_file": "/k", "cluster.ca_file": "/ca"},
	"cluster.key_file":         {"cluster.cert_file": "/c", "cluster.ca_file": "/ca"},
	"cluster.ca_file":          {"cluster.cert_file": "/c", "cluster.key_file": "/k"},
	"cluster.crl_file":         {"cluster.cert_file": "/c", "cluster.key_file": "/k", "cluster.ca_file": "/ca"},
}

// Each key is reachable through the file, env and flags, and its flag and
// env names follow the documented convention.
func TestKeyReachableEverywhere(t *testing.T) {
	for i := range keys {
		k := &keys[i]
		if want := "HUSH_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(k.path)); k.envName() != want {
			t.Errorf("%s: env %s, want %s", k.path, k.envName(), want)
		}
		v, ok := altValues[k.path]
		if !ok {
			t.Errorf("%s: add a valid non-default value to altValues", k.path)
			continue
		}
		if v == k.get(Default()) {
			t.Errorf("%s: altValues holds the default", k.path)
		}
		want := k.get(mustSet(t, k, v))
		settings := map[string]string{k.path: v}
		for p, cv := range companions[k.path] {
			settings[p] = cv
		}
		var args []string
		envs := map[string]string{}
		tree := map[string]any{}
		for p, sv := range settings {
			kk := keyIndex[p]
			args = append(args, "--"+kk.flagName()+"="+sv)
			envs[kk.envName()] = sv
			node, parts := tree, strings.Split(p, ".")
			for _, sec := range parts[:len(parts)-1] {
				if node[sec] == nil {
					node[sec] = map[string]any{}
				}
				node = node[sec].(map[string]any)
			}
			node[parts[len(parts)-1]] = sv
		}
		viaFlag, err := Load(args, nil)
		if err != nil {
			t.Errorf("%s: flag: %v", k.path, err)
			continue
		}
		viaEnv, err := Load(nil, env(envs))
		if err != nil {
			t.Errorf("%s: env: %v", k.path, err)
			continue
		}
		node, _ := yaml.Marshal(tree)
		doc := string(node)
		viaFile, err := Parse([]byte(doc))
		if err != nil {
			t.Errorf("%s: file %q: %v", k.path, doc, err)
			continue
		}
		for src, c := range map[string]*Config{"flag": viaFlag, "env": viaEnv, "file": viaFile} {
			if got := k.get(c); got != want {
				t.Errorf("%s via %s = %q, want %q", k.path, src, got, want)
			}
		}
	}
}

func mustSet(t *testing.T, k *key, v string) *Config {
	t.Helper()
	c := Default()
	if err := k.set(c, v); err != nil {
		t.Fatalf("%s: set %q: %v", k.path, v, err)
	}
	return c
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestKeyNamesUnique(t *testing.T) {
	flags, envs := map[string]string{}, map[string]string{}
	reserved := []string{"config", "h", "help"}
	for i := range keys {
		k := &keys[i]
		if prev, dup := flags[k.flagName()]; dup {
			t.Errorf("flag --%s used by %s and %s", k.flagName(), prev, k.path)
		}
		if prev, dup := envs[k.envName()]; dup {
			t.Errorf("env %s used by %s and %s", k.envName(), prev, k.path)
		}
		if slices.Contains(reserved, k.flagName()) || k.envName() == ConfigEnv {
			t.Errorf("key %s takes a reserved name", k.path)
		}
		flags[k.flagName()], envs[k.envName()] = k.path, k.path
		if k.help == "" {
			t.Errorf("key %s has no help", k.path)
		}
	}
}

// default.yaml sets every key explicitly, so it documents every default.
func TestDefaultYAMLComplete(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(DefaultYAML(), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(n *yaml.Node, at string)
	walk = func(n *yaml.Node, at string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(at, n.Content[i].Value)
			if v := n.Content[i+1]; v.Kind == yaml.MappingNode {
				walk(v, p)
			} else {
				got = append(got, p)
			}
		}
	}
	walk(doc.Content[0], "")
	var want []string
	for i := range keys {
		want = append(want, keys[i].path)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("default.yaml keys\n%v\nwant (key table)\n%v", got, want)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	want := Config{
		GRPC: GRPC{Listen: "127.0.0.1:50051", MaxMessageSize: 1 << 20, MaxConnections: 4096, MaxConnectionsPerIP: 256,
			HandshakeTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute, MaxStreamsPerConnection: 1000, MaxHeaderBytes: 16 << 10},
		HTTP: HTTP{Listen: "127.0.0.1:8080", MaxConnections: 256, MaxConnectionsPerIP: 32, MaxHeaderBytes: 16 << 10,
			MaxBodyBytes: 64 << 10, UI: true},
		Media: Media{Address: "127.0.0.1", PortMin: 30000, PortMax: 39999, StrictSource: true,
			IdleTimeout: 60 * time.Second, SetupTimeout: 5 * time.Minute, LatencySampleEvery: 16, RateLimitPPS: 500, MaxQueueDelay: 200 * time.Millisecond, Engine: "auto", FDReserve: 1024},
		Session: Session{MaxSessions: 10000, DrainTimeout: 30 * time.Second},
		Masking: Masking{CustomerToAgent: "tone", AgentToCustomer: "off", LookAhead: 60 * time.Millisecond,
			ToneHz: 400, CaptureMode: "tone"},
		Recording: Recording{Enabled: true, Dir: "./recordings", LookAhead: 80 * time.Millisecond,
			Encrypt: true, KeyFile: "./keys/recording.kek", Format: "pcm16", StoreTLS: true},
		Log: Log{Level: "info", Format: "text"},
		Auth: Auth{Mode: AuthNone, RateLimit: 200, RateBurst: 400, Reflection: true, MaxStreamsPerClient: 1000,
			OIDC: OIDC{SubjectClaim: "sub", RoleClaim: "hush_role", AgentIDClaim: "hush_agent_id"}},
		Audit: Audit{File: "./audit/hush-audit.jsonl"},
		NG: NG{Listen: "127.0.0.1:2223", RateLimit: 1000, RateBurst: 2000, Customer: "offerer",
			OfferTimeout: 10 * time.Minute},
		Cluster: Cluster{KeyPrefix: "hush", Listen: "127.0.0.1:50052", Lease: 1500 * time.Millisecond,
			WriteTimeout: 250 * time.Millisecond},
		Monitor: Monitor{Enabled: true, MaxPause: 3 * time.Minute, PaymentWindow: 30 * time.Second, PausesPerHour: 10},
	}
	if *c != want {
		t.Errorf("Default() = %+v\nwant %+v", *c, want)
	}
	c.Media.PortMin = 1
	if Default().Media.PortMin != 30000 {
		t.Error("Default() returns shared state")
	}
	if c.Media.AdvertiseIP().String() != "127.0.0.1" {
		t.Errorf("AdvertiseIP = %v, want media.address", c.Media.AdvertiseIP())
	}
}

// Formatting a value and parsing it back gives the same value, so usage,
// the reference table and the config all read back.
func TestFormatRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 100 * time.Millisecond, time.Minute, 90 * time.Second, time.Hour, 25 * time.Hour} {
		got, err := parse[time.Duration](format(d))
		if err != nil || got != d {
			t.Errorf("duration %v: format %q parse %v, %v", d, format(d), got, err)
		}
	}
	if format(time.Minute) != "1m" || format(time.Hour) != "1h" {
		t.Errorf("format(1m)=%q format(1h)=%q", format(time.Minute), format(time.Hour))
	}
	def := Default()
	for i := range keys {
		c := &Config{}
		if err := keys[i].set(c, keys[i].get(def)); err != nil || keys[i].get(c) != keys[i].get(def) {
			t.Errorf("%s: round trip of %q: %v", keys[i].path, keys[i].get(def), err)
		}
	}
}

func TestReferenceCoversEveryKey(t *testing.T) {
	ref := Reference()
	lines := strings.Split(strings.TrimSpace(ref), "\n")
	if want := 2 + 1 + len(keys); len(lines) != want {
		t.Errorf("Reference has %d lines, want %d", len(lines), want)
	}
	def := Default()
	for i := range keys {
		k := &keys[i]
		row := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "| `"+k.path+"` |") {
				row = l
			}
		}
		if row == "" {
			t.Errorf("Reference has no row for %s", k.path)
			continue
		}
		for _, want := range []string{"`--" + k.flagName() + "`", "`" + k.envName() + "`", k.help} {
			if !strings.Contains(row, want) {
				t.Errorf("Reference row for %s lacks %q: %s", k.path, want, row)
			}
		}
		if d := k.get(def); d != "" && !strings.Contains(row, "`"+d+"`") {
			t.Errorf("Reference row for %s lacks default %q", k.path, d)
		}
	}
}
