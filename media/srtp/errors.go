package srtp

import "errors"

// Errors of the control path (keys and a=crypto). The packet path reports a Verdict.
var (
	// ErrCrypto: an a=crypto value is not "tag suite key-params [session-params]"
	// (RFC 4568 section 9.1), or its key is not base64 of the suite's length.
	ErrCrypto = errors.New("srtp: malformed a=crypto attribute")
	// ErrSuite: a crypto suite hush does not support (unknown, or a NULL cipher).
	ErrSuite = errors.New("srtp: unsupported crypto suite")
	// ErrKeyLength: key material is not the suite's master key plus master salt length.
	ErrKeyLength = errors.New("srtp: key material of the wrong length")
	// ErrParam: an a=crypto line asks for something hush does not do: several keys, an
	// MKI, a key derivation rate, unencrypted or unauthenticated SRTP, FEC parameters.
	ErrParam = errors.New("srtp: unsupported a=crypto parameter")
	// ErrNoKey: a zero Key where a key is needed.
	ErrNoKey = errors.New("srtp: no key")
)
