package relay

import "errors"

var (
	// ErrPortsExhausted: every port pair of the allocator's range is in use,
	// by hush or by another process.
	ErrPortsExhausted = errors.New("relay: port range exhausted")
	// ErrInvalidRange: the allocator's IP or port range is unusable.
	ErrInvalidRange = errors.New("relay: invalid port range")
	// ErrInvalidRemote: a remote address has port 0 or another address
	// family than the local sockets.
	ErrInvalidRemote = errors.New("relay: invalid remote address")
	// ErrInvalidLeg: a Leg or Direction value out of range.
	ErrInvalidLeg = errors.New("relay: invalid leg")
	// ErrNoRTCPPort: a leg allocated with rtcp-mux has no RTCP port, so it
	// cannot switch to separate RTCP without new ports.
	ErrNoRTCPPort = errors.New("relay: leg has no RTCP port (allocated with rtcp-mux)")
	// ErrPortUnavailable: AllocateAt's port is outside the range, odd, or
	// held (by this allocator or another process). A takeover retries it.
	ErrPortUnavailable = errors.New("relay: port not available")
	// ErrClosed: the call or sockets are closed.
	ErrClosed = errors.New("relay: closed")

	// Errors of the egress stage (egress.go, tone.go).

	// ErrInvalidFlow: a Flow value out of range.
	ErrInvalidFlow = errors.New("relay: invalid flow")
	// ErrInvalidTone: a Tone with an event, duration, pause or volume out of range.
	ErrInvalidTone = errors.New("relay: invalid DTMF tone")
	// ErrMasked: a key cannot be played into a masked direction: it would reach the
	// listener as the very thing masking keeps from it.
	ErrMasked = errors.New("relay: the direction is masked")
	// ErrBlocked: a key cannot be played into a blocked or silenced direction.
	ErrBlocked = errors.New("relay: the direction is blocked or silenced")
	// ErrNoMedia: no RTP has come from the party yet; a played key rides on its packets.
	ErrNoMedia = errors.New("relay: no media from the party yet")
	// ErrToneQueueFull: the direction already has MaxQueuedTones keys waiting.
	ErrToneQueueFull = errors.New("relay: too many keys queued")
	// ErrSRTPKey: a leg's SRTP key cannot be used (srtp's errors say why, never the key).
	ErrSRTPKey = errors.New("relay: SRTP key")
)
