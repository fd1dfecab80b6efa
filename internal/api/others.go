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
// is zeroed when taken and the message's buffer right after it is sent. Every attempt,
// allowed or refused (unknown session, another collector already attached, bad request),
// is one audit record with its outcome; each batch taken from the session is one more.
func (p *PaymentServer) CollectDigits(req *hushv1.CollectDigitsRequest, stream hushv1.PaymentService_CollectDigitsServer) (err error) {
	delivered := 0
	sessionID := req.GetSessionId()
	defer func() {
		auditCall(stream.Context(), p.aud, audit.ActionDigitsCollect, sessionID, req.GetRequestId(), err,
			fmt.Sprintf("%d digits delivered", delivered))
	}()
	if err := checkSessionID(req.GetSessionId()); err != nil {
		sessionID = "" // never written back: it could be anything a caller typed
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
			if err == nil {
				delivered += n
			}
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
// report how many sessions were active.
type Drainer interface {
	Drain(deadline time.Duration) int
}

// AdminServer implements operator actions.
type AdminServer struct {
	hushv1.UnimplementedAdminServiceServer
	drain           Drainer
	defaultDeadline time.Duration
	aud             audit.Auditor
}

func (a *AdminServer) Drain(ctx context.Context, req *hushv1.DrainRequest) (_ *hushv1.DrainResponse, err error) {
	defer func() { auditCall(ctx, a.aud, audit.ActionDrain, "", "", err, "") }()
	d := a.defaultDeadline
	if req.GetDeadline() != nil {
		if err := req.GetDeadline().CheckValid(); err != nil || req.GetDeadline().AsDuration() < 0 {
			return nil, status.Error(codes.InvalidArgument, "deadline must be a non-negative duration")
		}
		d = req.GetDeadline().AsDuration()
	}
	if a.drain == nil {
		return nil, status.Error(codes.Unavailable, "drain is not wired in this server")
	}
	return &hushv1.DrainResponse{ActiveSessions: int32(a.drain.Drain(d))}, nil
}
