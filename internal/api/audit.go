package api

import (
	"context"
	"errors"

	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/session"
)

// auditCall writes the audit record of one call; err is what the handler returns (a status
// error), so the outcome is its code name ("OK", "NotFound", ...). A failed audit write is
// reported by the Recorder's OnError and does not fail the call: the action has happened.
// detail never holds digits (the Recorder blanks 12+ digit runs as a backstop).
func auditCall(ctx context.Context, a audit.Auditor, action, sessionID, requestID string, err error, detail string) {
	if a == nil { // servers built without an auditor (tests)
		return
	}
	if errors.Is(err, session.ErrRequestIDReused) {
		detail = joinDetail("refused: request_id already used for a different request; nothing changed", detail)
	}
	_ = a.Record(ctx, action, sessionID, requestID, status.Code(err).String(), detail)
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}
