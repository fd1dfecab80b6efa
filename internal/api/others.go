package api

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/internal/version"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// PaymentServer delivers captured card digits to the payment client.
type PaymentServer struct {
	hushv1.UnimplementedPaymentServiceServer
	reg *session.Registry
	aud audit.Auditor
}

// CollectDigits streams a session's captured digits, one per message. Each digit is sent
// once; hush's copies are zeroed: the session's when taken, the batch's once sent, each
// marshalled message once written (wipingCodec). Every attempt,
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
			// One digit per message: no marshalled message, here or in gRPC, ever holds
			// more than one digit of the card.
			n, err := p.send(ctx, stream, req.GetSessionId(), b)
			clear(b.Digits)
			delivered += n
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

// send sends a batch as one message per digit (the last one carries Complete; an empty
// batch that completes is one empty message) and returns how many digits went out. The
// messages share b.Digits, which the caller zeroes; the codec zeroes each marshalled copy.
// It stops as soon as ctx ends: a collector whose credential was revoked gets no digit
// more, even of a batch already taken.
func (p *PaymentServer) send(ctx context.Context, stream hushv1.PaymentService_CollectDigitsServer, sessionID string, b session.DigitBatch) (int, error) {
	at := timestamppb.New(b.Time)
	if len(b.Digits) == 0 {
		return 0, stream.Send(&hushv1.CapturedDigits{SessionId: sessionID, Complete: b.Complete, CaptureTime: at})
	}
	for i := range b.Digits {
		if err := ctx.Err(); err != nil {
			return i, toStatus(err)
		}
		msg := &hushv1.CapturedDigits{SessionId: sessionID, Digits: b.Digits[i : i+1],
			Complete: b.Complete && i == len(b.Digits)-1, CaptureTime: at}
		if err := stream.Send(msg); err != nil {
			return i, err
		}
	}
	return len(b.Digits), nil
}

// Drainer is what AdminServer needs from the daemon: start a drain with a deadline and
// report how many sessions were active when draining began. An error means the drain
// asked for conflicts with the one running (FAILED_PRECONDITION); nothing changed.
type Drainer interface {
	Drain(deadline time.Duration) (int, error)
}

// HandoffDrainer is a Drainer of a cluster node: it can hand active sessions to other
// nodes instead of waiting for them to end (DrainRequest.handoff).
type HandoffDrainer interface {
	DrainHandoff(deadline time.Duration) (int, error)
}

// AdminServer implements operator actions.
type AdminServer struct {
	hushv1.UnimplementedAdminServiceServer
	drain           Drainer
	defaultDeadline time.Duration
	aud             audit.Auditor
	diag            Diagnostics
}

// Diagnostics is what the daemon checks of its own deployment for Diagnose: engine, ports,
// recording directory, audit chain.
type Diagnostics interface {
	Diagnose(ctx context.Context) (*hushv1.Diagnosis, error)
}

// WhoAmI tells the caller how hushd sees it, with hushd's clock for a skew check.
func (a *AdminServer) WhoAmI(ctx context.Context, _ *hushv1.WhoAmIRequest) (*hushv1.WhoAmIResponse, error) {
	id, _ := auth.FromContext(ctx)
	return &hushv1.WhoAmIResponse{Subject: id.Subject, Role: string(id.Role), AgentId: id.AgentID, Method: id.Method,
		ServerTime: timestamppb.Now(), Version: version.Get().Short()}, nil
}

// Diagnose runs the daemon's checks (reading the whole audit file among them) and says
// what it found; hushctl doctor judges it.
func (a *AdminServer) Diagnose(ctx context.Context, _ *hushv1.DiagnoseRequest) (_ *hushv1.Diagnosis, err error) {
	defer func() { auditCall(ctx, a.aud, audit.ActionDiagnose, "", "", err, "") }()
	if a.diag == nil {
		return nil, status.Error(codes.Unavailable, "diagnostics are not wired in this server")
	}
	return a.diag.Diagnose(ctx)
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
	drain := a.drain.Drain
	if req.GetHandoff() {
		hd, ok := a.drain.(HandoffDrainer)
		if !ok {
			return nil, status.Error(codes.FailedPrecondition, "handoff needs a cluster (cluster.redis_addr)")
		}
		drain = hd.DrainHandoff
	}
	n, err := drain(d)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &hushv1.DrainResponse{ActiveSessions: int32(n)}, nil
}
