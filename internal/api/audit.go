package api

import (
	"context"

	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
)

// auditCall writes the audit record of one call; err is what the handler returns (a status
// error), so the outcome is its code name ("OK", "NotFound", ...). A failed audit write is
// reported by the Recorder's OnError and does not fail the call: the action has happened.
// detail never holds digits (the Recorder blanks 12+ digit runs as a backstop).
func auditCall(ctx context.Context, a audit.Auditor, action, sessionID, requestID string, err error, detail string) {
	if a == nil { // servers built without an auditor (tests)
		return
	}
	_ = a.Record(ctx, action, sessionID, requestID, status.Code(err).String(), detail)
}
