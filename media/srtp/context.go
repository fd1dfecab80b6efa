package srtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	prtcp "github.com/pion/rtcp"
	prtp "github.com/pion/rtp"
	psrtp "github.com/pion/srtp/v3"
)

// Verdict is what became of a packet on the packet path.
type Verdict uint8

// Verdicts. OK: the packet was unprotected (or protected) in place.
const (
	OK Verdict = iota
	// Unauthenticated: the packet does not authenticate with the key (a wrong key, a
	// forged or altered packet, a truncated tag, too short to hold one).
	Unauthenticated
	// Replayed: the packet's index was accepted before, or is too old to tell
	// (RFC 3711 section 3.3.2); on send, the index was already protected once.
	Replayed
	// Refused: Outbound cannot protect it (more streams than it tracks, or the
	// packet limit of the key, 2^48 RTP or 2^31 RTCP packets, was reached).
	Refused
)

var verdictNames = [...]string{"ok", "unauthenticated", "replayed", "refused"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown"
}

const (
	rtpHeader  = 12
	rtcpHeader = 8
	indexSize  = 4 // SRTCP's E flag and 31-bit index
)

func context(k Key, opt psrtp.ContextOption) (*psrtp.Context, error) {
	if k.IsZero() {
		return nil, ErrNoKey
	}
	key, salt := k.master()
	c, err := psrtp.CreateContext(key, salt, suites[k.suite].profile, opt)
	if err != nil {
		// pion's errors name lengths and profiles, never key octets.
		return nil, fmt.Errorf("srtp: %v context: %w", k.suite, err)
	}
	return c, nil
}

// Inbound unprotects what one party sends: SRTP and SRTCP. Its RTP and RTCP halves have
// separate state; each must be used by one goroutine at a time.
type Inbound struct {
	suite   Suite
	rtp     *psrtp.Context
	rtcp    *psrtp.Context
	rtpHdr  prtp.Header
	rtcpHdr prtcp.Header
	// The replay windows of the last stream that authenticated, checked before pion is
	// asked, so a replay costs neither the cryptography nor pion's error value. pion
	// keeps its own window per SSRC behind them.
	rtpStream, rtcpStream stream
}

// NewInbound makes the receive side of a key.
func NewInbound(k Key) (*Inbound, error) {
	rtp, err := context(k, psrtp.SRTPReplayProtection(windowSize))
	if err != nil {
		return nil, err
	}
	rtcp, err := context(k, psrtp.SRTCPReplayProtection(windowSize))
	if err != nil {
		return nil, err
	}
	return &Inbound{suite: k.suite, rtp: rtp, rtcp: rtcp}, nil
}

// UnprotectRTP authenticates and decrypts an SRTP packet in place and returns the RTP
// packet (a prefix of buf), or why it was refused.
func (in *Inbound) UnprotectRTP(buf []byte) ([]byte, Verdict) {
	if len(buf) < rtpHeader+in.suite.RTPTrailer() || buf[0]>>6 != 2 {
		return nil, Unauthenticated
	}
	ssrc, seq := binary.BigEndian.Uint32(buf[8:]), binary.BigEndian.Uint16(buf[2:])
	s := &in.rtpStream
	idx, known := s.index(seq)
	if known && s.ssrc == ssrc && !s.w.fresh(idx) {
		return nil, Replayed
	}
	out, err := in.rtp.DecryptRTP(buf, buf, &in.rtpHdr)
	if err != nil {
		return nil, verdict(err)
	}
	if s.ssrc != ssrc || !s.w.set {
		*s = stream{ssrc: ssrc}
		idx = uint64(seq)
	}
	if known || !s.w.set {
		s.w.accept(idx)
	}
	return out, OK
}

// UnprotectRTCP authenticates and decrypts an SRTCP packet in place and returns the
// RTCP compound (a prefix of buf), or why it was refused.
func (in *Inbound) UnprotectRTCP(buf []byte) ([]byte, Verdict) {
	tr := in.suite.RTCPTrailer()
	if len(buf) < rtcpHeader+tr || buf[0]>>6 != 2 {
		return nil, Unauthenticated
	}
	at := len(buf) - indexSize // AEAD: the index ends the packet (RFC 7714 section 17)
	if !in.suite.aead() {
		at = len(buf) - tr // AES-CM: the index precedes the tag (RFC 3711 section 3.4)
	}
	ssrc := binary.BigEndian.Uint32(buf[4:])
	idx := uint64(binary.BigEndian.Uint32(buf[at:]) &^ (1 << 31))
	s := &in.rtcpStream
	if s.ssrc == ssrc && !s.w.fresh(idx) {
		return nil, Replayed
	}
	out, err := in.rtcp.DecryptRTCP(buf, buf, &in.rtcpHdr)
	if err != nil {
		return nil, verdict(err)
	}
	if s.ssrc != ssrc {
		*s = stream{ssrc: ssrc}
	}
	s.w.accept(idx)
	return out, OK
}

// verdict classifies a pion error. Its replay error is not exported: it is told by the
// sentinel a replayed packet makes (found once, when first needed).
func verdict(err error) Verdict {
	if errors.Is(err, dupSentinel()) {
		return Replayed
	}
	return Unauthenticated
}

var dupSentinel = sync.OnceValue(func() error {
	k, err := GenerateKey(AES128CMSHA1_80)
	if err != nil {
		return errors.New("srtp: no sentinel")
	}
	out, _ := NewOutbound(k)
	in, _ := NewInbound(k)
	pkt := []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff}
	enc, _ := out.rtp.EncryptRTP(nil, pkt, nil)
	_, _ = in.rtp.DecryptRTP(nil, enc, nil)
	_, err = in.rtp.DecryptRTP(nil, enc, nil)
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return errors.New("srtp: no sentinel")
})

// maxStreams bounds the SSRCs an Outbound tracks: beyond them a new SSRC is refused, so a
// source that keeps changing its SSRC cannot push a stream out of the table and have an
// index protected twice.
const maxStreams = 16

// Outbound protects what hush sends one party: SRTP and SRTCP. Its RTP and RTCP halves
// have separate state; each must be used by one goroutine at a time.
type Outbound struct {
	suite   Suite
	rtp     *psrtp.Context
	rtcp    *psrtp.Context
	rtpHdr  prtp.Header
	rtcpHdr prtcp.Header
	streams [maxStreams]stream
	n       int
}

// NewOutbound makes the send side of a key.
func NewOutbound(k Key) (*Outbound, error) {
	rtp, err := context(k, psrtp.SRTPNoReplayProtection())
	if err != nil {
		return nil, err
	}
	rtcp, err := context(k, psrtp.SRTCPNoReplayProtection())
	if err != nil {
		return nil, err
	}
	return &Outbound{suite: k.suite, rtp: rtp, rtcp: rtcp}, nil
}

// ProtectRTP encrypts and authenticates an RTP packet into dst, which needs room for
// len(pkt)+MaxTrailer octets (else it is allocated), and returns the SRTP packet. A
// packet whose index was protected before is refused (Replayed): the far end would drop
// it as a replay, and protecting another payload under the same index would reuse a
// nonce.
func (o *Outbound) ProtectRTP(dst, pkt []byte) ([]byte, Verdict) {
	if len(pkt) < rtpHeader {
		return nil, Refused
	}
	ssrc, seq := binary.BigEndian.Uint32(pkt[8:]), binary.BigEndian.Uint16(pkt[2:])
	var s *stream
	for i := range o.n {
		if o.streams[i].ssrc == ssrc {
			s = &o.streams[i]
			break
		}
	}
	if s == nil {
		if o.n == maxStreams {
			return nil, Refused
		}
		s = &o.streams[o.n]
		*s = stream{ssrc: ssrc}
		o.n++
	}
	idx, ok := s.index(seq)
	if !ok || !s.w.fresh(idx) {
		return nil, Replayed
	}
	out, err := o.rtp.EncryptRTP(dst, pkt, &o.rtpHdr)
	if err != nil {
		return nil, Refused
	}
	s.w.accept(idx)
	return out, OK
}

// ProtectRTCP encrypts and authenticates an RTCP compound into dst (room as for
// ProtectRTP) and returns the SRTCP packet.
func (o *Outbound) ProtectRTCP(dst, pkt []byte) ([]byte, Verdict) {
	out, err := o.rtcp.EncryptRTCP(dst, pkt, &o.rtcpHdr)
	if err != nil {
		return nil, Refused
	}
	return out, OK
}

// Trailer is how many octets ProtectRTP adds.
func (o *Outbound) Trailer() int { return o.suite.RTPTrailer() }
