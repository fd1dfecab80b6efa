package dtmf

import "errors"

// Sentinel errors; test with errors.Is. Packet parsers return them bare (wrapping would
// allocate per bad packet); other functions wrap them with context.
var (
	// ErrShortPayload: a telephone-event payload shorter than 4 bytes
	// (RFC 4733 §2.3).
	ErrShortPayload = errors.New("dtmf: telephone-event payload too short")
	// ErrVolumeRange: a volume above 63 cannot be encoded in 6 bits
	// (RFC 4733 §2.3.4).
	ErrVolumeRange = errors.New("dtmf: telephone-event volume out of range")
	// ErrNotDigit: a byte that is not a DTMF digit ('0'-'9', '*', '#',
	// 'A'-'D').
	ErrNotDigit = errors.New("dtmf: not a DTMF digit")
)
