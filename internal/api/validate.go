package api

import (
	"fmt"
	"net/netip"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hushmedia/hush/media/pan"
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

// checkText validates an identifier-like field: bounded, valid UTF-8, only visible
// characters (no space, control or format character). The value is never echoed.
func checkText(field, v string, maxLen int, required bool) error {
	if v == "" {
		if required {
			return invalidf("%s is required", field)
		}
		return nil
	}
	return checkChars(field, v, maxLen, false)
}

// checkFreeText validates text people type (reasons, label values): as checkText, but
// spaces are allowed.
func checkFreeText(field, v string, maxLen int) error {
	return checkChars(field, v, maxLen, true)
}

// checkChars refuses control characters (a newline forges log lines) and invisible format
// characters: a bidi override such as U+202E makes a value display as something else, in a
// log, an audit record or a QA screen. Everything a request may hold is a graphic character
// (letters, marks, numbers, punctuation, symbols) or, where spaces is set, a space.
func checkChars(field, v string, maxLen int, spaces bool) error {
	if len(v) > maxLen {
		return invalidf("%s is longer than %d bytes", field, maxLen)
	}
	if !utf8.ValidString(v) {
		return invalidf("%s is not valid UTF-8", field)
	}
	for _, r := range v {
		switch {
		case unicode.Is(unicode.Zs, r):
			if !spaces {
				return invalidf("%s contains a space", field)
			}
		case unicode.IsControl(r):
			return invalidf("%s contains a control character", field)
		case !unicode.IsGraphic(r):
			return invalidf("%s contains an invisible formatting or unassigned character (such as a bidi override); only visible characters are allowed", field)
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
		if err := checkFreeText(fmt.Sprintf("labels[%q]", pan.Scrub(k)), v, maxLabelValueLen); err != nil {
			return err
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
	if ap.Port() == 0 {
		return netip.AddrPort{}, invalidf("%s must have a non-zero port", field)
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, invalidf("%s must not carry an IPv6 zone", field)
	}
	a := ap.Addr().Unmap()
	if kind := notUnicast(a); kind != "" {
		return netip.AddrPort{}, invalidf("%s must be a unicast address, not %s", field, kind)
	}
	return netip.AddrPortFrom(a, ap.Port()), nil
}

// IPv4 ranges no call's media can come from or go to.
var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")   // RFC 1122 section 3.2.1.3: source only
	reservedV4  = netip.MustParsePrefix("240.0.0.0/4") // RFC 1112 section 4; 255.255.255.255 within
)

// notUnicast names the kind of a (non-mapped) address that cannot be a call party's media
// address, or returns "".
func notUnicast(a netip.Addr) string {
	switch {
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsMulticast():
		return "a multicast address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	case thisNetwork.Contains(a):
		return `a "this network" address (0.0.0.0/8)`
	case reservedV4.Contains(a):
		return "a reserved address (240.0.0.0/4)"
	}
	return ""
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
