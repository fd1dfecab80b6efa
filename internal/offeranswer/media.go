package offeranswer

import (
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
)

// mainAudio returns the index of the call's audio: the first audio m= line with a port.
func mainAudio(d *sdp.Description) (int, error) {
	for i := range d.Media {
		if d.Media[i].Type == "audio" && d.Media[i].Port != 0 {
			return i, nil
		}
	}
	return 0, ErrNoAudio
}

// checkAudio refuses an audio stream hush cannot mask: encrypted, or not RTP over UDP.
func checkAudio(m *sdp.Media) error {
	if m.Port == 0 {
		return ErrNoAudio
	}
	if m.Secure || !m.IsRTP() {
		return fmt.Errorf("%w (%s): hush masks plain RTP/AVP or RTP/AVPF only; SRTP and DTLS are not supported", ErrUnsupported, m.Proto)
	}
	return nil
}

// remote is where hush sends a party's media, from its SDP section and the request's
// learning mode. keep is true for an old-style hold (c=0.0.0.0): the address stays what
// it was. A zero rtp means: learn it from the first packet.
func (e *Engine) remote(m *sdp.Media, o *Options) (rtp, rtcp netip.AddrPort, keep bool, warns []string, err error) {
	if m.Held() {
		return netip.AddrPort{}, netip.AddrPort{}, true, nil, nil
	}
	addr := m.Addr
	switch {
	case o.MediaAddr.IsValid():
		addr = o.MediaAddr.Unmap()
	case o.Learning == LearnSource && o.Source.IsValid():
		addr = o.Source.Unmap()
	case o.Learning == LearnSource:
		warns = append(warns, "SIP source address asked for without received-from: the SDP's address is used")
	}
	if o.Learning == LearnLatch {
		return netip.AddrPort{}, netip.AddrPort{}, false, warns, nil
	}
	if !addr.IsValid() {
		return rtp, rtcp, false, warns, fmt.Errorf("%w: the audio stream has no connection address (c=)", ErrAddress)
	}
	if addr.Is4() != e.cfg.Addr.Is4() {
		return rtp, rtcp, false, warns, fmt.Errorf("%w: an IPv%d address where hush's media address is IPv%d", ErrAddress,
			ipVersion(addr), ipVersion(e.cfg.Addr))
	}
	if addr.IsMulticast() || addr.IsUnspecified() {
		return rtp, rtcp, false, warns, fmt.Errorf("%w: multicast or unspecified", ErrAddress)
	}
	rtp = netip.AddrPortFrom(addr, uint16(m.Port))
	if m.RTCP.IsValid() && m.RTCP.Addr().Is4() == addr.Is4() && !m.RTCP.Addr().IsUnspecified() {
		rtcp = m.RTCP
		if o.MediaAddr.IsValid() || o.Learning == LearnSource {
			rtcp = netip.AddrPortFrom(addr, m.RTCP.Port())
		}
	}
	return rtp, rtcp, false, warns, nil
}

func ipVersion(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// isEvent reports whether an encoding name is RFC 4733's.
func isEvent(name string) bool { return strings.EqualFold(name, "telephone-event") }

// mergeCodecs is the payload type map of packets from a party: its own SDP's, then the
// other party's for types its own does not name (RFC 3264 section 6.1: the answerer
// should send with the offer's numbers). Where the two disagree and one says
// telephone-event, the type is taken as telephone-event, so a digit is never forwarded
// unmasked as audio of an unknown codec.
func mergeCodecs(own, peer map[uint8]string) map[uint8]string {
	out := maps.Clone(own)
	if out == nil {
		out = map[uint8]string{}
	}
	for pt, name := range peer {
		if cur, ok := out[pt]; !ok || isEvent(name) && !isEvent(cur) {
			out[pt] = name
		}
	}
	return out
}

// eventPT is the lowest telephone-event payload type of a map, 0 when none.
func eventPT(codecs map[uint8]string) uint8 {
	pt := uint8(0)
	for p, name := range codecs {
		if isEvent(name) && (pt == 0 || p < pt) {
			pt = p
		}
	}
	return pt
}

// openExtra relays one further m= line plain: no masking, no recording, no key watching.
func (e *Engine) openExtra(sessionID string, index int, strict bool, legs [2]session.LegSpec) (*extra, error) {
	m, err := e.cfg.Plain(session.MediaSpec{
		SessionID: sessionID + "/m" + strconv.Itoa(index+1), StrictSource: strict,
		Customer: legs[session.Customer], Agent: legs[session.Agent],
	})
	if err != nil {
		return nil, err
	}
	return &extra{media: m, legs: legs}, nil
}

// extraOK says whether an extra m= line can be relayed plain, and if not, why.
func (e *Engine) extraOK(m *sdp.Media, o *Options) (bool, string) {
	switch {
	case o.Extra != ExtraRelay:
		return false, "hush relays the call's audio only; ask for hush-extra-media=relay to relay it plain"
	case e.cfg.Plain == nil:
		return false, "this hushd relays no extra streams"
	case m.Secure || !m.IsRTP():
		return false, "not plain RTP (" + m.Proto + ")"
	}
	return true, ""
}

// extraRemote is where hush sends an extra stream of a party: its SDP's address and port,
// or nothing (latch) when the SDP has none hush can use.
func (e *Engine) extraRemote(m *sdp.Media) netip.AddrPort {
	if !m.Addr.IsValid() || m.Addr.IsUnspecified() || m.Addr.IsMulticast() || m.Addr.Is4() != e.cfg.Addr.Is4() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(m.Addr, uint16(m.Port))
}

// muxAttr is what to do with a=rtcp-mux in a body that did (had) or did not carry it, so
// that the recipient sees want.
func muxAttr(had, want bool) sdp.MuxAttribute {
	switch {
	case want && !had:
		return sdp.MuxAdd
	case had && !want:
		return sdp.MuxRemove
	}
	return sdp.MuxKeep
}
