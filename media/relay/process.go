package relay

import (
	"net/netip"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/udpio"
)

// Packet is one datagram moving through a direction's path (see the package
// doc). The engine owns it (one per receiving goroutine) and reuses it, so
// no step keeps a reference to it or its buffer after it returns.
type Packet struct {
	// Buf is the datagram. A step may rewrite it in place or shorten it;
	// what Buf holds when the last step returns is sent.
	Buf []byte
	// Src is the address it came from (IPv4-mapped addresses unmapped).
	Src netip.AddrPort
	// RTCP is set for RTCP; otherwise Header is Buf's decoded RTP header.
	RTCP   bool
	Header rtp.Header
	// codecs is the receiving leg's payload type map from the state this packet was
	// checked against (immutable), so the delay line need not load the state again.
	codecs *mask.CodecMap
	// age is how long before at the kernel received it (the socket's receive
	// timestamp), 0 when unknown: the delay line holds a masked packet for the
	// look-ahead from its arrival, not from when a batch got to it, and a
	// packet older than the call's queueing bound is not sent (DropStale).
	age time.Duration
	// at is when the engine read the packet's batch (zero: unknown, read the
	// clock), so the delay line need not read the clock once per packet.
	at time.Time
	// seal is the destination leg's SRTP state when it is an SRTP leg (set by
	// process): the packet is encrypted with it as it leaves.
	seal *legCrypto
}

// maxTimedAge caps the age the masker's timeline takes from a receive
// timestamp. The stamp is wall-clock time, which can step: an age over this
// is believed only to drop a packet as stale (losing audio is safe), never
// to move a due time earlier than this.
const maxTimedAge = 100 * time.Millisecond

// timedAge is p.age as the masker's timeline and the egress flow marks use it.
func (p *Packet) timedAge() time.Duration { return min(p.age, maxTimedAge) }

// maxRecordAge caps the age the recording places audio by. A stall of
// hush's own up to this long loses no recorded audio; a wall-clock step
// can misplace a frame by no more than this, which the recording's drift
// correction undoes (a stepped age only ever reaches the few packets read
// across the step).
const maxRecordAge = time.Second

// backlog is how much longer than timedAge the packet waited unread, as the
// recording believes it (see mask.Masker.Backlog).
func (p *Packet) backlog() time.Duration { return min(p.age, maxRecordAge) - p.timedAge() }

// sockKind tells the processor what a socket carries.
type sockKind uint8

const (
	kindRTP  sockKind = iota // RTP, or RTP and RTCP when the leg uses rtcp-mux
	kindRTCP                 // RTCP only
)

// process runs one received packet through the direction that starts at leg
// in: classify and validate (decrypting SRTP), check or latch the source,
// and pick the destination; the caller (pipeline.go) then hands a masked
// direction's RTP to its delay line or sends. It returns the socket to send from and the address to
// send to, or the reason to drop. It does no I/O, takes no lock and does not
// allocate (latching, once per leg, aside).
func (c *Call) process(in Leg, kind sockKind, p *Packet) (udpio.Socket, netip.AddrPort, DropReason) {
	l := &c.legs[in]
	st := l.state.Load()
	p.codecs = &st.codecs

	p.RTCP = kind == kindRTCP || (st.mux && rtp.IsRTCP(p.Buf))
	if lc := st.srtp; lc != nil {
		if r := c.unprotect(l, st, lc, p); r != DropNone {
			return udpio.Socket{}, netip.AddrPort{}, r
		}
	} else if p.RTCP {
		if rtp.ValidateRTCP(p.Buf) != nil {
			return udpio.Socket{}, netip.AddrPort{}, DropMalformed
		}
	} else if _, err := p.Header.Unmarshal(p.Buf); err != nil {
		return udpio.Socket{}, netip.AddrPort{}, DropMalformed
	}

	if r := c.admit(l, st, p); r != DropNone {
		return udpio.Socket{}, netip.AddrPort{}, r
	}
	if c.lockSSRC && !p.RTCP {
		if r := c.checkSSRC(l, p.Header.SSRC); r != DropNone {
			return udpio.Socket{}, netip.AddrPort{}, r
		}
	}
	l.admitted[kind].Add(1) // for LastActivity: a counter, no clock read per packet

	out, dst, seal := c.routeTo(in, p.RTCP)
	if !dst.IsValid() {
		return udpio.Socket{}, netip.AddrPort{}, DropNoRemote
	}
	p.seal = seal
	return out, dst, DropNone
}

// routeTo picks the socket and address for a packet received on leg in, and the out
// leg's SRTP state (nil: plain), from one load. Symmetric RTP (RFC 4961): send from the
// out leg's own socket, the address its remote sends to. dst is invalid while that
// remote is not known.
func (c *Call) routeTo(in Leg, rtcp bool) (udpio.Socket, netip.AddrPort, *legCrypto) {
	o := &c.legs[in.Other()]
	ost := o.state.Load()
	out, dst := o.socks.rtp, ost.rtp
	if rtcp {
		dst = ost.rtcp
		if !ost.mux && !o.socks.mux {
			out = o.socks.rtcp
		}
	}
	return out, dst, ost.srtp
}

// admit checks a valid packet's source against the leg's remote, latching
// the remote if it is not known yet and the packet may latch it. st is the
// state the packet was classified with; it is reloaded only when latching
// loses a race.
//
// Latching rules: RTP latches from the expected IP at once, or without one
// after LatchProbation consistent packets of one source; RTCP latches only
// once the RTP remote is known, from its IP. A known remote never moves
// (SetRemote moves it). Packets refused as the remote are counted by
// LatchReject; with StrictSource they are dropped.
func (c *Call) admit(l *leg, st *legState, p *Packet) DropReason {
	src := p.Src
	// Bounded: a lost compare-and-swap means SetRemote or another socket's
	// goroutine published a new state; retry against it a few times.
	for range 4 {
		if p.RTCP {
			switch {
			case st.rtcpFixed:
				if src == st.rtcp {
					return DropNone
				}
				return c.refuse(l, LatchRejectOtherSource, src)
			case !st.rtp.IsValid():
				return c.latching()
			case src.Addr() != st.rtp.Addr():
				return c.refuse(l, LatchRejectOtherSource, src)
			}
		} else {
			switch {
			case st.rtp.IsValid():
				if src == st.rtp {
					return DropNone
				}
				return c.refuse(l, LatchRejectOtherSource, src)
			case st.expect.IsValid():
				if src.Addr() != st.expect {
					return c.refuse(l, LatchRejectUnexpectedIP, src)
				}
			default:
				n, displaced := l.cand.next(st, src, p.Header.SSRC, p.Header.SequenceNumber)
				if displaced.IsValid() {
					c.refuse(l, LatchRejectCompeting, displaced)
				}
				if n < LatchProbation {
					return c.latching()
				}
			}
		}
		if l.state.CompareAndSwap(st, st.latched(p.RTCP, src)) {
			if !p.RTCP {
				l.cand = latchCandidate{}
			}
			if c.onLatch != nil {
				c.onLatch(LatchEvent{Leg: l.id, RTCP: p.RTCP, Addr: src})
			}
			return DropNone
		}
		st = l.state.Load()
	}
	return c.latching()
}

// latching is the verdict on a packet that neither latched its leg nor was
// refused: wait (dropped) with StrictSource, else forwarded.
func (c *Call) latching() DropReason {
	if c.strict {
		return DropLatching
	}
	return DropNone
}

// refuse counts a packet refused as leg l's remote and says what becomes of
// it: dropped with StrictSource, else forwarded (the remote stays). The
// leg's 1st, 2nd, 4th... refusal is reported (WithOnLatchReject).
func (c *Call) refuse(l *leg, why LatchReject, src netip.AddrPort) DropReason {
	l.stats.latchRejects[why].Add(1)
	c.metrics[Direction(l.id)].LatchRejects[why].Add(1)
	if n := l.stats.rejected.Add(1); n&(n-1) == 0 && c.onReject != nil {
		c.onReject(LatchRejectEvent{Leg: l.id, Reason: why, Addr: src, Count: n})
	}
	if c.strict {
		return DropSourceMismatch
	}
	return DropNone
}

// checkSSRC learns a leg's SSRC from its first accepted RTP packet and then drops any
// other. Like latching it publishes a new state by compare-and-swap; a lost race re-reads.
func (c *Call) checkSSRC(l *leg, ssrc uint32) DropReason {
	for range 4 {
		st := l.state.Load()
		if st.ssrcKnown {
			if st.ssrc == ssrc {
				return DropNone
			}
			return DropSSRCMismatch
		}
		if l.state.CompareAndSwap(st, st.withSSRC(ssrc)) {
			return DropNone
		}
	}
	return DropSSRCMismatch
}
