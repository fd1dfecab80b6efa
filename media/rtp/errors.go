package rtp

import "errors"

// Parse errors are returned as the bare sentinels, not wrapped with context:
// they are produced per packet on the hot path at a rate an attacker
// controls, and fmt.Errorf would allocate for each one. Callers wrap them
// (with %w) where context helps and an allocation does not matter.
var (
	// ErrShortPacket: fewer than the 12 octets of the RTP fixed header.
	ErrShortPacket = errors.New("rtp: packet shorter than the fixed header")
	// ErrVersion: the version field is not 2 (RFC 3550 section 5.1).
	ErrVersion = errors.New("rtp: version is not 2")
	// ErrCSRCOverflow: the CSRC list runs past the end of the packet.
	ErrCSRCOverflow = errors.New("rtp: CSRC list exceeds packet")
	// ErrExtensionOverflow: the header extension runs past the end of the packet.
	ErrExtensionOverflow = errors.New("rtp: header extension exceeds packet")
	// ErrPadding: the padding count is zero or larger than the packet minus its header.
	ErrPadding = errors.New("rtp: invalid padding length")

	// ErrPayloadType: a payload type above 127 cannot be marshalled.
	ErrPayloadType = errors.New("rtp: payload type exceeds 7 bits")
	// ErrCSRCCount: more than 15 CSRCs cannot be marshalled.
	ErrCSRCCount = errors.New("rtp: CSRC count exceeds 15")

	// ErrRTCPShort: fewer than 4 octets where an RTCP header is expected.
	ErrRTCPShort = errors.New("rtcp: packet shorter than its header")
	// ErrRTCPVersion: a packet of the compound is not version 2.
	ErrRTCPVersion = errors.New("rtcp: version is not 2")
	// ErrRTCPType: a packet type outside the RTCP range 192-223 (RFC 5761 section 4).
	ErrRTCPType = errors.New("rtcp: packet type outside 192-223")
	// ErrRTCPLength: a length field runs past the end of the compound.
	ErrRTCPLength = errors.New("rtcp: length field exceeds packet")
	// ErrRTCPPadding: padding on a packet that is not the last of the compound,
	// or a padding count of zero or longer than the packet.
	ErrRTCPPadding = errors.New("rtcp: invalid padding")
)
