package api

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// PaymentServer answers UNIMPLEMENTED until secure capture lands, with a message saying so.
type PaymentServer struct {
	hushv1.UnimplementedPaymentServiceServer
}

func (PaymentServer) CollectDigits(*hushv1.CollectDigitsRequest, hushv1.PaymentService_CollectDigitsServer) error {
	return notYet("digit collection (secure capture)")
}

// RecordingServer answers UNIMPLEMENTED until recording lands, with a message saying so.
type RecordingServer struct {
	hushv1.UnimplementedRecordingServiceServer
}

func (RecordingServer) ListRecordings(context.Context, *hushv1.ListRecordingsRequest) (*hushv1.ListRecordingsResponse, error) {
	return nil, notYet("recording")
}

func (RecordingServer) GetRecording(context.Context, *hushv1.GetRecordingRequest) (*hushv1.Recording, error) {
	return nil, notYet("recording")
}

func (RecordingServer) DownloadRecording(*hushv1.DownloadRecordingRequest, hushv1.RecordingService_DownloadRecordingServer) error {
	return notYet("recording")
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
}

func (a *AdminServer) Drain(ctx context.Context, req *hushv1.DrainRequest) (*hushv1.DrainResponse, error) {
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
