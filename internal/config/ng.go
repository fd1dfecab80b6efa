package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// NG configures the ng control protocol listener (rtpengine's protocol, for SIP proxies
// such as Kamailio): off unless Enabled, on loopback unless told otherwise.
type NG struct {
	Enabled      bool          `yaml:"enabled"`
	Listen       string        `yaml:"listen"`        // UDP host:port
	AllowFrom    string        `yaml:"allow_from"`    // comma-separated IPs or CIDR prefixes; "" = any source
	Insecure     bool          `yaml:"insecure"`      // allow a non-loopback listener without allow_from
	RateLimit    int           `yaml:"rate_limit"`    // requests per second per source; 0 = off
	RateBurst    int           `yaml:"rate_burst"`    // bucket size
	Customer     string        `yaml:"customer"`      // offerer|answerer: who is the customer by default
	OfferTimeout time.Duration `yaml:"offer_timeout"` // idle timeout of a session until its first answer
}

// AllowPrefixes parses AllowFrom. Call it only on a validated Config.
func (n NG) AllowPrefixes() []netip.Prefix {
	out, _ := parsePrefixes(n.AllowFrom)
	return out
}

// parsePrefixes reads "10.0.0.0/8, 192.0.2.7" (a bare address is a /32 or /128).
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Zone() == "" {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// prefixList accepts a comma-separated list of IP addresses and CIDR prefixes.
func prefixList(v string) (string, bool) {
	if len(v) > 4096 {
		return "must be at most 4096 bytes", false
	}
	if _, err := parsePrefixes(v); err != nil {
		return "must be a comma-separated list of IP addresses or CIDR prefixes: " + err.Error(), false
	}
	return "", true
}
