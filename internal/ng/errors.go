package ng

import "errors"

// Errors of the codec. The server's errors of a request are in reasons.go: each is a
// reply's error-reason and a counter label.
var (
	// ErrBencode: a dictionary is not valid bencode (BEP 3), or is nested or sized beyond
	// the bounds this package accepts.
	ErrBencode = errors.New("malformed bencode")
	// ErrMessage: a datagram is not "cookie SPACE dictionary".
	ErrMessage = errors.New("malformed ng message")
)
