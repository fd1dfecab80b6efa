package api

import (
	"fmt"
	"net/netip"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"
)

// Limits on request fields. They bound memory per session and keep ids printable.
const (
	maxIDLen         = 256
	maxRequestIDLen  = 128
	maxLabels        = 32
	maxLabelKeyLen   = 63
	maxLabelValueLen = 256
	maxCodecs        = 32
	maxCodecNameLen  = 32
	maxReasonLen     = 256
	maxPageSize      = 1000
	defaultPageSize  = 100
	minIdleTimeout   = 100 * time.Millisecond
	maxIdleTimeout   = 24 * time.Hour
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errInvalid}, args...)...)
}

// checkText validates an identifier-like field: bounded, valid UTF-8, no control or space
// characters. The value is never echoed.
func checkText(field, v string, maxLen int, required bool) error {
	if v == "" {
		if required {
			return invalidf("%s is required", field)
		}
		return nil
	}
	if len(v) > maxLen {
		return invalidf("%s is longer than %d bytes", field, maxLen)
	}
	if !utf8.ValidString(v) {
		return invalidf("%s is not valid UTF-8", field)
	}
	for _, r := range v {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return invalidf("%s contains a space or control character", field)
		}
	}
	return nil
}

func checkSessionID(v string) error { return checkText("session_id", v, maxIDLen, true) }

func checkRequestID(v string) error { return checkText("request_id", v, maxRequestIDLen, false) }

func checkLabels(labels map[string]string) error {
	if len(labels) > maxLabels {
		return invalidf("labels has more than %d entries", maxLabels)
	}
	for k, v := range labels {
		if k == "" || len(k) > maxLabelKeyLen {
			return invalidf("labels key must be 1..%d bytes", maxLabelKeyLen)
		}
		for _, r := range k {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r == '/') {
				return invalidf("labels key may hold only letters, digits and _-./")
			}
		}
		if len(v) > maxLabelValueLen || !utf8.ValidString(v) {
			return invalidf("labels value must be valid UTF-8 of at most %d bytes", maxLabelValueLen)
		}
		for _, r := range v {
			if unicode.IsControl(r) {
				return invalidf("labels value contains a control character")
			}
		}
	}
	return nil
}

// parseAddr parses "ip:port" (IPv6 as "[ip]:port"). Host names are refused: resolving
// them on the control path would make session setup depend on DNS.
func parseAddr(field, v string) (netip.AddrPort, error) {
	if v == "" {
		return netip.AddrPort{}, nil
	}
	if len(v) > 64 {
		return netip.AddrPort{}, invalidf("%s is too long", field)
	}
	ap, err := netip.ParseAddrPort(v)
	if err != nil {
		return netip.AddrPort{}, invalidf("%s must be ip:port with an IP literal ([ip]:port for IPv6)", field)
	}
	a := ap.Addr()
	if ap.Port() == 0 || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
		return netip.AddrPort{}, invalidf("%s must be a unicast address with a non-zero port", field)
	}
	return netip.AddrPortFrom(a.Unmap(), ap.Port()), nil
}

// parseIP parses an IP literal with the same rules as parseAddr's address (Leg.expected_ip).
func parseIP(field, v string) (netip.Addr, error) {
	if v == "" {
		return netip.Addr{}, nil
	}
	if len(v) > 64 {
		return netip.Addr{}, invalidf("%s is too long", field)
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, invalidf("%s must be an IP literal", field)
	}
	if a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
		return netip.Addr{}, invalidf("%s must be a unicast address", field)
	}
	return a.Unmap(), nil
}

func checkCodecs(field string, codecs map[uint32]string) (map[uint8]string, error) {
	if len(codecs) == 0 {
		return nil, nil
	}
	if len(codecs) > maxCodecs {
		return nil, invalidf("%s has more than %d entries", field, maxCodecs)
	}
	out := make(map[uint8]string, len(codecs))
	for pt, name := range codecs {
		if pt > 127 {
			return nil, invalidf("%s payload type must be 0..127", field)
		}
		if pt >= 72 && pt <= 76 {
			// RFC 5761 section 4: these would collide with RTCP packet types under rtcp-mux.
			return nil, invalidf("%s payload types 72..76 are reserved (RFC 5761)", field)
		}
		if name == "" || len(name) > maxCodecNameLen {
			return nil, invalidf("%s encoding name must be 1..%d bytes", field, maxCodecNameLen)
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '/') {
				return nil, invalidf("%s encoding name may hold only letters, digits and -._/", field)
			}
		}
		out[uint8(pt)] = name
	}
	return out, nil
}

func checkTelephoneEventPT(field string, pt uint32) (uint8, error) {
	if pt == 0 {
		return 0, nil
	}
	// RFC 4733 uses a dynamic payload type (RFC 3551 section 3: 96..127).
	if pt < 96 || pt > 127 {
		return 0, invalidf("%s must be 0 (none) or a dynamic payload type 96..127", field)
	}
	return uint8(pt), nil
}

func checkIdleTimeout(d *durationpb.Duration) (time.Duration, bool, error) {
	if d == nil {
		return 0, false, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, false, invalidf("policy.idle_timeout is not a valid duration")
	}
	v := d.AsDuration()
	if v < minIdleTimeout || v > maxIdleTimeout {
		return 0, false, invalidf("policy.idle_timeout must be between %s and %s", minIdleTimeout, maxIdleTimeout)
	}
	return v, true, nil
}

func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, invalidf("page_size must not be negative")
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}
