package srtp

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// maxCryptoLen bounds an a=crypto value; real ones are under 200 octets.
const maxCryptoLen = 1024

// Crypto is one SDES a=crypto attribute (RFC 4568 section 9.1): a tag, a suite and the
// key its writer encrypts with.
type Crypto struct {
	// Tag numbers the attribute within its m= line; an answer repeats the tag it accepts.
	Tag int
	Key Key
}

// Suite is the attribute's suite.
func (c Crypto) Suite() Suite { return c.Key.Suite() }

// String shows the tag, suite and key fingerprint.
func (c Crypto) String() string { return "crypto " + strconv.Itoa(c.Tag) + " " + c.Key.String() }

// Value is the attribute's value for SDP ("1 AES_CM_128_HMAC_SHA1_80 inline:..."): it
// carries the key, so it belongs only in the SDP sent to the party the key is for.
func (c Crypto) Value() string {
	return strconv.Itoa(c.Tag) + " " + c.Key.Suite().String() + " inline:" + c.Key.Inline()
}

// ParseCrypto reads an a=crypto value (what follows "a=crypto:"). It fails with ErrCrypto
// when the value is malformed, ErrSuite for a suite hush does not support, and ErrParam for
// a well-formed line asking for something hush does not do (see ErrParam). Errors never
// quote the key.
func ParseCrypto(v string) (Crypto, error) {
	if len(v) > maxCryptoLen {
		return Crypto{}, fmt.Errorf("%w: longer than %d octets", ErrCrypto, maxCryptoLen)
	}
	f := strings.Fields(v)
	if len(f) < 3 {
		return Crypto{}, fmt.Errorf("%w: not \"tag suite key-params\"", ErrCrypto)
	}
	tag, err := parseTag(f[0])
	if err != nil {
		return Crypto{}, err
	}
	suite, ok := ParseSuite(f[1])
	if !ok {
		// The suite is not quoted: in a misordered line it could be the key.
		return Crypto{Tag: tag}, fmt.Errorf("%w: not one of hush's suites", ErrSuite)
	}
	key, err := parseKeyParams(suite, f[2])
	if err != nil {
		return Crypto{Tag: tag}, err
	}
	for _, p := range f[3:] {
		if err := checkSessionParam(p); err != nil {
			return Crypto{Tag: tag}, err
		}
	}
	return Crypto{Tag: tag, Key: key}, nil
}

// parseTag reads 1*9DIGIT.
func parseTag(s string) (int, error) {
	if len(s) == 0 || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: the tag is not 1 to 9 digits", ErrCrypto)
	}
	n, _ := strconv.Atoi(s)
	return n, nil
}

// parseKeyParams reads "inline:key-salt[|lifetime][|mki:length]" (one key-param only).
func parseKeyParams(suite Suite, s string) (Key, error) {
	if strings.Contains(s, ";") {
		return Key{}, fmt.Errorf("%w: more than one key", ErrParam)
	}
	method, info, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return Key{}, fmt.Errorf("%w: the key method is not inline", ErrCrypto)
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return Key{}, fmt.Errorf("%w: too many key-info fields", ErrCrypto)
	}
	for _, p := range parts[1:] {
		switch {
		case strings.Contains(p, ":"):
			if !mkiValid(p) {
				return Key{}, fmt.Errorf("%w: MKI is not value:length", ErrCrypto)
			}
			return Key{}, fmt.Errorf("%w: MKI", ErrParam)
		case !lifetimeValid(p):
			return Key{}, fmt.Errorf("%w: lifetime is not [2^]digits", ErrCrypto)
		}
	}
	material, err := decodeKey(parts[0])
	if err != nil {
		return Key{}, err
	}
	if len(material) != suite.KeyLen() {
		return Key{}, fmt.Errorf("%w: %w: %d octets for %v, which takes %d", ErrCrypto, ErrKeyLength, len(material), suite, suite.KeyLen())
	}
	return NewKey(suite, material)
}

// decodeKey reads base64 with or without its padding: RFC 4568 leaves it open, and
// rtpengine leaves it out by default.
func decodeKey(s string) ([]byte, error) {
	if len(s) == 0 || len(s) > 2*maxKeyLen {
		return nil, fmt.Errorf("%w: the key is empty or too long", ErrCrypto)
	}
	enc := base64.RawStdEncoding
	if strings.HasSuffix(s, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: the key is not base64", ErrCrypto)
	}
	return b, nil
}

func lifetimeValid(s string) bool {
	d := strings.TrimPrefix(s, "2^")
	if d == "" || len(d) > 20 || strings.Trim(d, "0123456789") != "" {
		return false
	}
	if len(d) < len(s) { // 2^n: RFC 3711 caps SRTP at 2^48 packets
		n, _ := strconv.Atoi(d)
		return n <= 64
	}
	return true
}

func mkiValid(s string) bool {
	v, l, _ := strings.Cut(s, ":")
	n, err := strconv.Atoi(l)
	return v != "" && len(v) <= 20 && strings.Trim(v, "0123456789") == "" && err == nil && len(l) <= 3 && n >= 1 && n <= 128
}

// checkSessionParam accepts the parameters that change nothing for hush: KDR=0 (no key
// derivation rate), WSH (a window size hint), and extensions marked optional with a
// leading "-" (RFC 4568 section 9.1). Everything else changes the transform.
func checkSessionParam(p string) error {
	name, val, _ := strings.Cut(p, "=")
	switch strings.ToUpper(name) {
	case "KDR":
		if val == "0" {
			return nil
		}
		return fmt.Errorf("%w: KDR", ErrParam)
	case "WSH":
		if n, err := strconv.Atoi(val); err == nil && n >= 64 {
			return nil
		}
		return fmt.Errorf("%w: WSH is not a number of at least 64", ErrCrypto)
	case "UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP", "FEC_ORDER", "FEC_KEY":
		return fmt.Errorf("%w: %s", ErrParam, strings.ToUpper(name))
	}
	if strings.HasPrefix(p, "-") {
		return nil
	}
	return fmt.Errorf("%w: an unknown session parameter", ErrParam)
}
