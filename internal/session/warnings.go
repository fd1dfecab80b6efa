package session

import (
	"fmt"
	"slices"

	"github.com/hushmedia/hush/media/mask"
)

// WarningCode says what a Warning is about.
type WarningCode int

// Warning codes.
const (
	// WarnUndecodableCodec: a leg names a codec hush cannot decode while its audio is
	// recorded or masked.
	WarnUndecodableCodec WarningCode = iota + 1
)

// Warning is a condition of a session's setup the caller should know about. It does not
// stop the session.
type Warning struct {
	Code    WarningCode
	Field   string // the request field, e.g. "customer.codecs[9]"
	Message string
}

// warningsLocked lists the warnings of the session's current legs and policy: a codec
// hush cannot decode is recorded as silence, and in a masked direction not forwarded
// (fail closed), so the platform hears of it when it sets the leg up rather than from QA.
func (s *Session) warningsLocked() []Warning {
	var out []Warning
	recorded := s.rec.rec != nil && s.rec.state != RecordingFailed
	for l := Customer; l <= Agent; l++ {
		d := Direction(l) // the direction this leg's audio travels
		masked := s.policy.Mask(d).Mode > MaskOff || d == CustomerToAgent && (s.cap.on || s.cap.begun)
		if !recorded && !masked {
			continue
		}
		var pts []uint8
		for pt, name := range s.legs[l].Codecs {
			if c, err := mask.ParseCodec(name); err == nil && c == mask.CodecUnknown {
				pts = append(pts, pt)
			}
		}
		slices.Sort(pts)
		for _, pt := range pts {
			// The codec's name is the caller's text: not echoed, the field names it.
			msg := "hush cannot decode this codec: "
			switch {
			case recorded && masked:
				msg += "audio in it is recorded as silence and not forwarded while the direction is masked"
			case recorded:
				msg += "audio in it is forwarded but recorded as silence"
			default:
				msg += "audio in it is not forwarded while the direction is masked"
			}
			out = append(out, Warning{Code: WarnUndecodableCodec, Field: fmt.Sprintf("%s.codecs[%d]", l, pt), Message: msg})
		}
	}
	return out
}
