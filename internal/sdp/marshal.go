package sdp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// RTCPAttribute says what Marshal does with a=rtcp.
type RTCPAttribute int

// RTCP attribute handling: rewrite the attribute where the body has one (the default), always
// write it with the address ("full rtcp attribute"), or remove it ("no rtcp attribute").
const (
	RTCPRewrite RTCPAttribute = iota
	RTCPFull
	RTCPOmit
)

// MuxAttribute says what Marshal does with a=rtcp-mux.
type MuxAttribute int

// rtcp-mux handling: keep the body's attribute, add it, or remove it.
const (
	MuxKeep MuxAttribute = iota
	MuxAdd
	MuxRemove
)

// Endpoint is where the recipient of a rewritten body sends one stream: hush's ports.
type Endpoint struct {
	// Port is the RTP port; 0 rejects the stream (m= port 0, RFC 3264 section 6).
	Port uint16
	// RTCPPort is the RTCP port written into a=rtcp.
	RTCPPort uint16
	RTCPMux  MuxAttribute
}

// Rewrite is what Marshal changes.
type Rewrite struct {
	// Addr is hush's media address: it replaces every connection address.
	Addr netip.Addr
	// Media holds one Endpoint per m= line, in order.
	Media []Endpoint
	// StripICE removes ICE attributes (RFC 8839) from the session and every section.
	StripICE bool
	// Origin replaces the address in the o= line too.
	Origin bool
	// ZeroAddress replaces 0.0.0.0 (an old-style hold) as well; by default it is kept, so
	// the recipient still sees the hold.
	ZeroAddress bool
	RTCP        RTCPAttribute
}

// Marshal writes the body with rw applied. The Description is not changed.
func (d *Description) Marshal(rw Rewrite) ([]byte, error) {
	if len(rw.Media) != len(d.Media) {
		return nil, fmt.Errorf("%w: %d endpoints for %d m= lines", ErrParse, len(rw.Media), len(d.Media))
	}
	if !rw.Addr.IsValid() {
		return nil, fmt.Errorf("%w: no address to write", ErrAddress)
	}
	raw, err := unmarshal(d.body) // a fresh copy to change
	if err != nil {
		return nil, err
	}
	addrType := "IP4"
	if rw.Addr.Is6() {
		addrType = "IP6"
	}
	setConn := func(ci *psdp.ConnectionInformation) {
		if ci.Address != nil && !rw.ZeroAddress {
			if a, err := netip.ParseAddr(ci.Address.Address); err == nil && a.IsUnspecified() {
				return // a hold stays a hold
			}
		}
		ci.AddressType = addrType
		ci.Address = &psdp.Address{Address: rw.Addr.String()}
	}
	if rw.Origin {
		raw.Origin.AddressType, raw.Origin.UnicastAddress = addrType, rw.Addr.String()
	}
	if raw.ConnectionInformation != nil {
		setConn(raw.ConnectionInformation)
	}
	if rw.StripICE {
		raw.Attributes = stripICE(raw.Attributes)
	}
	for i, md := range raw.MediaDescriptions {
		ep := rw.Media[i]
		md.MediaName.Port = psdp.RangedPort{Value: int(ep.Port)}
		if ep.Port == 0 {
			continue // a rejected stream keeps the rest of its section (RFC 3264 section 6)
		}
		if md.ConnectionInformation != nil {
			setConn(md.ConnectionInformation)
		} else if raw.ConnectionInformation == nil {
			md.ConnectionInformation = &psdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType,
				Address: &psdp.Address{Address: rw.Addr.String()}}
		}
		if rw.StripICE {
			md.Attributes = stripICE(md.Attributes)
		}
		md.Attributes = rewriteRTCP(md.Attributes, rw, ep, addrType)
	}
	out, err := raw.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrParse, short(err.Error()))
	}
	return out, nil
}

func stripICE(attrs []psdp.Attribute) []psdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		if !iceAttributes[a.Key] {
			out = append(out, a)
		}
	}
	return out
}

// rewriteRTCP points a=rtcp at hush's RTCP port and applies the rtcp-mux choice, keeping
// every other attribute where it was.
func rewriteRTCP(attrs []psdp.Attribute, rw Rewrite, ep Endpoint, addrType string) []psdp.Attribute {
	rtcpValue := strconv.Itoa(int(ep.RTCPPort))
	full := rtcpValue + " IN " + addrType + " " + rw.Addr.String()
	out := attrs[:0]
	hadRTCP, hadMux := false, false
	for _, a := range attrs {
		switch a.Key {
		case "rtcp":
			hadRTCP = true
			if rw.RTCP == RTCPOmit {
				continue
			}
			withAddr := len(strings.Fields(a.Value)) == 4 // keep the long form if it was used
			a.Value = rtcpValue
			if rw.RTCP == RTCPFull || withAddr {
				a.Value = full
			}
		case "rtcp-mux":
			hadMux = true
			if ep.RTCPMux == MuxRemove {
				continue
			}
		}
		out = append(out, a)
	}
	if !hadRTCP && rw.RTCP == RTCPFull {
		out = append(out, psdp.Attribute{Key: "rtcp", Value: full})
	}
	if !hadMux && ep.RTCPMux == MuxAdd {
		out = append(out, psdp.Attribute{Key: "rtcp-mux"})
	}
	return out
}
