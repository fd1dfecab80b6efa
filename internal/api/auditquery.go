package api

import (
	"context"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// AuditServer reads the audit log for QA (one call's records) and operators. It is the
// read-only start of the audit API: it reads the file hushd appends to, and never writes.
type AuditServer struct {
	hushv1.UnimplementedAuditServiceServer
	file string // "" when the audit log is off
	aud  audit.Auditor
}

func (a *AuditServer) ListAuditRecords(ctx context.Context, req *hushv1.ListAuditRecordsRequest) (_ *hushv1.ListAuditRecordsResponse, err error) {
	sessionID := req.GetSessionId()
	defer func() { auditCall(ctx, a.aud, audit.ActionAuditList, sessionID, "", err, "") }()
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, toStatus(err)
	}
	if sessionID != "" {
		if err := checkSessionID(sessionID); err != nil {
			sessionID = "" // never written back: it could be anything a caller typed
			return nil, toStatus(err)
		}
	}
	// The page token is the seq of the last record of the previous page.
	var after uint64
	if t := req.GetPageToken(); t != "" {
		if after, err = strconv.ParseUint(t, 10, 64); err != nil {
			return nil, toStatus(invalidf("page_token is not one this server issued"))
		}
	}
	out := &hushv1.ListAuditRecordsResponse{}
	if a.file == "" {
		return out, nil
	}
	recs, more, _, err := audit.Query(a.file, audit.Filter{SessionID: req.GetSessionId(), After: after, Limit: n})
	if err != nil {
		return nil, status.Error(codes.Internal, "cannot read the audit log")
	}
	for _, r := range recs {
		out.Records = append(out.Records, &hushv1.AuditRecord{
			Seq: r.Seq, Time: ts(r.Time), Actor: r.Actor, Role: r.Role, Action: r.Action,
			SessionId: r.SessionID, CallId: r.CallID, RequestId: r.RequestID,
			Outcome: r.Outcome, Detail: r.Detail, Hash: r.Hash,
		})
	}
	if more && len(recs) > 0 {
		out.NextPageToken = strconv.FormatUint(recs[len(recs)-1].Seq, 10)
	}
	return out, nil
}
