package srtp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// maxKeyLen is the longest master key plus salt (AES-256 with a 14-octet salt).
const maxKeyLen = 32 + 14

// Key is an SRTP master key and master salt for one suite. The zero Key is no key. It is
// a value (copy it freely) that never prints its material: see the package doc.
type Key struct {
	suite Suite
	n     uint8
	b     [maxKeyLen]byte
}

// NewKey makes a Key of a suite from its master key followed by its master salt.
func NewKey(s Suite, material []byte) (Key, error) {
	if !s.valid() {
		return Key{}, ErrSuite
	}
	if len(material) != s.KeyLen() {
		return Key{}, fmt.Errorf("%w: %d octets for %v, which takes %d", ErrKeyLength, len(material), s, s.KeyLen())
	}
	k := Key{suite: s, n: uint8(len(material))}
	copy(k.b[:], material)
	return k, nil
}

// GenerateKey makes a random Key of a suite (crypto/rand).
func GenerateKey(s Suite) (Key, error) {
	if !s.valid() {
		return Key{}, ErrSuite
	}
	k := Key{suite: s, n: uint8(s.KeyLen())}
	if _, err := rand.Read(k.b[:k.n]); err != nil {
		return Key{}, fmt.Errorf("srtp: random key: %w", err)
	}
	return k, nil
}

// Suite is the key's suite; SuiteNone for the zero Key.
func (k Key) Suite() Suite { return k.suite }

// IsZero reports whether k is no key.
func (k Key) IsZero() bool { return k.suite == SuiteNone }

// Equal reports whether two keys are the same suite and material (in constant time).
func (k Key) Equal(o Key) bool {
	return k.suite == o.suite && k.n == o.n && subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1
}

// Material returns a copy of the master key followed by the master salt. The caller owns
// a secret: it must never reach a log, an event, a metric or an answer.
func (k Key) Material() []byte { return append([]byte(nil), k.b[:k.n]...) }

// Inline is the key as an a=crypto line carries it (base64 with padding, RFC 4568
// section 6.1): only for the SDP sent to the party the key is for.
func (k Key) Inline() string { return base64.StdEncoding.EncodeToString(k.b[:k.n]) }

func (k Key) master() ([]byte, []byte) {
	kl := suites[k.suite].keyLen
	return k.b[:kl], k.b[kl:k.n]
}

// Fingerprint names a key without revealing it: the first 8 octets of the SHA-256 of
// its material, in hex ("" for the zero Key). Two sides holding the same key see the same
// fingerprint.
func (k Key) Fingerprint() string {
	if k.IsZero() {
		return ""
	}
	sum := sha256.Sum256(k.b[:k.n])
	return hex.EncodeToString(sum[:8])
}

// String shows the suite and fingerprint only.
func (k Key) String() string {
	if k.IsZero() {
		return "srtp.Key(none)"
	}
	return "srtp.Key(" + k.suite.String() + " " + k.Fingerprint() + ")"
}

// GoString is String: %#v must not print the material either.
func (k Key) GoString() string { return k.String() }

// Format makes every verb (%v, %+v, %x, %s...) print String.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// MarshalText writes String, so a Key inside a JSON or YAML value never carries its
// material.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Keys are one leg's keys: what its party encrypts with (Recv: hush decrypts with it)
// and what hush encrypts with toward it (Send). A zero Key is a key not known yet (an
// SDES offer not answered): packets that would need it are dropped, never passed plain.
type Keys struct {
	Recv, Send Key
}

// String shows suites and fingerprints only.
func (k Keys) String() string {
	return "srtp.Keys{recv " + k.Recv.String() + ", send " + k.Send.String() + "}"
}

// GoString is String.
func (k Keys) GoString() string { return k.String() }

// Format makes every verb print String.
func (k Keys) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }
