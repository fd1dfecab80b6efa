package api

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/session"
)

// errInvalid marks a request that failed validation.
var errInvalid = errors.New("invalid request")

// errMarshalSize: a message marshalled to another size than proto.Size said.
var errMarshalSize = errors.New("marshalled size differs from proto.Size")

// errNoOfferAnswer: a server assembled without the offer/answer engine (tests).
var errNoOfferAnswer = fmt.Errorf("%w: SDP offer/answer is not available in this server", session.ErrUnsupported)

// errorCodes is the one table from domain errors to gRPC codes. The first match wins.
var errorCodes = []struct {
	err  error
	code codes.Code
}{
	{errInvalid, codes.InvalidArgument},
	{session.ErrInvalid, codes.InvalidArgument},
	{session.ErrNotFound, codes.NotFound},
	{session.ErrAlreadyExists, codes.AlreadyExists},
	// A request_id reused for a different request is the caller's mistake, as Stripe's
	// 400 and AIP-155 treat it: fix the request (a new request_id), do not retry it.
	{session.ErrRequestIDReused, codes.InvalidArgument},
	{session.ErrRequestInProgress, codes.Aborted},
	{session.ErrTooManySessions, codes.ResourceExhausted},
	{session.ErrPortsExhausted, codes.ResourceExhausted},
	{session.ErrWatchLagged, codes.ResourceExhausted},
	{session.ErrDraining, codes.Unavailable},
	{session.ErrPortUnavailable, codes.Unavailable},
	{session.ErrUnsupported, codes.Unimplemented},
	{session.ErrCollecting, codes.FailedPrecondition},
	{session.ErrFailedPrecondition, codes.FailedPrecondition},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// toStatus converts a domain error to a gRPC status error. Unknown errors are INTERNAL with
// a generic message: their text is logged by the interceptor, not sent to the caller.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return &statusError{st: status.New(e.code, err.Error()), err: err}
		}
	}
	return status.Error(codes.Internal, "internal error")
}

// statusError is a status that keeps the domain error it came from, so the audit record
// can tell why a call was refused.
type statusError struct {
	st  *status.Status
	err error
}

func (e *statusError) Error() string              { return e.st.Err().Error() }
func (e *statusError) GRPCStatus() *status.Status { return e.st }
func (e *statusError) Unwrap() error              { return e.err }
