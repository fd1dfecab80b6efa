package sdp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// Bounds on a body. An INVITE's SDP is a few hundred bytes; a WebRTC offer with video
// and many candidates a few kilobytes.
const (
	MaxBody       = 64 << 10
	maxMedia      = 16
	maxAttributes = 512 // per section
	maxFormats    = 64  // payload types per m= line
)

// Direction is a stream's direction attribute (RFC 3264 section 5.1).
type Direction int

// Directions. The zero value is sendrecv, the default when no attribute is given.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

var directionNames = [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}

func (d Direction) String() string {
	if d >= 0 && int(d) < len(directionNames) {
		return directionNames[d]
	}
	return "unknown"
}

// Media is what hush reads from one m= line.
type Media struct {
	Type  string // "audio", "video", ...
	Proto string // "RTP/AVP", "UDP/TLS/RTP/SAVPF", ...
	Port  int    // 0: the stream is disabled or rejected (RFC 3264 section 6)
	// Addr is the effective connection address: the section's c=, else the session's.
	// Invalid when neither has one; unspecified (0.0.0.0, ::) for an old-style hold
	// (RFC 3264 section 8.4).
	Addr netip.Addr
	// RTCP is the RTCP address of a=rtcp (RFC 3605); its address is Addr when the
	// attribute names only a port. Zero when the attribute is absent.
	RTCP    netip.AddrPort
	RTCPMux bool
	// Codecs maps payload types to encoding names ("PCMU", "telephone-event"): a=rtpmap,
	// else the RFC 3551 static type of a listed format. Only for RTP protocols.
	Codecs    map[uint8]string
	Formats   []string // as on the m= line, in order
	Direction Direction
	ICE       bool // ICE attributes (RFC 8839) in the section or the session
	// Secure: SRTP or DTLS-SRTP is negotiated (an SAVP profile, a=crypto, a=fingerprint).
	Secure bool
}

// Remote is where the party that wrote the SDP receives RTP.
func (m *Media) Remote() netip.AddrPort {
	if !m.Addr.IsValid() || m.Port == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(m.Addr, uint16(m.Port))
}

// IsRTP reports whether the stream is plain (unencrypted) RTP over UDP: RTP/AVP or
// RTP/AVPF.
func (m *Media) IsRTP() bool { return m.Proto == "RTP/AVP" || m.Proto == "RTP/AVPF" }

// Held reports an old-style hold: a connection address of 0.0.0.0 (or ::).
func (m *Media) Held() bool { return m.Addr.IsValid() && m.Addr.IsUnspecified() }

// Description is a parsed SDP body.
type Description struct {
	body  string
	Media []Media
}

// Parse reads an SDP body. Line endings may be CRLF or LF.
func Parse(body []byte) (*Description, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrParse)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrParse, MaxBody)
	}
	raw, err := unmarshal(string(body))
	if err != nil {
		return nil, err
	}
	d := &Description{body: string(body)}
	sessAddr, err := connAddr(raw.ConnectionInformation)
	if err != nil {
		return nil, err
	}
	sessDir, sessDirSet := direction(raw.Attributes)
	sessICE := hasICE(raw.Attributes)
	for i, md := range raw.MediaDescriptions {
		m, err := readMedia(md, sessAddr, sessDir, sessDirSet, sessICE)
		if err != nil {
			return nil, fmt.Errorf("m= line %d: %w", i+1, err)
		}
		d.Media = append(d.Media, m)
	}
	return d, nil
}

// unmarshal runs pion's parser with this package's bounds and error.
func unmarshal(body string) (*psdp.SessionDescription, error) {
	// pion's parser is lenient where hush must not be: it accepts a body without "v=" and
	// an o= line with fields missing, and would then write a body nobody parses.
	if !strings.HasPrefix(body, "v=0\r\n") && !strings.HasPrefix(body, "v=0\n") {
		return nil, fmt.Errorf("%w: the body does not start with v=0", ErrParse)
	}
	for i := 0; i < len(body); i++ {
		// RFC 8866 section 5: no NUL, and CR only as part of a CRLF line ending.
		if c := body[i]; c < 0x20 && c != '\t' && c != '\n' && (c != '\r' || i+1 == len(body) || body[i+1] != '\n') {
			return nil, fmt.Errorf("%w: a control character inside a line", ErrParse)
		}
	}
	var raw psdp.SessionDescription
	if err := raw.UnmarshalString(body); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrParse, short(err.Error()))
	}
	if o := raw.Origin; o.Username == "" || o.NetworkType == "" || o.AddressType == "" || o.UnicastAddress == "" {
		return nil, fmt.Errorf("%w: the o= line lacks a field", ErrParse)
	}
	if len(raw.MediaDescriptions) > maxMedia {
		return nil, fmt.Errorf("%w: more than %d m= lines", ErrParse, maxMedia)
	}
	if len(raw.Attributes) > maxAttributes {
		return nil, fmt.Errorf("%w: more than %d session attributes", ErrParse, maxAttributes)
	}
	for _, md := range raw.MediaDescriptions {
		if len(md.Attributes) > maxAttributes || len(md.MediaName.Formats) > maxFormats {
			return nil, fmt.Errorf("%w: an m= line with more than %d attributes or %d formats", ErrParse, maxAttributes, maxFormats)
		}
	}
	return &raw, nil
}

// short bounds a parser message and keeps it printable: it may quote a piece of the body.
func short(s string) string {
	const max = 80
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

func readMedia(md *psdp.MediaDescription, sessAddr netip.Addr, sessDir Direction, sessDirSet, sessICE bool) (Media, error) {
	m := Media{
		Type: md.MediaName.Media, Proto: strings.Join(md.MediaName.Protos, "/"),
		Port: md.MediaName.Port.Value, Addr: sessAddr, Direction: sessDir,
		Formats: md.MediaName.Formats, ICE: sessICE || hasICE(md.Attributes),
	}
	if md.ConnectionInformation != nil {
		a, err := connAddr(md.ConnectionInformation)
		if err != nil {
			return m, err
		}
		m.Addr = a
	}
	if dir, ok := direction(md.Attributes); ok || !sessDirSet {
		m.Direction = dir
	}
	m.Secure = strings.Contains(m.Proto, "SAVP")
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtcp-mux":
			m.RTCPMux = true
		case "crypto", "fingerprint":
			m.Secure = true
		case "rtcp":
			rtcp, err := parseRTCP(a.Value, m.Addr)
			if err != nil {
				return m, err
			}
			m.RTCP = rtcp
		}
	}
	if strings.HasPrefix(m.Proto, "RTP/") || strings.Contains(m.Proto, "/RTP/") {
		codecs, err := readCodecs(md)
		if err != nil {
			return m, err
		}
		m.Codecs = codecs
	}
	return m, nil
}

// connAddr reads a c= line's address. Nil: no line. Multicast TTL and ranges are dropped;
// hush relays unicast only and the caller refuses multicast.
func connAddr(ci *psdp.ConnectionInformation) (netip.Addr, error) {
	if ci == nil || ci.Address == nil {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(ci.Address.Address)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, ErrAddress
	}
	if (ci.AddressType == "IP4") != a.Is4() {
		return netip.Addr{}, fmt.Errorf("%w: c= address of another family than %s", ErrAddress, ci.AddressType)
	}
	return a, nil
}

// parseRTCP reads a=rtcp:port [nettype addrtype address] (RFC 3605 section 2.1).
func parseRTCP(v string, addr netip.Addr) (netip.AddrPort, error) {
	f := strings.Fields(v)
	if len(f) != 1 && len(f) != 4 {
		return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp is not \"port [IN IP4|IP6 address]\"", ErrParse)
	}
	p, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp port", ErrParse)
	}
	if len(f) == 4 {
		a, err := netip.ParseAddr(f[3])
		if err != nil || f[1] != "IN" || (f[2] == "IP4") != a.Is4() || a.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp address", ErrAddress)
		}
		addr = a
	}
	if !addr.IsValid() {
		return netip.AddrPort{}, nil
	}
	return netip.AddrPortFrom(addr, uint16(p)), nil
}

// staticTypes are RFC 3551 section 6's audio and video payload types.
var staticTypes = map[uint8]string{
	0: "PCMU", 3: "GSM", 4: "G723", 5: "DVI4", 6: "DVI4", 7: "LPC", 8: "PCMA", 9: "G722",
	10: "L16", 11: "L16", 12: "QCELP", 13: "CN", 14: "MPA", 15: "G728", 16: "DVI4", 17: "DVI4",
	18: "G729", 25: "CelB", 26: "JPEG", 28: "nv", 31: "H261", 32: "MPV", 33: "MP2T", 34: "H263",
}

func readCodecs(md *psdp.MediaDescription) (map[uint8]string, error) {
	codecs := make(map[uint8]string, len(md.MediaName.Formats))
	var listed [128]bool
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			return nil, fmt.Errorf("%w: RTP payload type is not 0..127", ErrParse)
		}
		listed[pt] = true
		if name, ok := staticTypes[uint8(pt)]; ok {
			codecs[uint8(pt)] = name
		}
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		ptText, enc, ok := strings.Cut(a.Value, " ")
		pt, err := strconv.ParseUint(ptText, 10, 8)
		name, _, _ := strings.Cut(strings.TrimSpace(enc), "/")
		if !ok || err != nil || pt > 127 || name == "" || len(name) > 32 {
			return nil, fmt.Errorf("%w: a=rtpmap is not \"payload-type name/rate\"", ErrParse)
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
				return nil, fmt.Errorf("%w: a=rtpmap encoding name", ErrParse)
			}
		}
		if listed[pt] { // an rtpmap for a type the m= line does not list maps nothing
			codecs[uint8(pt)] = name
		}
	}
	return codecs, nil
}

func direction(attrs []psdp.Attribute) (Direction, bool) {
	for _, a := range attrs {
		for d, n := range directionNames {
			if a.Key == n {
				return Direction(d), true
			}
		}
	}
	return SendRecv, false
}

// iceAttributes are RFC 8839's SDP attributes.
var iceAttributes = map[string]bool{
	"candidate": true, "remote-candidates": true, "ice-lite": true, "ice-mismatch": true,
	"ice-ufrag": true, "ice-pwd": true, "ice-options": true, "ice-pacing": true,
	"end-of-candidates": true,
}

func hasICE(attrs []psdp.Attribute) bool {
	for _, a := range attrs {
		if iceAttributes[a.Key] {
			return true
		}
	}
	return false
}
