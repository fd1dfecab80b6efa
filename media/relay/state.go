package relay

import (
	"net/netip"

	"github.com/hushmedia/hush/media/mask"
)

// legState is the control state of one leg as the packet loop sees it. It is
// immutable: the control plane (SetRemote) and latching publish a new value
// through leg.state, and each packet loads the pointer once.
type legState struct {
	mux bool
	// rtp is the RTP remote: configured, or latched once; zero until known.
	rtp        netip.AddrPort
	rtpLatched bool
	// rtcp is where RTCP goes: configured, latched, or derived from rtp.
	// While rtcpFixed is false it is only a guess (or zero) and the first
	// valid RTCP packet latches it.
	rtcp        netip.AddrPort
	rtcpFixed   bool
	rtcpLatched bool
	// codecs maps the payload types the leg's remote sends (for masking
	// the direction that starts at this leg).
	codecs mask.CodecMap
	// ssrc is the locked SSRC once ssrcKnown (CallConfig.LockSSRC).
	ssrc      uint32
	ssrcKnown bool
	// expect is the IP the RTP remote may latch from (LegConfig.ExpectedIP);
	// zero: any, after probation.
	expect netip.Addr
	// srtp is the leg's SRTP state; nil: plain RTP.
	srtp *legCrypto
}

// withSSRC returns a copy of s that has learned ssrc.
func (s *legState) withSSRC(ssrc uint32) *legState {
	n := *s
	n.ssrc, n.ssrcKnown = ssrc, true
	return &n
}

func newLegState(cfg LegConfig) *legState {
	s := &legState{mux: cfg.RTCPMux, rtp: cfg.Remote, codecs: cfg.Codecs, expect: cfg.ExpectedIP}
	if s.codecs.IsZero() {
		s.codecs = mask.DefaultCodecs()
	}
	if pt := cfg.TelephoneEventPT & 0x7f; pt != 0 {
		s.codecs[pt] = mask.CodecTelephoneEvent
	}
	switch {
	case cfg.RemoteRTCP.IsValid():
		s.rtcp, s.rtcpFixed = cfg.RemoteRTCP, true
	case cfg.Remote.IsValid():
		s.rtcp, s.rtcpFixed = deriveRTCP(cfg.Remote, cfg.RTCPMux), true
	}
	if cfg.Latched && cfg.Remote.IsValid() {
		s.rtpLatched = true
		s.rtcpLatched = cfg.RemoteRTCP.IsValid()
	}
	return s
}

// deriveRTCP: with rtcp-mux RTCP shares the RTP address (RFC 5761 section
// 5.1.3); without, it is the next port up (RFC 3550 section 11).
func deriveRTCP(rtp netip.AddrPort, mux bool) netip.AddrPort {
	if mux || rtp.Port() == 65535 {
		return rtp
	}
	return netip.AddrPortFrom(rtp.Addr(), rtp.Port()+1)
}

// latched returns a copy of s with the RTP or RTCP remote learned from src.
func (s *legState) latched(rtcp bool, src netip.AddrPort) *legState {
	n := *s
	if rtcp {
		n.rtcp, n.rtcpFixed, n.rtcpLatched = src, true, true
		return &n
	}
	n.rtp, n.rtpLatched = src, true
	if !n.rtcpFixed {
		n.rtcp = deriveRTCP(src, n.mux)
	}
	return &n
}

// latchCandidate is the source a leg without a remote or an expected IP is
// watching before it latches (LatchProbation). It belongs to the goroutine
// of the leg's RTP socket.
type latchCandidate struct {
	st   *legState // the state it was seen under: another one starts over
	src  netip.AddrPort
	ssrc uint32
	seq  uint16
	n    uint8
}

// next folds an RTP packet from src into the probation and returns how many
// consistent packets the candidate has sent, and the source this packet
// displaced (zero: none; a source restarting its own probation displaces
// nothing).
func (c *latchCandidate) next(st *legState, src netip.AddrPort, ssrc uint32, seq uint16) (int, netip.AddrPort) {
	if c.st == st && c.src == src && c.ssrc == ssrc {
		switch step := seq - c.seq; {
		case step == 0: // a duplicate: no progress, no restart
			return int(c.n), netip.AddrPort{}
		case step <= maxProbationStep:
			c.seq = seq
			c.n++
			return int(c.n), netip.AddrPort{}
		}
	}
	var displaced netip.AddrPort
	if c.st == st && c.n > 0 && c.src != src {
		displaced = c.src
	}
	*c = latchCandidate{st: st, src: src, ssrc: ssrc, seq: seq, n: 1}
	return 1, displaced
}
