package mask

import (
	"fmt"
	"strings"

	"github.com/hushmedia/hush/media/g711"
)

// Codec is what a payload type carries, as far as masking is concerned.
type Codec uint8

const (
	// CodecUnknown: hush cannot decode it. A masked direction drops it
	// (fail closed); an unmasked one forwards it untouched.
	CodecUnknown Codec = iota
	// CodecPCMU: G.711 mu-law (RFC 3551 section 4.5.14).
	CodecPCMU
	// CodecPCMA: G.711 A-law (RFC 3551 section 4.5.14).
	CodecPCMA
	// CodecCN: comfort noise (RFC 3389). It carries a noise level, never a
	// tone, so it passes the delay line untouched.
	CodecCN
	// CodecTelephoneEvent: RFC 4733 events. Never forwarded in a masked
	// direction.
	CodecTelephoneEvent
	numCodecs
)

var codecNames = [numCodecs]string{"unknown", "PCMU", "PCMA", "CN", "telephone-event"}

func (c Codec) String() string {
	if c < numCodecs {
		return codecNames[c]
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec maps an SDP encoding name (RFC 4566 a=rtpmap, case-insensitive,
// an optional "/rate[/channels]" suffix ignored) to a Codec. Names hush
// cannot decode return CodecUnknown and no error: they are legal in SDP and
// are forwarded, or dropped when masking applies. Only an empty name is an
// error.
func ParseCodec(name string) (Codec, error) {
	n := strings.TrimSpace(name)
	if i := strings.IndexByte(n, '/'); i >= 0 {
		n = n[:i]
	}
	if n == "" {
		return 0, fmt.Errorf("%w: empty codec name", ErrCodec)
	}
	for c := CodecPCMU; c < numCodecs; c++ {
		if strings.EqualFold(n, codecNames[c]) {
			return c, nil
		}
	}
	return CodecUnknown, nil
}

// CodecMap maps RTP payload types (0-127) to codecs: an array, so the
// per-packet lookup is one index. The zero value knows nothing; use
// DefaultCodecs or Set.
type CodecMap [128]Codec

// DefaultCodecs is the static RTP/AVP map (RFC 3551 section 6): 0 PCMU,
// 8 PCMA, 13 CN. Telephone-events have no static type; add the SDP's.
func DefaultCodecs() CodecMap {
	var m CodecMap
	m[0], m[8], m[13] = CodecPCMU, CodecPCMA, CodecCN
	return m
}

// IsZero reports whether no payload type is mapped.
func (m *CodecMap) IsZero() bool { return *m == CodecMap{} }

// Set maps payload type pt to the codec named name (see ParseCodec).
func (m *CodecMap) Set(pt int, name string) error {
	if pt < 0 || pt > 127 {
		return fmt.Errorf("%w: payload type %d", ErrCodec, pt)
	}
	c, err := ParseCodec(name)
	if err != nil {
		return fmt.Errorf("payload type %d: %w", pt, err)
	}
	m[pt] = c
	return nil
}

// Lookup returns the codec of payload type pt (the top bit ignored).
func (m *CodecMap) Lookup(pt uint8) Codec { return m[pt&0x7f] }

// law is the G.711 law of PCMU or PCMA (mu-law for anything else).
func (c Codec) law() g711.Law {
	if c == CodecPCMA {
		return g711.Alaw
	}
	return g711.Ulaw
}
