package relay

import (
	"fmt"
	"sync"

	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/srtp"
)

// legCrypto is an SRTP leg's keys as the packet loop uses them (LegConfig.SRTP). It hangs
// off the leg's immutable state; its contexts are mutable and each half belongs to the
// goroutines that reach it:
//   - in.RTP: the leg's own RTP socket's goroutine (RTP arrives nowhere else);
//   - out.RTP: the other leg's RTP socket's goroutine (forwarding and delay line);
//   - in.RTCP and out.RTCP: whichever goroutine gets RTCP, which may be two (an RTCP
//     socket, and the RTP socket under rtcp-mux), so a mutex serialises them. RTCP is a
//     packet every few seconds: the lock is never contended in practice.
//
// SetRemote keeps a half whose key did not change, so a re-INVITE that keeps its keys
// keeps the rollover counters and replay windows; a new key starts a new context.
type legCrypto struct {
	keys srtp.Keys
	in   *inbound  // nil: the party's key is not known yet; its packets are dropped
	out  *outbound // nil: hush's key toward the party is not known yet; nothing is sent
}

type inbound struct {
	*srtp.Inbound
	rtcpMu sync.Mutex
}

type outbound struct {
	*srtp.Outbound
	rtcpMu sync.Mutex
}

// newLegCrypto builds a leg's crypto state for keys (nil: plain RTP), reusing the halves
// of old whose keys are unchanged.
func newLegCrypto(keys *srtp.Keys, old *legCrypto) (*legCrypto, error) {
	if keys == nil {
		return nil, nil
	}
	lc := &legCrypto{keys: *keys}
	switch {
	case keys.Recv.IsZero():
	case old != nil && old.in != nil && old.keys.Recv.Equal(keys.Recv):
		lc.in = old.in
	default:
		in, err := srtp.NewInbound(keys.Recv)
		if err != nil {
			return nil, fmt.Errorf("%w: receive key: %w", ErrSRTPKey, err)
		}
		lc.in = &inbound{Inbound: in}
	}
	switch {
	case keys.Send.IsZero():
	case old != nil && old.out != nil && old.keys.Send.Equal(keys.Send):
		lc.out = old.out
	default:
		out, err := srtp.NewOutbound(keys.Send)
		if err != nil {
			return nil, fmt.Errorf("%w: send key: %w", ErrSRTPKey, err)
		}
		lc.out = &outbound{Outbound: out}
	}
	return lc, nil
}

// sealSize is a protect buffer: any packet hush forwards plus the longest SRTP trailer.
const sealSize = MaxPacketSize + srtp.MaxTrailer

// unprotect authenticates and decrypts a packet of an SRTP leg in place, and decodes the
// result as process does a plain one. With StrictSource it first refuses, without any
// cryptography and without touching the replay window, a packet that admit would refuse
// anyway, so a copy raced in from elsewhere cannot use up the genuine packet's index.
// Latching happens after it (in admit): only a packet that authenticates can latch.
func (c *Call) unprotect(l *leg, st *legState, lc *legCrypto, p *Packet) DropReason {
	if lc.in == nil {
		return DropSRTPNoKey
	}
	if c.strict {
		if r := c.refuseEarly(l, st, p); r != DropNone {
			return r
		}
	}
	var out []byte
	var v srtp.Verdict
	if p.RTCP {
		lc.in.rtcpMu.Lock()
		out, v = lc.in.UnprotectRTCP(p.Buf)
		lc.in.rtcpMu.Unlock()
	} else {
		out, v = lc.in.UnprotectRTP(p.Buf)
	}
	switch v {
	case srtp.OK:
	case srtp.Replayed:
		return DropSRTPReplay
	default:
		return DropSRTPAuth
	}
	p.Buf = out
	if p.RTCP {
		if rtp.ValidateRTCP(p.Buf) != nil {
			return DropMalformed
		}
	} else if _, err := p.Header.Unmarshal(p.Buf); err != nil {
		return DropMalformed
	}
	return DropNone
}

// refuseEarly is admit's verdict for a packet from a source admit refuses whatever the
// packet holds (strict source only: without it such packets are forwarded and must be
// authenticated first). It changes no state but the refusal counters.
func (c *Call) refuseEarly(l *leg, st *legState, p *Packet) DropReason {
	src := p.Src
	if p.RTCP {
		switch {
		case st.rtcpFixed:
			if src != st.rtcp {
				return c.refuse(l, LatchRejectOtherSource, src)
			}
		case !st.rtp.IsValid():
			return c.latching()
		case src.Addr() != st.rtp.Addr():
			return c.refuse(l, LatchRejectOtherSource, src)
		}
		return DropNone
	}
	switch {
	case st.rtp.IsValid():
		if src != st.rtp {
			return c.refuse(l, LatchRejectOtherSource, src)
		}
	case st.expect.IsValid():
		if src.Addr() != st.expect {
			return c.refuse(l, LatchRejectUnexpectedIP, src)
		}
	}
	return DropNone
}

// protect encrypts a packet leaving toward an SRTP leg (lc, its crypto) into buf, which
// the caller's goroutine owns (nil: allocated once, on first use). It returns the packet
// to send, buf and the reason to drop it instead.
func protect(lc *legCrypto, rtcp bool, pkt, buf []byte) ([]byte, []byte, DropReason) {
	if lc.out == nil {
		return nil, buf, DropSRTPNoKey
	}
	if buf == nil {
		buf = make([]byte, sealSize)
	}
	var out []byte
	var v srtp.Verdict
	if rtcp {
		lc.out.rtcpMu.Lock()
		out, v = lc.out.ProtectRTCP(buf[:0], pkt)
		lc.out.rtcpMu.Unlock()
	} else {
		out, v = lc.out.ProtectRTP(buf[:0], pkt)
	}
	switch v {
	case srtp.OK:
		return out, buf, DropNone
	case srtp.Replayed:
		return nil, buf, DropSRTPReplay
	}
	return nil, buf, DropSRTPProtect
}
