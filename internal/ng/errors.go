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

// Errors of requests. Each is answered with "result": "error" and an "error-reason" that
// starts with the error's text, and counted under the reason reasonOf gives it.
var (
	// ErrNoCommand: the dictionary has no "command" string.
	ErrNoCommand = errors.New("no command")
	// ErrUnknownCommand: a command rtpengine's protocol does not define.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrUnsupported: a command or option hush does not implement and cannot ignore,
	// because ignoring it would leave the call otherwise than the caller asked.
	ErrUnsupported = errors.New("not supported by hush")
	// ErrUnsafe: an option that would let media bypass hush or replace a digit with a
	// digit; hush refuses it.
	ErrUnsafe = errors.New("refused as unsafe")
	// ErrField: a key's value has the wrong type or an unknown value.
	ErrField = errors.New("bad value")
)
