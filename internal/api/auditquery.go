package api

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/audit"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// AuditServer reads the audit trail for QA (one call's records), a SIEM (following the
// whole trail) and operators. It reads what hushd appends, through the log's index, and
// never writes but the audit records of its own use.
type AuditServer struct {
	hushv1.UnimplementedAuditServiceServer
	log  *audit.Log    // nil when the audit log is off, or in servers given only a file
	file string        // "" when the audit log is off
	aud  audit.Auditor // records who read
	stop <-chan struct{}
}

// watchBatch is how many records a follower is sent per read of the log.
const watchBatch = 256

// maxBacklog bounds WatchAuditRecordsRequest.backlog.
const maxBacklog = 1000

// auditFilter validates the filter fields common to List and Watch.
func auditFilter(sessionID, callID, agentID, actor, action string) (audit.Filter, error) {
	f := audit.Filter{SessionID: sessionID, CallID: callID, AgentID: agentID, Actor: actor, Action: action}
	for _, c := range []struct{ name, v string }{
		{"session_id", sessionID}, {"call_id", callID}, {"agent_id", agentID}, {"actor", actor}, {"action", action},
	} {
		if err := checkText(c.name, c.v, maxIDLen, false); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (a *AuditServer) ListAuditRecords(ctx context.Context, req *hushv1.ListAuditRecordsRequest) (_ *hushv1.ListAuditRecordsResponse, err error) {
	sessionID := req.GetSessionId()
	defer func() { auditCall(ctx, a.aud, audit.ActionAuditList, sessionID, "", err, "") }()
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, toStatus(err)
	}
	f, err := auditFilter(req.GetSessionId(), req.GetCallId(), req.GetAgentId(), req.GetActor(), req.GetAction())
	if err != nil {
		sessionID = "" // never written back: it could be anything a caller typed
		return nil, toStatus(err)
	}
	for _, t := range []struct {
		name string
		v    *timestamppb.Timestamp
		dst  *time.Time
	}{{"start_time", req.GetStartTime(), &f.Since}, {"end_time", req.GetEndTime(), &f.Until}} {
		if t.v == nil {
			continue
		}
		if err := t.v.CheckValid(); err != nil {
			return nil, toStatus(invalidf("%s is not a valid time", t.name))
		}
		*t.dst = t.v.AsTime()
	}
	// The page token is the seq of the last record of the previous page.
	if t := req.GetPageToken(); t != "" {
		if f.After, err = strconv.ParseUint(t, 10, 64); err != nil {
			return nil, toStatus(invalidf("page_token is not one this server issued"))
		}
	}
	f.Limit = n
	out := &hushv1.ListAuditRecordsResponse{}
	var recs []audit.Record
	var more bool
	switch {
	case a.log != nil:
		recs, more, _, err = a.log.Query(f)
	case a.file != "":
		recs, more, _, err = audit.Query(a.file, f)
	default:
		return out, nil
	}
	if err != nil {
		return nil, status.Error(codes.Internal, "cannot read the audit log")
	}
	for i := range recs {
		out.Records = append(out.Records, auditRecordPB(&recs[i]))
	}
	if more && len(recs) > 0 {
		out.NextPageToken = strconv.FormatUint(recs[len(recs)-1].Seq, 10)
	}
	return out, nil
}

func auditRecordPB(r *audit.Record) *hushv1.AuditRecord {
	return &hushv1.AuditRecord{
		Seq: r.Seq, Time: ts(r.Time), Actor: r.Actor, Role: r.Role, Action: r.Action,
		SessionId: r.SessionID, CallId: r.CallID, AgentId: r.AgentID, RequestId: r.RequestID,
		Outcome: r.Outcome, Detail: r.Detail, Hash: r.Hash,
	}
}

// WatchAuditRecords sends the matching records from start_seq (or the last `backlog`),
// then each new one as it is written. A follower that falls behind reads on from the file
// through the index; it is never cut off for being slow, and never holds up a writer.
func (a *AuditServer) WatchAuditRecords(req *hushv1.WatchAuditRecordsRequest, stream hushv1.AuditService_WatchAuditRecordsServer) (err error) {
	ctx := stream.Context()
	sent := 0
	sessionID := req.GetSessionId()
	defer func() {
		auditCall(ctx, a.aud, audit.ActionAuditWatch, sessionID, "", err, fmt.Sprintf("%d records sent", sent))
	}()
	f, err := auditFilter(req.GetSessionId(), req.GetCallId(), req.GetAgentId(), req.GetActor(), req.GetAction())
	if err != nil {
		sessionID = ""
		return toStatus(err)
	}
	if b := req.GetBacklog(); b < 0 || b > maxBacklog {
		return toStatus(invalidf("backlog must be between 0 and %d", maxBacklog))
	}
	if a.log == nil {
		return status.Error(codes.FailedPrecondition, "the audit log is off (audit.file is empty)")
	}
	send := func(recs []audit.Record) error {
		for i := range recs {
			if err := stream.Send(auditRecordPB(&recs[i])); err != nil {
				return err
			}
			sent++
			f.After = recs[i].Seq
		}
		return nil
	}
	if s := req.GetStartSeq(); s > 0 {
		f.After = s - 1
	} else {
		// The last `backlog` records up to the head, then everything after it.
		head, _ := a.log.Head()
		last, err := a.log.Last(f, int(req.GetBacklog()))
		if err != nil {
			return status.Error(codes.Internal, "cannot read the audit log")
		}
		for len(last) > 0 && last[len(last)-1].Seq > head {
			last = last[:len(last)-1]
		}
		if err := send(last); err != nil {
			return err
		}
		f.After = head
	}
	f.Limit = watchBatch
	for {
		changed := a.log.Changed()
		recs, more, _, err := a.log.Query(f)
		if err != nil {
			if a.log.Closed() {
				return status.Error(codes.Unavailable, "hushd is stopping; resume from the last seq + 1")
			}
			return status.Error(codes.Internal, "cannot read the audit log")
		}
		if err := send(recs); err != nil {
			return err
		}
		if more {
			continue
		}
		select {
		case <-changed:
			if a.log.Closed() {
				return status.Error(codes.Unavailable, "hushd is stopping; resume from the last seq + 1")
			}
		case <-a.stop:
			return status.Error(codes.Unavailable, "hushd is stopping; resume from the last seq + 1")
		case <-ctx.Done():
			return toStatus(ctx.Err())
		}
	}
}
