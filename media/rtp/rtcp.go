package rtp

import "encoding/binary"

// RTCP packet types occupy 192-223 in the second octet (RFC 5761 section 4);
// the types RFC 3550 defines are 200-204.
const (
	rtcpTypeMin = 192
	rtcpTypeMax = 223
	// RTCPHeaderSize is the common header of every RTCP packet.
	RTCPHeaderSize = 4
)

// IsRTCP reports whether a datagram on an rtcp-mux socket is RTCP rather than
// RTP. RFC 5761 section 4: RTCP if the second octet is 192-223, which as RTP
// would be payload types 64-95 with the marker bit set, a range RTP sessions
// with rtcp-mux must not use. It only demultiplexes; validate afterwards.
func IsRTCP(buf []byte) bool {
	return len(buf) >= 2 && buf[1] >= rtcpTypeMin && buf[1] <= rtcpTypeMax
}

// ValidateRTCP checks a compound RTCP packet (RFC 3550 section 6.4.1 and
// appendix A.2): each packet has version 2 and a type in 192-223, the length
// fields tile the buffer exactly, and only the last packet carries padding,
// whose count is non-zero and fits that packet. It does not insist that the
// first packet is SR or RR, so reduced-size RTCP (RFC 5506) passes.
func ValidateRTCP(buf []byte) error {
	if len(buf) < RTCPHeaderSize {
		return ErrRTCPShort
	}
	for off := 0; off < len(buf); {
		if len(buf)-off < RTCPHeaderSize {
			return ErrRTCPShort
		}
		b0 := buf[off]
		if b0>>6 != Version {
			return ErrRTCPVersion
		}
		if t := buf[off+1]; t < rtcpTypeMin || t > rtcpTypeMax {
			return ErrRTCPType
		}
		// The length field counts 32-bit words minus one, header included.
		size := 4 * (int(binary.BigEndian.Uint16(buf[off+2:])) + 1)
		if size > len(buf)-off {
			return ErrRTCPLength
		}
		end := off + size
		if b0&0x20 != 0 {
			if end != len(buf) {
				return ErrRTCPPadding
			}
			if p := int(buf[end-1]); p == 0 || p > size-RTCPHeaderSize {
				return ErrRTCPPadding
			}
		}
		off = end
	}
	return nil
}
