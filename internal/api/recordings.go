package api

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/media/record"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// RecordingServer serves QA the sanitized recordings in one directory.
type RecordingServer struct {
	hushv1.UnimplementedRecordingServiceServer
	dir string // "" when recording is off
	aud audit.Auditor
}

// downloadChunk is the size of one DownloadRecording message.
const downloadChunk = 64 << 10

func (r *RecordingServer) ListRecordings(ctx context.Context, req *hushv1.ListRecordingsRequest) (_ *hushv1.ListRecordingsResponse, err error) {
	defer func() { auditCall(ctx, r.aud, audit.ActionRecordingList, "", "", err, "call_id="+req.GetCallId()) }()
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("call_id", req.GetCallId(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("page_token", req.GetPageToken(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	var from, to time.Time
	if t := req.GetStartTime(); t != nil {
		if t.CheckValid() != nil {
			return nil, toStatus(invalidf("start_time is not a valid timestamp"))
		}
		from = t.AsTime()
	}
	if t := req.GetEndTime(); t != nil {
		if t.CheckValid() != nil {
			return nil, toStatus(invalidf("end_time is not a valid timestamp"))
		}
		to = t.AsTime()
	}
	if r.dir == "" {
		return &hushv1.ListRecordingsResponse{}, nil
	}
	all, err := record.List(r.dir)
	if err != nil && all == nil {
		return nil, status.Error(codes.Internal, "cannot list recordings")
	}
	// List is newest first; the page token is the id of the last recording of the
	// previous page.
	out := &hushv1.ListRecordingsResponse{}
	past := req.GetPageToken() == ""
	for i := range all {
		sc := &all[i]
		if !past {
			past = sc.RecordingID == req.GetPageToken()
			continue
		}
		if req.GetCallId() != "" && sc.CallID != req.GetCallId() ||
			!from.IsZero() && sc.Start.Before(from) || !to.IsZero() && !sc.Start.Before(to) {
			continue
		}
		if len(out.Recordings) == n {
			out.NextPageToken = out.Recordings[n-1].RecordingId
			break
		}
		out.Recordings = append(out.Recordings, recordingPB(sc))
	}
	return out, nil
}

func (r *RecordingServer) GetRecording(ctx context.Context, req *hushv1.GetRecordingRequest) (_ *hushv1.Recording, err error) {
	defer func() {
		auditCall(ctx, r.aud, audit.ActionRecordingGet, "", "", err, "recording_id="+req.GetRecordingId())
	}()
	sc, err := r.get(req.GetRecordingId())
	if err != nil {
		return nil, err
	}
	return recordingPB(&sc), nil
}

func (r *RecordingServer) get(id string) (record.Sidecar, error) {
	if err := checkText("recording_id", id, maxIDLen, true); err != nil {
		return record.Sidecar{}, toStatus(err)
	}
	if record.ValidateID(id) != nil {
		return record.Sidecar{}, toStatus(invalidf("recording_id is not a recording id"))
	}
	if r.dir == "" {
		return record.Sidecar{}, status.Error(codes.NotFound, "recording not found")
	}
	sc, err := record.Get(r.dir, id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return record.Sidecar{}, status.Error(codes.NotFound, "recording not found")
		}
		return record.Sidecar{}, status.Error(codes.Internal, "cannot read recording")
	}
	return sc, nil
}

func (r *RecordingServer) DownloadRecording(req *hushv1.DownloadRecordingRequest, stream hushv1.RecordingService_DownloadRecordingServer) (err error) {
	defer func() {
		auditCall(stream.Context(), r.aud, audit.ActionRecordingFetch, "", "", err, "recording_id="+req.GetRecordingId())
	}()
	if _, err := r.get(req.GetRecordingId()); err != nil {
		return err
	}
	path, err := record.WAVPath(r.dir, req.GetRecordingId())
	if err != nil {
		return toStatus(invalidf("recording_id is not a recording id"))
	}
	f, err := os.Open(path)
	if err != nil {
		return status.Error(codes.NotFound, "recording file not found")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return status.Error(codes.Internal, "cannot read recording")
	}
	size := uint64(st.Size())
	off := req.GetOffset()
	if off > size {
		return status.Error(codes.OutOfRange, "offset is past the end of the recording")
	}
	buf := make([]byte, downloadChunk)
	for off < size {
		n, err := f.ReadAt(buf, int64(off))
		if n > 0 {
			if err := stream.Send(&hushv1.DownloadRecordingResponse{Chunk: buf[:n], Offset: off, Size: size}); err != nil {
				return err
			}
			off += uint64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return status.Error(codes.Internal, "cannot read recording")
		}
	}
	return nil
}

var recordingStatuses = map[record.Status]hushv1.RecordingStatus{
	record.StatusInProgress: hushv1.RecordingStatus_RECORDING_STATUS_IN_PROGRESS,
	record.StatusComplete:   hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE,
	record.StatusRepaired:   hushv1.RecordingStatus_RECORDING_STATUS_REPAIRED,
	record.StatusFailed:     hushv1.RecordingStatus_RECORDING_STATUS_FAILED,
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func recordingPB(sc *record.Sidecar) *hushv1.Recording {
	out := &hushv1.Recording{
		RecordingId: sc.RecordingID, SessionId: sc.SessionID, CallId: sc.CallID, AgentId: sc.AgentID,
		Status:    recordingStatuses[sc.Status],
		StartTime: ts(sc.Start), EndTime: ts(sc.End),
		Duration:  durationpb.New(time.Duration(sc.FileSamples) * time.Second / 8000),
		SizeBytes: uint64(max(sc.Size, 0)), Sha256: sc.SHA256,
	}
	for _, p := range sc.Pauses {
		b := hushv1.PauseBehavior_PAUSE_BEHAVIOR_SILENCE
		if p.Behavior == record.PauseSkip {
			b = hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP
		}
		out.Pauses = append(out.Pauses, &hushv1.Span{
			StartSample: uint64(max(p.StartSample, 0)), EndSample: uint64(max(p.EndSample, 0)),
			StartTime: ts(p.StartTime), EndTime: ts(p.EndTime), Behavior: b, Reason: p.Reason,
		})
	}
	for _, m := range sc.Masks {
		leg := hushv1.LegName_LEG_NAME_CUSTOMER
		if m.Leg == "agent" {
			leg = hushv1.LegName_LEG_NAME_AGENT
		}
		out.Masks = append(out.Masks, &hushv1.Span{
			StartSample: uint64(max(m.StartSample, 0)), EndSample: uint64(max(m.EndSample, 0)),
			StartTime: ts(m.StartTime), EndTime: ts(m.EndTime), Leg: leg,
		})
	}
	for _, a := range sc.Actions {
		out.Actions = append(out.Actions, &hushv1.RecordingAction{
			Time: ts(a.Time), Actor: a.Actor, Action: a.Action, RequestId: a.RequestID, Reason: a.Reason,
		})
	}
	return out
}
