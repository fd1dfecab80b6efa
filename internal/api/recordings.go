package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/media/pan"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
	"github.com/hushmedia/hush/media/record/seal"
	"github.com/hushmedia/hush/media/record/store"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// RecordingStore is where the recording service finds recordings: media/record/index's
// Index.
type RecordingStore interface {
	List(ctx context.Context, q index.Query) ([]index.Entry, string, error)
	Sidecar(ctx context.Context, id string) (record.Sidecar, string, error)
	Path(ctx context.Context, id string) (string, error)
}

// RecordingFiles is what holds the recordings' files: media/record/store's Manager
// (local disk and object store, decryption, retention, erasure).
type RecordingFiles interface {
	Open(ctx context.Context, id string) (*record.WAV, record.Sidecar, error)
	Erase(ctx context.Context, id string) (store.Erased, error)
	SetHold(ctx context.Context, id string, hold *record.Hold) (record.Sidecar, error)
}

// RecordingServer serves QA the sanitized recordings of one store.
type RecordingServer struct {
	hushv1.UnimplementedRecordingServiceServer
	store RecordingStore // nil when recording is off
	files RecordingFiles // nil when recording is off
	aud   audit.Auditor
}

// downloadChunk is the size of one DownloadRecording message.
const downloadChunk = 64 << 10

// storeErr maps the store's errors to status codes: the caller's cancellation or
// deadline as such, unknown recordings as NOT_FOUND, the rest as INTERNAL (the detail is
// the server's, not the caller's).
func storeErr(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	case errors.Is(err, index.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return status.Error(codes.NotFound, "recording not found")
	case errors.Is(err, index.ErrBadToken):
		return toStatus(invalidf("page_token is not a token this server issued"))
	case errors.Is(err, record.ErrBadID):
		return toStatus(invalidf("recording_id is not a recording id"))
	}
	return status.Error(codes.Internal, "cannot read recordings")
}

func (r *RecordingServer) ListRecordings(ctx context.Context, req *hushv1.ListRecordingsRequest) (_ *hushv1.ListRecordingsResponse, err error) {
	defer func() {
		detail := "call_id=" + req.GetCallId() + " agent_id=" + req.GetAgentId()
		if st := req.GetStatus(); st != hushv1.RecordingStatus_RECORDING_STATUS_UNSPECIFIED {
			detail += " status=" + st.String()
		}
		auditCall(ctx, r.aud, audit.ActionRecordingList, "", "", err, detail)
	}()
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("call_id", req.GetCallId(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("agent_id", req.GetAgentId(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	if err := checkLabels(req.GetLabels()); err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("page_token", req.GetPageToken(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	q := index.Query{CallID: req.GetCallId(), AgentID: req.GetAgentId(), Labels: req.GetLabels(), After: req.GetPageToken(), Limit: n}
	if st := req.GetStatus(); st != hushv1.RecordingStatus_RECORDING_STATUS_UNSPECIFIED {
		for k, v := range recordingStatuses {
			if v == st {
				q.Status = k
			}
		}
		if q.Status == "" {
			return nil, toStatus(invalidf("status is not a recording status"))
		}
	}
	if t := req.GetStartTime(); t != nil {
		if t.CheckValid() != nil {
			return nil, toStatus(invalidf("start_time is not a valid timestamp"))
		}
		q.From = t.AsTime()
	}
	if t := req.GetEndTime(); t != nil {
		if t.CheckValid() != nil {
			return nil, toStatus(invalidf("end_time is not a valid timestamp"))
		}
		q.To = t.AsTime()
	}
	if r.store == nil {
		return &hushv1.ListRecordingsResponse{}, nil
	}
	page, next, err := r.store.List(ctx, q)
	if err != nil {
		return nil, storeErr(err)
	}
	out := &hushv1.ListRecordingsResponse{NextPageToken: next}
	for i := range page {
		out.Recordings = append(out.Recordings, recordingPB(&page[i].Sidecar))
	}
	return out, nil
}

func (r *RecordingServer) GetRecording(ctx context.Context, req *hushv1.GetRecordingRequest) (_ *hushv1.Recording, err error) {
	defer func() {
		auditCall(ctx, r.aud, audit.ActionRecordingGet, "", "", err, "recording_id="+req.GetRecordingId())
	}()
	sc, err := r.get(ctx, req.GetRecordingId())
	if err != nil {
		return nil, err
	}
	return recordingPB(&sc), nil
}

func (r *RecordingServer) get(ctx context.Context, id string) (record.Sidecar, error) {
	if err := checkText("recording_id", id, maxIDLen, true); err != nil {
		return record.Sidecar{}, toStatus(err)
	}
	if record.ValidateID(id) != nil {
		return record.Sidecar{}, toStatus(invalidf("recording_id is not a recording id"))
	}
	if r.store == nil {
		return record.Sidecar{}, status.Error(codes.NotFound, "recording not found")
	}
	sc, _, err := r.store.Sidecar(ctx, id)
	if err != nil {
		return record.Sidecar{}, storeErr(err)
	}
	return sc, nil
}

// mayDecrypt reports whether the caller may receive a recording's audio in the clear:
// the qa and admin roles (the method table already admits no other), or anyone in
// auth.mode none, where every caller is every role.
func mayDecrypt(ctx context.Context) bool {
	id, ok := auth.FromContext(ctx)
	return ok && (id.Role == auth.RoleQA || id.Role == auth.RoleAdmin || id.Method == auth.MethodNone)
}

func (r *RecordingServer) DownloadRecording(req *hushv1.DownloadRecordingRequest, stream hushv1.RecordingService_DownloadRecordingServer) (err error) {
	ctx := stream.Context()
	defer func() {
		auditCall(ctx, r.aud, audit.ActionRecordingFetch, "", "", err, "recording_id="+req.GetRecordingId())
	}()
	if _, err := r.get(ctx, req.GetRecordingId()); err != nil {
		return err
	}
	if !mayDecrypt(ctx) {
		return status.Error(codes.PermissionDenied, "recordings are served to the qa and admin roles only")
	}
	if r.files == nil {
		return status.Error(codes.NotFound, "recording file not found")
	}
	w, sc, err := r.files.Open(ctx, req.GetRecordingId())
	if err != nil {
		return filesErr(err)
	}
	defer w.Close()
	// A finished recording must be whole: a sealed file cut after the fact is refused,
	// rather than served short.
	if w.Complete != nil && (sc.Status == record.StatusComplete || sc.Status == record.StatusRepaired) {
		return status.Error(codes.DataLoss, "recording file is cut short: see hushctl recording decrypt")
	}
	size := uint64(w.Size)
	off := req.GetOffset()
	if off > size {
		return status.Error(codes.OutOfRange, "offset is past the end of the recording")
	}
	buf := make([]byte, downloadChunk)
	for off < size {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		n, err := w.ReadAt(buf[:min(uint64(len(buf)), size-off)], int64(off))
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
			if errors.Is(err, seal.ErrTampered) {
				return status.Error(codes.DataLoss, "recording file fails authentication")
			}
			return status.Error(codes.Internal, "cannot read recording")
		}
	}
	return nil
}

// filesErr maps the recording store's errors to status codes.
func filesErr(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	case errors.Is(err, store.ErrNotFound), errors.Is(err, index.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return status.Error(codes.NotFound, "recording not found")
	case errors.Is(err, store.ErrHeld):
		return status.Error(codes.FailedPrecondition, "recording is on legal hold: lift the hold first")
	case errors.Is(err, store.ErrInProgress):
		return status.Error(codes.FailedPrecondition, "recording is still being written: end its session first")
	case errors.Is(err, store.ErrBusy):
		return status.Error(codes.Aborted, "another operation on the recording is running; retry")
	case errors.Is(err, store.ErrObjectStore):
		return status.Error(codes.Unavailable, "object store unavailable; nothing was removed, retry")
	case errors.Is(err, seal.ErrTampered), errors.Is(err, seal.ErrTruncated):
		return status.Error(codes.DataLoss, "recording file fails authentication")
	case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrUnwrap):
		return status.Error(codes.FailedPrecondition, "recording is encrypted with a key this server does not hold")
	case errors.Is(err, record.ErrBadID):
		return toStatus(invalidf("recording_id is not a recording id"))
	}
	return status.Error(codes.Internal, "cannot read recordings")
}

func (r *RecordingServer) EraseRecording(ctx context.Context, req *hushv1.EraseRecordingRequest) (_ *hushv1.EraseRecordingResponse, err error) {
	out := &hushv1.EraseRecordingResponse{}
	detail := ""
	defer func() {
		d := "recording_id=" + req.GetRecordingId() + " call_id=" + req.GetCallId() + " reason=" + req.GetReason()
		auditCall(ctx, r.aud, audit.ActionRecordingErase, "", "", err, joinDetail(d, detail))
	}()
	if err := checkFreeText("reason", req.GetReason(), maxReasonLen); err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("call_id", req.GetCallId(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	ids := []string{req.GetRecordingId()}
	switch {
	case (req.GetRecordingId() == "") == (req.GetCallId() == ""):
		return nil, toStatus(invalidf("give recording_id or call_id, not both"))
	case req.GetRecordingId() != "":
		if _, err := r.get(ctx, req.GetRecordingId()); err != nil {
			return nil, err
		}
	default:
		if r.store == nil {
			return nil, status.Error(codes.NotFound, "recording not found")
		}
		ids = nil
		q := index.Query{CallID: req.GetCallId(), Limit: 1000}
		for range 1000 {
			page, next, err := r.store.List(ctx, q)
			if err != nil {
				return nil, storeErr(err)
			}
			for _, e := range page {
				ids = append(ids, e.Sidecar.RecordingID)
			}
			if next == "" {
				break
			}
			q.After = next
		}
		if len(ids) == 0 {
			return nil, status.Error(codes.NotFound, "no recording of this call_id")
		}
	}
	if r.files == nil {
		return nil, status.Error(codes.NotFound, "recording not found")
	}
	for _, id := range ids {
		er, err := r.files.Erase(ctx, id)
		if err != nil {
			detail = "erased=" + strings.Join(out.RecordingIds, ",") + " failed=" + id
			return nil, filesErr(err)
		}
		out.RecordingIds = append(out.RecordingIds, id)
		where := "disk"
		if er.Objects {
			where += "+object_store"
		}
		detail = joinDetail(detail, id+" removed from "+where+"+index")
	}
	return out, nil
}

func (r *RecordingServer) SetLegalHold(ctx context.Context, req *hushv1.SetLegalHoldRequest) (_ *hushv1.Recording, err error) {
	defer func() {
		d := fmt.Sprintf("recording_id=%s hold=%t reason=%s", req.GetRecordingId(), req.GetHold(), req.GetReason())
		auditCall(ctx, r.aud, audit.ActionRecordingHold, "", "", err, d)
	}()
	if err := checkFreeText("reason", req.GetReason(), maxReasonLen); err != nil {
		return nil, toStatus(err)
	}
	if _, err := r.get(ctx, req.GetRecordingId()); err != nil {
		return nil, err
	}
	if r.files == nil {
		return nil, status.Error(codes.NotFound, "recording not found")
	}
	var hold *record.Hold
	if req.GetHold() {
		hold = &record.Hold{Time: time.Now().UTC(), Reason: pan.Scrub(req.GetReason())}
		if id, ok := auth.FromContext(ctx); ok {
			hold.Actor = id.Subject
		}
	}
	sc, err := r.files.SetHold(ctx, req.GetRecordingId(), hold)
	if err != nil {
		return nil, filesErr(err)
	}
	return recordingPB(&sc), nil
}

var recordingContents = map[record.Content]hushv1.RecordingContent{
	record.ContentFull:        hushv1.RecordingContent_RECORDING_CONTENT_FULL,
	record.ContentPartial:     hushv1.RecordingContent_RECORDING_CONTENT_PARTIAL,
	record.ContentUndecodable: hushv1.RecordingContent_RECORDING_CONTENT_UNDECODABLE,
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
		Labels:  sc.Labels,
		Content: recordingContents[sc.Content],
		Failure: sc.Failure,
		Segment: uint32(max(sc.Segment, 1)), PreviousRecordingId: sc.PreviousRecordingID,

		CustomerUndecodablePackets: sc.Dropped.CustomerUndecodable,
		AgentUndecodablePackets:    sc.Dropped.AgentUndecodable,
		CustomerLatePackets:        sc.Dropped.CustomerLate,
		AgentLatePackets:           sc.Dropped.AgentLate,

		Encrypted:     sc.Encrypted,
		RetainUntil:   ts(sc.RetainUntil),
		InObjectStore: sc.Location != "",
	}
	if h := sc.LegalHold; h != nil {
		out.LegalHold = &hushv1.LegalHold{Actor: h.Actor, Time: ts(h.Time), Reason: h.Reason}
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

// pathFiles serves plain recordings from the directories a RecordingStore names, for a
// server given no RecordingFiles: no decryption, no erasure, no holds.
type pathFiles struct{ store RecordingStore }

func (p pathFiles) Open(ctx context.Context, id string) (*record.WAV, record.Sidecar, error) {
	sc, _, err := p.store.Sidecar(ctx, id)
	if err != nil {
		return nil, sc, err
	}
	dir, err := p.store.Path(ctx, id)
	if err != nil {
		return nil, sc, err
	}
	w, err := record.OpenWAV(dir, id)
	return w, sc, err
}

func (pathFiles) Erase(context.Context, string) (store.Erased, error) {
	return store.Erased{}, status.Error(codes.Unimplemented, "erasure is not available on this server")
}

func (pathFiles) SetHold(context.Context, string, *record.Hold) (record.Sidecar, error) {
	return record.Sidecar{}, status.Error(codes.Unimplemented, "legal holds are not available on this server")
}
