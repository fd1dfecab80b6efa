package sdp

import "errors"

// Errors. Each wraps into a clear reason for the caller; none echoes more of the body than
// the parser's own short description of the line it stopped at.
var (
	// ErrParse: the body is not SDP (RFC 8866), or is larger than this package accepts.
	ErrParse = errors.New("SDP does not parse")
	// ErrAddress: a connection address is not an IP literal (host names are refused so
	// that signalling never waits on DNS), or a payload type or port is out of range.
	ErrAddress = errors.New("SDP connection address is not an IP literal")
)
