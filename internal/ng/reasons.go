package ng

import (
	"errors"

	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
)

// Error reasons: the label of hush_ng_errors_total. A fixed set, so the counter's
// cardinality is bounded whatever clients send.
const (
	ReasonBencode        = "bencode"
	ReasonNoCommand      = "no_command"
	ReasonUnknownCommand = "unknown_command"
	ReasonUnsupported    = "unsupported"
	ReasonUnsafe         = "unsafe"
	ReasonField          = "bad_value"
	ReasonInvalid        = "invalid"
	ReasonSDP            = "sdp"
	ReasonNoAudio        = "no_audio"
	ReasonAddress        = "address"
	ReasonUnknownCall    = "unknown_call"
	ReasonUnknownTag     = "unknown_tag"
	ReasonMismatch       = "mismatch"
	ReasonCapacity       = "capacity"
	ReasonDraining       = "draining"
	ReasonPrecondition   = "precondition"
	ReasonInternal       = "internal"
)

// reasons is the one table from errors to reasons; the first match wins, so the specific
// errors come before the general ones they wrap.
var reasons = []struct {
	err    error
	reason string
}{
	{ErrBencode, ReasonBencode},
	{ErrMessage, ReasonBencode},
	{ErrNoCommand, ReasonNoCommand},
	{ErrUnknownCommand, ReasonUnknownCommand},
	{ErrUnsupported, ReasonUnsupported},
	{ErrUnsafe, ReasonUnsafe},
	{ErrField, ReasonField},
	{offeranswer.ErrSDP, ReasonSDP},
	{sdp.ErrParse, ReasonSDP},
	{offeranswer.ErrNoAudio, ReasonNoAudio},
	{offeranswer.ErrUnsupported, ReasonUnsupported},
	{offeranswer.ErrAddress, ReasonAddress},
	{offeranswer.ErrMismatch, ReasonMismatch},
	{offeranswer.ErrUnknownCall, ReasonUnknownCall},
	{offeranswer.ErrUnknownTag, ReasonUnknownTag},
	{offeranswer.ErrInvalid, ReasonInvalid},
	{session.ErrTooManySessions, ReasonCapacity},
	{session.ErrPortsExhausted, ReasonCapacity},
	{session.ErrDraining, ReasonDraining},
	{session.ErrAlreadyExists, ReasonPrecondition},
	{session.ErrFailedPrecondition, ReasonPrecondition},
	{session.ErrNotFound, ReasonUnknownCall},
	{session.ErrInvalid, ReasonInvalid},
}

// reasonOf names an error's reason.
func reasonOf(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonInternal
}

// Reasons lists every reason, for metrics that are exported at zero from the start.
func Reasons() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range reasons {
		if !seen[r.reason] {
			seen[r.reason] = true
			out = append(out, r.reason)
		}
	}
	return append(out, ReasonInternal)
}
