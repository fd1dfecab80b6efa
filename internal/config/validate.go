package config

import (
	"errors"
	"fmt"
	"github.com/hushmedia/hush/media/mask"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks every key and the rules between keys. It reports all
// problems at once (errors.Join of *KeyError, each wrapping ErrInvalid).
func (c *Config) Validate() error {
	var errs []error
	for _, e := range c.validate() {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func (c *Config) validate() []*KeyError {
	var errs []*KeyError
	failed := make(map[string]bool)
	for i := range keys {
		k := &keys[i]
		if reason, ok := k.check(c); !ok {
			failed[k.path] = true
			errs = append(errs, invalid(k.path, "", "%s", reason))
		}
	}
	for _, x := range crossChecks {
		if slices.ContainsFunc(x.reads, func(p string) bool { return failed[p] }) {
			continue
		}
		if err := x.check(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Per-key checks: each returns a reason and false when the value is bad.

func all[T any](checks ...func(T) (string, bool)) func(T) (string, bool) {
	return func(v T) (string, bool) {
		for _, c := range checks {
			if r, ok := c(v); !ok {
				return r, false
			}
		}
		return "", true
	}
}

func intRange(lo, hi int) func(int) (string, bool) {
	return func(v int) (string, bool) {
		if v < lo || v > hi {
			return fmt.Sprintf("must be in %d..%d, got %d", lo, hi, v), false
		}
		return "", true
	}
}

func even(v int) (string, bool) {
	if v%2 != 0 {
		return fmt.Sprintf("must be even (RTP uses even ports, RTCP the odd port above), got %d", v), false
	}
	return "", true
}

func durationRange(lo, hi time.Duration) func(time.Duration) (string, bool) {
	return func(v time.Duration) (string, bool) {
		if v < lo || v > hi {
			return fmt.Sprintf("must be in %v..%v, got %v", lo, hi, v), false
		}
		return "", true
	}
}

// offOrDuration accepts 0 (the feature turned off) or a duration in lo..hi.
func offOrDuration(lo, hi time.Duration) func(time.Duration) (string, bool) {
	return func(v time.Duration) (string, bool) {
		if v != 0 && (v < lo || v > hi) {
			return fmt.Sprintf("must be 0 (off) or in %v..%v, got %v", lo, hi, v), false
		}
		return "", true
	}
}

func oneOf(allowed ...string) func(string) (string, bool) {
	return func(v string) (string, bool) {
		if !slices.Contains(allowed, v) {
			return fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), v), false
		}
		return "", true
	}
}

func path(v string) (string, bool) {
	if strings.ContainsRune(v, 0) {
		return "must not contain a NUL byte", false
	}
	return "", true
}

// ipLiteral accepts an IPv4 or IPv6 address without zone; SDP (RFC 8866
// s5.7) cannot carry a zone. emptyOK allows "".
func ipLiteral(emptyOK bool) func(string) (string, bool) {
	return func(v string) (string, bool) {
		if v == "" && emptyOK {
			return "", true
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return fmt.Sprintf("must be an IPv4 or IPv6 address, got %q", v), false
		}
		if a.Zone() != "" {
			return fmt.Sprintf("must not have a zone, got %q", v), false
		}
		return "", true
	}
}

// listenAddr accepts host:port where host is empty (all interfaces), an IP
// literal (IPv6 in brackets) or a host name, and port is numeric 0..65535.
func listenAddr(v string) (string, bool) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Sprintf("must be host:port, got %q", v), false
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("port must be a number in 0..65535, got %q", port), false
	}
	if host == "" {
		return "", true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "", true
	}
	if !hostName(host) {
		return fmt.Sprintf("host must be an IP address or host name, got %q", host), false
	}
	return "", true
}

// optional accepts the empty string (off) and otherwise applies check.
func optional(check func(string) (string, bool)) func(string) (string, bool) {
	return func(v string) (string, bool) {
		if v == "" {
			return "", true
		}
		return check(v)
	}
}

// hostName reports whether s is a DNS name (RFC 1123 s2.1 labels).
func hostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Cross-key rules.

func portRange(c *Config) *KeyError {
	if c.Media.PortMax <= c.Media.PortMin {
		return invalid("media.port_max", "", "must be greater than media.port_min (%d), got %d",
			c.Media.PortMin, c.Media.PortMax)
	}
	return nil
}

// advertise rejects advertising a wildcard address (in SDP, 0.0.0.0 means
// "hold", RFC 3264 s8.4) and an address family the bound socket cannot
// receive.
func advertise(c *Config) *KeyError {
	bind := c.Media.BindIP()
	if c.Media.AdvertiseAddress == "" {
		if bind.IsUnspecified() {
			return invalid("media.advertise_address", "",
				"must be set when media.address is a wildcard (%s)", c.Media.Address)
		}
		return nil
	}
	adv := c.Media.AdvertiseIP()
	if adv.IsUnspecified() {
		return invalid("media.advertise_address", "", "must not be a wildcard address, got %q", c.Media.AdvertiseAddress)
	}
	if bind.Is4() && !adv.Is4() {
		return invalid("media.advertise_address", "",
			"must be IPv4 when media.address (%s) is IPv4, got %q", c.Media.Address, c.Media.AdvertiseAddress)
	}
	if bind.Is6() && !bind.IsUnspecified() && !adv.Is6() {
		return invalid("media.advertise_address", "",
			"must be IPv6 when media.address (%s) is IPv6, got %q", c.Media.Address, c.Media.AdvertiseAddress)
	}
	return nil
}

func distinctListeners(c *Config) *KeyError {
	_, port, _ := net.SplitHostPort(c.HTTP.Listen)
	if c.GRPC.Listen == c.HTTP.Listen && port != "0" {
		return invalid("http.listen", "", "must differ from grpc.listen, both are %q", c.HTTP.Listen)
	}
	return nil
}

func healthListener(c *Config) *KeyError {
	_, port, _ := net.SplitHostPort(c.GRPC.HealthListen)
	if c.GRPC.HealthListen != "" && port != "0" && (c.GRPC.HealthListen == c.GRPC.Listen || c.GRPC.HealthListen == c.HTTP.Listen) {
		return invalid("grpc.health_listen", "", "must differ from grpc.listen and http.listen, got %q", c.GRPC.HealthListen)
	}
	return nil
}

func recordingDir(c *Config) *KeyError {
	if c.Recording.Enabled && c.Recording.Dir == "" {
		return invalid("recording.dir", "", "must be set when recording.enabled is true")
	}
	return nil
}

func recordingKey(c *Config) *KeyError {
	if c.Recording.Encrypt && c.Recording.KeyFile == "" {
		return invalid("recording.key_file", "", "must be set when recording.encrypt is true")
	}
	return nil
}

func recordingStore(c *Config) *KeyError {
	if c.Recording.StoreEndpoint == "" {
		return nil
	}
	if c.Recording.StoreBucket == "" {
		return invalid("recording.store_bucket", "", "must be set with recording.store_endpoint")
	}
	if c.Recording.StoreCredentialsFile == "" {
		return invalid("recording.store_credentials_file", "", "must be set with recording.store_endpoint")
	}
	return nil
}

func tlsPair(c *Config) *KeyError {
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return invalid("tls.key_file", "", "tls.cert_file and tls.key_file must be set together")
	}
	return nil
}

func clientCA(c *Config) *KeyError {
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		return invalid("tls.client_ca_file", "", "needs tls.cert_file and tls.key_file (mTLS is TLS first)")
	}
	return nil
}

func crlNeedsCA(c *Config) *KeyError {
	if c.TLS.CRLFile != "" && c.TLS.ClientCAFile == "" {
		return invalid("tls.crl_file", "", "needs tls.client_ca_file (it revokes client certificates)")
	}
	return nil
}

func tokenFile(c *Config) *KeyError {
	if c.Auth.Tokens() && c.Auth.TokenFile == "" && !c.Auth.OIDC.Enabled() {
		return invalid("auth.token_file", "", "must be set when auth.mode is %s (or auth.oidc.issuer)", c.Auth.Mode)
	}
	return nil
}

func oidcSettings(c *Config) *KeyError {
	if !c.Auth.OIDC.Enabled() {
		return nil
	}
	if !c.Auth.Tokens() {
		return invalid("auth.oidc.issuer", "", "needs auth.mode token or token_or_mtls (JWTs are bearer tokens), not %s", c.Auth.Mode)
	}
	if c.Auth.OIDC.Audience == "" {
		return invalid("auth.oidc.audience", "", "must be set with auth.oidc.issuer: a token for another application must not pass")
	}
	return nil
}

// issuerURL is empty or an https URL (http for a loopback host: a test identity provider).
func issuerURL(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("must be the issuer's URL (https://idp.example.com/realms/x), got %q", v), false
	}
	switch u.Scheme {
	case "https":
		return "", true
	case "http":
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && ip.IsLoopback() || u.Hostname() == "localhost" {
			return "", true
		}
	}
	return fmt.Sprintf("must be https (http only on loopback), got %q", v), false
}

// claimName is a JWT claim name, dots for nesting.
func claimName(v string) (string, bool) {
	if v == "" || len(v) > 128 || strings.ContainsAny(v, " \t\n\"") || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
		return fmt.Sprintf("must be a claim name (letters, digits, _ - :, dots for nesting), got %q", v), false
	}
	return "", true
}

// jwtAlgorithms are the asymmetric JWS algorithms (RFC 7518 s3.1, RFC 8037).
var jwtAlgorithms = func() func(string) (string, bool) {
	known := []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
	return func(v string) (string, bool) {
		for a := range strings.SplitSeq(v, ",") {
			if a = strings.TrimSpace(a); a != "" && !slices.Contains(known, a) {
				return fmt.Sprintf("must list algorithms of %s (none and HMAC are never accepted), got %q", strings.Join(known, ", "), a), false
			}
		}
		return "", true
	}
}()

// originList is a comma-separated list of browser origins.
func originList(v string) (string, bool) {
	for o := range strings.SplitSeq(v, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		} else if err := CheckOrigin(o); err != nil {
			return err.Error(), false
		}
	}
	return "", true
}

// CheckOrigin reports whether o is a serialized origin fit for the CORS allow-list:
// scheme://host[:port] exactly as a browser sends it in Origin, no wildcard.
func CheckOrigin(o string) error {
	if strings.Contains(o, "*") {
		return fmt.Errorf("%q: no wildcards; name each origin", o)
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || o != u.Scheme+"://"+u.Host {
		return fmt.Errorf("%q is not an origin (scheme://host[:port], nothing after)", o)
	}
	if strings.ToLower(o) != o {
		return fmt.Errorf("%q: browsers send origins in lower case", o)
	}
	return nil
}

func mtlsCA(c *Config) *KeyError {
	if c.Auth.Certs() && c.TLS.ClientCAFile == "" {
		return invalid("tls.client_ca_file", "", "must be set when auth.mode is %s", c.Auth.Mode)
	}
	return nil
}

func clusterTLS(c *Config) *KeyError {
	cl := c.Cluster
	if (cl.CertFile == "") != (cl.KeyFile == "") || (cl.CertFile == "") != (cl.CAFile == "") {
		return invalid("cluster.cert_file", "", "cluster.cert_file, cluster.key_file and cluster.ca_file must be set together")
	}
	return nil
}

func clusterCRLNeedsCA(c *Config) *KeyError {
	if c.Cluster.CRLFile != "" && c.Cluster.CAFile == "" {
		return invalid("cluster.crl_file", "", "needs cluster.ca_file (it revokes node certificates)")
	}
	return nil
}

// clusterPlaintext: nodes forward callers' identities to each other; in plaintext anyone
// who reaches the peer listener could claim any identity, so that is allowed only where
// there is nothing to claim (auth.mode none) and nobody else to reach it (loopback).
func clusterPlaintext(c *Config) *KeyError {
	if !c.Cluster.Enabled() || c.Cluster.TLS() {
		return nil
	}
	host, _, _ := net.SplitHostPort(c.Cluster.Listen)
	ip, err := netip.ParseAddr(host)
	if c.Auth.Mode != AuthNone || err != nil || !ip.IsLoopback() {
		return invalid("cluster.cert_file", "", "must be set (with cluster.key_file and cluster.ca_file) unless auth.mode is none and cluster.listen is a loopback address: nodes forward callers' identities to each other")
	}
	return nil
}

// nodeID is empty (the host name) or a name safe in Redis keys, logs and file names.
func nodeID(v string) (string, bool) {
	if len(v) > 64 {
		return fmt.Sprintf("must be at most 64 characters, got %d", len(v)), false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "must hold only A-Z a-z 0-9 . _ -", false
		}
	}
	return "", true
}

// keyPrefix is a non-empty Redis key prefix without spaces or braces.
func keyPrefix(v string) (string, bool) {
	if v == "" || len(v) > 64 {
		return "must be 1..64 characters", false
	}
	if r, ok := nodeID(v); !ok {
		return r, false
	}
	return "", true
}

// maskModes are the masking modes, "off" first.
var maskModes = []string{"off", "silence", "comfort-noise", "tone"}

// toneHz keeps the masking tone audible and away from every DTMF frequency (697..1633 Hz),
// so the replacement can never decode as a digit.
func toneHz(v int) (string, bool) {
	if err := mask.CheckToneHz(v); err != nil {
		return fmt.Sprintf("must be 100..3400 Hz and not within 5%% of a DTMF frequency, got %d", v), false
	}
	return "", true
}

// keySequence is empty or up to 8 DTMF keys.
func keySequence(v string) (string, bool) {
	if len(v) > 8 {
		return fmt.Sprintf("must be at most 8 keys, got %d", len(v)), false
	}
	for _, r := range v {
		if !strings.ContainsRune("0123456789*#ABCD", r) {
			return "must hold only the keys 0-9 * # A-D", false
		}
	}
	return "", true
}
