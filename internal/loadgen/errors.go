package loadgen

import "errors"

var (
	// ErrNG: an ng control exchange failed (no reply, error result, unusable SDP).
	ErrNG = errors.New("loadgen: ng protocol")
	// ErrSDP: an SDP body lacks the connection address or media port we need.
	ErrSDP = errors.New("loadgen: sdp")
	// ErrPacket: a received datagram is not a load-generator packet.
	ErrPacket = errors.New("loadgen: not a load packet")
	// ErrProc: a /proc file could not be read or parsed.
	ErrProc = errors.New("loadgen: /proc")
	// ErrTarget: the relay under test could not be started or set up.
	ErrTarget = errors.New("loadgen: target")
	// ErrConfig: a run configuration is invalid.
	ErrConfig = errors.New("loadgen: config")
)
