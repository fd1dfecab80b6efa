package offeranswer

import (
	"fmt"

	"github.com/hushmedia/hush/internal/session"
)

// Errors. Each wraps a session error, so the gRPC API's one error table maps it to a
// status code (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION); the ng server maps each
// to its error-reason counter.
var (
	// ErrInvalid: a required field is missing or malformed (call-id, tags).
	ErrInvalid = fmt.Errorf("%w: offer/answer", session.ErrInvalid)
	// ErrSDP: the SDP body does not parse.
	ErrSDP = fmt.Errorf("%w: sdp", session.ErrInvalid)
	// ErrNoAudio: the SDP has no audio stream hush can relay (none, or its port is 0).
	ErrNoAudio = fmt.Errorf("%w: no audio stream to relay", session.ErrInvalid)
	// ErrUnsupported: the call's audio is encrypted (SRTP, DTLS-SRTP) or not RTP over
	// UDP; hush would have to decrypt it to mask it.
	ErrUnsupported = fmt.Errorf("%w: the audio stream is not plain RTP", session.ErrInvalid)
	// ErrAddress: a connection address hush cannot send to (another address family than
	// hush's media address, multicast).
	ErrAddress = fmt.Errorf("%w: media address", session.ErrInvalid)
	// ErrMismatch: an answer does not match its offer (another number of m= lines), or a
	// re-offer moved the call's audio to another m= line.
	ErrMismatch = fmt.Errorf("%w: answer does not match the offer", session.ErrInvalid)
	// ErrUnknownCall: an answer (or another request) for a call-id hush has no offer for.
	ErrUnknownCall = fmt.Errorf("%w: unknown call", session.ErrNotFound)
	// ErrUnknownTag: a tag hush cannot place in the call (an answer from the party that
	// offered, or a request from a tag of another dialog with the same call-id).
	ErrUnknownTag = fmt.Errorf("%w: unknown tag", session.ErrFailedPrecondition)
)
