package audit

import (
	"context"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/media/pan"
)

// Actions: what the API records.
const (
	ActionSessionCreate   = "session.create"
	ActionSessionUpdate   = "session.update"
	ActionSessionDelete   = "session.delete"
	ActionPause           = "recording.pause"
	ActionResume          = "recording.resume"
	ActionCaptureStart    = "capture.start"
	ActionCaptureStop     = "capture.stop"
	ActionDTMFPlay        = "dtmf.play"      // detail: toward whom and how long, never the key
	ActionDigitsDeliver   = "digits.deliver" // detail: count only, never the digits
	ActionDigitsCollect   = "digits.collect" // one per CollectDigits attempt, allowed or refused
	ActionRecordingList   = "recording.list"
	ActionRecordingGet    = "recording.get"
	ActionRecordingFetch  = "recording.download"
	ActionRecordingErase  = "recording.erase"  // detail: where it was removed from
	ActionRecordingHold   = "recording.hold"   // a legal hold placed or lifted
	ActionRecordingExpire = "recording.expire" // deleted at the end of its retention
	ActionAuditList       = "audit.list"       // someone read audit records
	ActionDrain           = "admin.drain"
	ActionAuthDenied      = "auth.denied"
	ActionAuthRevoked     = "auth.revoked"     // an open stream ended: its credential was revoked
	ActionAuditWatch      = "audit.watch"      // a follower of the audit trail (WatchAuditRecords) stopped
	ActionSuspicious      = "agent.suspicious" // agent-activity monitoring flagged something (by hushd)
	ActionDiagnose        = "admin.diagnose"   // hushctl doctor read the server's checks
)

// Auditor is what API handlers call. Actor and role come from the auth
// Identity in ctx. outcome is the gRPC code name of the result
// (status.Code(err).String(): "OK", "NotFound", ...).
type Auditor interface {
	Record(ctx context.Context, action, sessionID, requestID, outcome, detail string) error
}

// maxDetail bounds the detail Recorder writes, keeping lines well under MaxLine.
const maxDetail = 1024

// Recorder is the Auditor over a Log. A nil Log records nothing (audit.file
// ""). Card-like numbers in any field are blanked (pan.Scrub, the rule
// every writer of hush uses) rather than refused, so an odd request id never
// costs an audit record; Append itself refuses digit runs, as a second line
// of defence.
type Recorder struct {
	log *Log
	// OnError, if set, hears about records that could not be written
	// (hushd logs them and counts them).
	OnError func(error)
	// Session, if set, names a session's call and agent, so that every record of a
	// session can be found by either (QueryFilter.CallID, AgentID). ok is false for a
	// session it does not know (any more).
	Session func(id string) (callID, agentID string, ok bool)
}

// NewRecorder returns a Recorder writing to l (nil: discard).
func NewRecorder(l *Log, onError func(error)) *Recorder {
	return &Recorder{log: l, OnError: onError}
}

// Nop is an Auditor that records nothing.
var Nop Auditor = NewRecorder(nil, nil)

// Record appends one record attributed to the caller in ctx.
func (r *Recorder) Record(ctx context.Context, action, sessionID, requestID, outcome, detail string) error {
	return r.RecordCall(ctx, action, sessionID, "", requestID, outcome, detail)
}

// RecordCall is Record with the session's call id.
func (r *Recorder) RecordCall(ctx context.Context, action, sessionID, callID, requestID, outcome, detail string) error {
	id, _ := auth.FromContext(ctx)
	rec := Record{Actor: actor(id), Role: string(id.Role), Action: action, SessionID: sessionID,
		CallID: callID, RequestID: requestID, Outcome: outcome, Detail: detail}
	if r != nil && r.Session != nil && sessionID != "" {
		if c, a, ok := r.Session(sessionID); ok {
			if rec.CallID == "" {
				rec.CallID = c
			}
			rec.AgentID = a
		}
	}
	if rec.AgentID == "" && id.Role == auth.RoleAgent {
		rec.AgentID = id.AgentID
	}
	return r.append(rec)
}

// System appends a record hushd makes of its own accord (actor "hushd"), such as a flag
// of agent-activity monitoring. Its fields are scrubbed as every record's are.
func (r *Recorder) System(rec Record) error {
	rec.Actor, rec.Role = "hushd", ""
	return r.append(rec)
}

// Denied records a refused call; its signature is auth.DeniedFunc, so it
// plugs into auth.Options.OnDenied. The peer address goes in the detail.
func (r *Recorder) Denied(ctx context.Context, fullMethod string, id auth.Identity, code codes.Code, reason string) {
	detail := fullMethod + ": " + reason
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		detail += " (peer " + p.Addr.String() + ")"
	}
	_ = r.append(Record{Actor: actor(id), Role: string(id.Role), Action: ActionAuthDenied,
		Outcome: code.String(), Detail: detail})
}

// Revoked records an open stream ended because its credential no longer holds; its
// signature is auth.DeniedFunc, for auth.Options.OnRevoked.
func (r *Recorder) Revoked(ctx context.Context, fullMethod string, id auth.Identity, code codes.Code, reason string) {
	detail := fullMethod + ": " + reason
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		detail += " (peer " + p.Addr.String() + ")"
	}
	_ = r.append(Record{Actor: actor(id), Role: string(id.Role), Action: ActionAuthRevoked,
		Outcome: code.String(), Detail: detail})
}

func (r *Recorder) append(rec Record) error {
	if r == nil || r.log == nil {
		return nil
	}
	for _, f := range []*string{&rec.Actor, &rec.Role, &rec.Action, &rec.SessionID, &rec.CallID,
		&rec.AgentID, &rec.RequestID, &rec.Outcome, &rec.Detail} {
		*f = pan.Scrub(strings.ToValidUTF8(*f, "\uFFFD"))
	}
	if len(rec.Detail) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(rec.Detail[cut]) {
			cut--
		}
		rec.Detail = rec.Detail[:cut] + "..."
	}
	_, err := r.log.Append(rec)
	if err != nil && r.OnError != nil {
		r.OnError(err)
	}
	return err
}

func actor(id auth.Identity) string {
	if id.Subject == "" {
		return "unauthenticated"
	}
	return id.Subject
}
