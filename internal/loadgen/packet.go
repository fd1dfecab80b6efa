package loadgen

import (
	"encoding/binary"
	"fmt"
)

// A load packet is an RTP packet (RFC 3550 section 5.1: version 2, no padding, extension or
// CSRC; PT 0 = PCMU, RFC 3551) with a 160-byte payload: 20 ms of G.711 at 8 kHz. The first
// payloadHeaderLen bytes of the payload carry the measurement fields; the rest is quiet
// mu-law audio so a relay that decodes it sees plausible speech-band silence.
const (
	rtpHeaderLen     = 12
	payloadLen       = 160
	packetLen        = rtpHeaderLen + payloadLen
	payloadHeaderLen = 24
	payloadMagic     = 0x684c4731 // "hLG1"
	ptPCMU           = 0
	samplesPerPacket = 160 // 20 ms at 8 kHz
)

// loadHeader is what a receiver learns from a load packet.
type loadHeader struct {
	tone   bool   // the RTP marker bit: a DTMF burst packet, no payload fields
	stream uint32 // call*2 + direction
	seq    uint32 // extended sequence number, 0 for the first packet
	sendNs int64  // send time, ns since the run's start
	rtpTS  uint32
}

// writePacket fills b (len >= packetLen) with the packet of stream s, sequence seq, sent at
// sendNs. ssrcBase makes streams of different runs distinct. Allocation-free.
func writePacket(b []byte, ssrcBase, s, seq uint32, sendNs int64) {
	_ = b[packetLen-1]
	b[0] = 0x80   // V=2
	b[1] = ptPCMU // marker bit clear
	binary.BigEndian.PutUint16(b[2:], uint16(seq))
	binary.BigEndian.PutUint32(b[4:], rtpTimestamp(ssrcBase, s, seq))
	binary.BigEndian.PutUint32(b[8:], ssrcBase+s)
	p := b[rtpHeaderLen:]
	binary.BigEndian.PutUint32(p[0:], payloadMagic)
	binary.BigEndian.PutUint32(p[4:], s)
	binary.BigEndian.PutUint32(p[8:], seq)
	binary.BigEndian.PutUint64(p[12:], uint64(sendNs))
	binary.BigEndian.PutUint32(p[20:], checkWord(s, seq, uint64(sendNs)))
	copy(p[payloadHeaderLen:], quietPayload[payloadHeaderLen:])
}

// quietPayload is low-level mu-law noise: 0xFF/0x7F are mu-law's two zero codes,
// alternating with the +-1 step codes.
var quietPayload = func() (q [payloadLen]byte) {
	for i := range q {
		q[i] = [4]byte{0xFF, 0xFE, 0x7F, 0x7E}[i&3]
	}
	return q
}()

// fillQuiet writes the quiet audio into a packet buffer.
func fillQuiet(b []byte) {
	copy(b[rtpHeaderLen:packetLen], quietPayload[:])
}

// rtpTimestamp starts each stream at its own offset (RFC 3550 section 5.1: random start).
func rtpTimestamp(ssrcBase, s, seq uint32) uint32 {
	return (ssrcBase*2654435761 + s*40503) + seq*samplesPerPacket
}

func checkWord(s, seq uint32, ns uint64) uint32 {
	x := uint64(s)<<32 | uint64(seq)
	x ^= ns * 0x9E3779B97F4A7C15
	x ^= x >> 29
	return uint32(x) ^ uint32(x>>32) ^ payloadMagic
}

// parsePacket reads a datagram. Only the stream comes from the RTP header (SSRC); the
// payload fields are used when the check word holds. ok=false from a packet whose header
// identifies the stream but whose payload was rewritten (masked audio): it counts, without
// a latency.
func parsePacket(b []byte, ssrcBase uint32, streams uint32) (h loadHeader, payloadOK bool, err error) {
	if len(b) < rtpHeaderLen || b[0]>>6 != 2 {
		return h, false, fmt.Errorf("%w: not RTP", ErrPacket)
	}
	if b[1]&0x7f >= 72 && b[1]&0x7f <= 79 { // RFC 5761 section 4: RTCP packet types
		return h, false, fmt.Errorf("%w: RTCP", ErrPacket)
	}
	s := binary.BigEndian.Uint32(b[8:]) - ssrcBase
	if s >= streams {
		return h, false, fmt.Errorf("%w: unknown SSRC", ErrPacket)
	}
	h.stream = s
	h.rtpTS = binary.BigEndian.Uint32(b[4:])
	h.seq = uint32(binary.BigEndian.Uint16(b[2:])) // low 16 bits until the payload says more
	if b[1]&markerBit != 0 {
		h.tone = true
		return h, false, nil
	}
	if len(b) != packetLen {
		return h, false, nil
	}
	p := b[rtpHeaderLen:]
	if binary.BigEndian.Uint32(p[0:]) != payloadMagic || binary.BigEndian.Uint32(p[4:]) != s {
		return h, false, nil
	}
	seq := binary.BigEndian.Uint32(p[8:])
	ns := binary.BigEndian.Uint64(p[12:])
	if binary.BigEndian.Uint32(p[20:]) != checkWord(s, seq, ns) || uint16(seq) != uint16(h.seq) {
		return h, false, nil
	}
	h.seq = seq
	h.sendNs = int64(ns)
	return h, true, nil
}
