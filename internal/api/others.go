package api

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/session"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// PaymentServer delivers captured card digits to the payment client.
type PaymentServer struct {
	hushv1.UnimplementedPaymentServiceServer
	reg *session.Registry
	aud audit.Auditor
}

// CollectDigits streams a session's captured digits. Each digit is sent once; hush's copy
// is zeroed when taken and the message's buffer right after it is sent.
func (p *PaymentServer) CollectDigits(req *hushv1.CollectDigitsRequest, stream hushv1.PaymentService_CollectDigitsServer) error {
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return toStatus(err)
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return toStatus(err)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	batches := make(chan session.DigitBatch)
	errc := make(chan error, 1)
	go func() { errc <- p.reg.Collect(ctx, req.GetSessionId(), batches) }()
	for {
		select {
		case b := <-batches:
			msg := &hushv1.CapturedDigits{
				SessionId: req.GetSessionId(), Digits: b.Digits, Complete: b.Complete,
				CaptureTime: timestamppb.New(b.Time),
			}
			// SendMsg serializes before it returns, so the buffer can be wiped at once.
			err := stream.Send(msg)
			n := len(b.Digits)
			clear(b.Digits)
			// The count only: the audit trail never holds a digit.
			auditCall(ctx, p.aud, audit.ActionDigitsDeliver, req.GetSessionId(), req.GetRequestId(), err,
				fmt.Sprintf("%d digits, complete=%v", n, b.Complete))
			if err != nil {
				return err
			}
		case err := <-errc:
			return toStatus(err)
		}
	}
}

// Drainer is what AdminServer needs from the daemon: start a drain with a deadline and
// report how many sessions were active when draining began. An error means the drain
// asked for conflicts with the one running (FAILED_PRECONDITION); nothing changed.
type Drainer interface {
	Drain(deadline time.Duration) (int, error)
}

// AdminServer implements operator actions.
type AdminServer struct {
	hushv1.UnimplementedAdminServiceServer
	drain           Drainer
	defaultDeadline time.Duration
	aud             audit.Auditor
}

func (a *AdminServer) Drain(ctx context.Context, req *hushv1.DrainRequest) (_ *hushv1.DrainResponse, err error) {
	d := a.defaultDeadline
	defer func() { auditCall(ctx, a.aud, audit.ActionDrain, "", "", err, "deadline "+d.String()) }()
	if req.GetDeadline() != nil {
		if err := req.GetDeadline().CheckValid(); err != nil || req.GetDeadline().AsDuration() < 0 {
			return nil, status.Error(codes.InvalidArgument, "deadline must be a non-negative duration")
		}
		d = req.GetDeadline().AsDuration()
	}
	if a.drain == nil {
		return nil, status.Error(codes.Unavailable, "drain is not wired in this server")
	}
	n, err := a.drain.Drain(d)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &hushv1.DrainResponse{ActiveSessions: int32(n)}, nil
}
