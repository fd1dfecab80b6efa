package mask

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrMode: a masking mode name this package does not know.
	ErrMode = errors.New("mask: unknown masking mode")
	// ErrLookAhead: a look-ahead outside [MinLookAhead, MaxLookAhead].
	ErrLookAhead = errors.New("mask: look-ahead out of range")
	// ErrToneFrequency: a masking tone outside the voice band or near a DTMF
	// frequency.
	ErrToneFrequency = errors.New("mask: masking tone frequency not allowed")
	// ErrCodec: a codec name this package does not know, or a payload type
	// above 127.
	ErrCodec = errors.New("mask: unknown codec or payload type")
)
