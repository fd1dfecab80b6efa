package rtp

import (
	"encoding/binary"
	"io"
)

// Sizes from RFC 3550 section 5.1.
const (
	// FixedHeaderSize is the size of the RTP fixed header, without CSRCs.
	FixedHeaderSize = 12
	// MaxCSRC is the most CSRC identifiers the 4-bit CC field can announce.
	MaxCSRC = 15
	// Version is the only RTP version in use.
	Version = 2
)

// Header is a decoded RTP header. Decode into a Header the caller owns and
// reuses; Unmarshal writes every field and keeps no reference to the buffer.
type Header struct {
	Version        uint8
	Padding        bool
	Extension      bool
	Marker         bool
	PayloadType    uint8
	SequenceNumber uint16
	Timestamp      uint32
	SSRC           uint32
	// CSRCCount is the CC field; CSRC[:CSRCCount] are valid.
	CSRCCount uint8
	CSRC      [MaxCSRC]uint32
	// ExtensionProfile and ExtensionLength are the "defined by profile" and
	// "length" fields of the header extension (RFC 3550 section 5.3.1);
	// ExtensionLength counts 32-bit words after the 4-octet extension header.
	// Both are zero when Extension is false.
	ExtensionProfile uint16
	ExtensionLength  uint16
	// HeaderLength is the octet count of fixed header, CSRC list and
	// extension: the payload starts here.
	HeaderLength int
	// PaddingLength is the octet count of padding at the end of the packet,
	// including the count octet itself; zero when Padding is false.
	PaddingLength int
}

// Unmarshal decodes and validates the RTP header at the start of buf, which
// must hold the whole packet (the padding count is its last octet). It
// returns the header length. Errors are the sentinels of errors.go.
func (h *Header) Unmarshal(buf []byte) (int, error) {
	// RFC 3550 section 5.1: 12 fixed octets, V=2.
	if len(buf) < FixedHeaderSize {
		return 0, ErrShortPacket
	}
	b0, b1 := buf[0], buf[1]
	if b0>>6 != Version {
		return 0, ErrVersion
	}
	cc := b0 & 0x0f
	n := FixedHeaderSize + 4*int(cc)
	if len(buf) < n {
		return 0, ErrCSRCOverflow
	}
	h.Version = Version
	h.Padding = b0&0x20 != 0
	h.Extension = b0&0x10 != 0
	h.Marker = b1&0x80 != 0
	h.PayloadType = b1 & 0x7f
	h.SequenceNumber = binary.BigEndian.Uint16(buf[2:4])
	h.Timestamp = binary.BigEndian.Uint32(buf[4:8])
	h.SSRC = binary.BigEndian.Uint32(buf[8:12])
	h.CSRCCount = cc
	for i := range int(cc) {
		h.CSRC[i] = binary.BigEndian.Uint32(buf[FixedHeaderSize+4*i:])
	}
	h.ExtensionProfile, h.ExtensionLength = 0, 0
	if h.Extension {
		// RFC 3550 section 5.3.1: 16-bit profile, 16-bit length in words.
		if len(buf) < n+4 {
			return 0, ErrExtensionOverflow
		}
		h.ExtensionProfile = binary.BigEndian.Uint16(buf[n:])
		h.ExtensionLength = binary.BigEndian.Uint16(buf[n+2:])
		n += 4 + 4*int(h.ExtensionLength)
		if len(buf) < n {
			return 0, ErrExtensionOverflow
		}
	}
	h.HeaderLength = n
	h.PaddingLength = 0
	if h.Padding {
		// RFC 3550 section 5.1: the last octet counts the padding octets,
		// itself included, so it is at least 1; appendix A.1: it must fit
		// in the packet after the header.
		p := int(buf[len(buf)-1])
		if p == 0 || p > len(buf)-n {
			return 0, ErrPadding
		}
		h.PaddingLength = p
	}
	return n, nil
}

// Payload returns the payload of buf, the packet h was decoded from: the
// octets between header and padding, as a subslice of buf.
func (h *Header) Payload(buf []byte) []byte {
	return buf[h.HeaderLength : len(buf)-h.PaddingLength]
}

// MarshalSize is the octet count MarshalTo writes: the fixed header and the
// CSRC list.
func (h *Header) MarshalSize() int {
	return FixedHeaderSize + 4*int(h.CSRCCount)
}

// MarshalTo writes the fixed header and CSRC list into buf and returns the
// octet count written. The version is always 2. The P and X bits are written
// as set in h; the caller appends the extension (if X), payload and padding
// (if P). It returns io.ErrShortBuffer when buf is too small.
func (h *Header) MarshalTo(buf []byte) (int, error) {
	if h.CSRCCount > MaxCSRC {
		return 0, ErrCSRCCount
	}
	if h.PayloadType > 0x7f {
		return 0, ErrPayloadType
	}
	n := h.MarshalSize()
	if len(buf) < n {
		return 0, io.ErrShortBuffer
	}
	b0 := byte(Version<<6) | h.CSRCCount
	if h.Padding {
		b0 |= 0x20
	}
	if h.Extension {
		b0 |= 0x10
	}
	b1 := h.PayloadType
	if h.Marker {
		b1 |= 0x80
	}
	buf[0], buf[1] = b0, b1
	binary.BigEndian.PutUint16(buf[2:4], h.SequenceNumber)
	binary.BigEndian.PutUint32(buf[4:8], h.Timestamp)
	binary.BigEndian.PutUint32(buf[8:12], h.SSRC)
	for i := range int(h.CSRCCount) {
		binary.BigEndian.PutUint32(buf[FixedHeaderSize+4*i:], h.CSRC[i])
	}
	return n, nil
}
