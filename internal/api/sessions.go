package api

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/pan"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// SessionServer implements hushv1.SessionServiceServer over a session.Registry.
type SessionServer struct {
	hushv1.UnimplementedSessionServiceServer
	reg  *session.Registry
	conv converter
	aud  audit.Auditor
	sip  *offeranswer.Engine // SDP offer/answer; nil: not available
}

func (s *SessionServer) CreateSession(ctx context.Context, req *hushv1.CreateSessionRequest) (out *hushv1.Session, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionSessionCreate, out.GetSessionId(), req.GetRequestId(), err,
			"call_id="+req.GetCallId()+" agent_id="+req.GetAgentId())
	}()
	spec, err := s.createSpec(req)
	if err != nil {
		return nil, toStatus(err)
	}
	spec.Actor = actor(ctx)
	q := request(ctx, req.GetRequestId(), req)
	spec.Caller, spec.Digest = q.Caller, q.Digest
	in, err := s.reg.Create(spec)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

func (s *SessionServer) createSpec(req *hushv1.CreateSessionRequest) (session.Spec, error) {
	var spec session.Spec
	if err := checkText("call_id", req.GetCallId(), maxIDLen, true); err != nil {
		return spec, err
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return spec, err
	}
	if err := checkText("agent_id", req.GetAgentId(), maxIDLen, false); err != nil {
		return spec, err
	}
	if err := checkLabels(req.GetLabels()); err != nil {
		return spec, err
	}
	var err error
	if spec.Customer, err = s.conv.leg("customer", req.GetCustomer()); err != nil {
		return spec, err
	}
	if spec.Agent, err = s.conv.leg("agent", req.GetAgent()); err != nil {
		return spec, err
	}
	if spec.Policy, err = s.conv.policy(req.GetPolicy()); err != nil {
		return spec, err
	}
	spec.CallID, spec.RequestID, spec.AgentID = req.GetCallId(), req.GetRequestId(), req.GetAgentId()
	spec.Labels = req.GetLabels()
	return spec, nil
}

func (s *SessionServer) GetSession(ctx context.Context, req *hushv1.GetSessionRequest) (*hushv1.Session, error) {
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return nil, toStatus(err)
	}
	in, err := s.reg.Get(req.GetSessionId())
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

func (s *SessionServer) ListSessions(ctx context.Context, req *hushv1.ListSessionsRequest) (*hushv1.ListSessionsResponse, error) {
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, toStatus(err)
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("agent_id", req.GetAgentId(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	if err := checkText("call_id", req.GetCallId(), maxIDLen, false); err != nil {
		return nil, toStatus(err)
	}
	page, next, total := s.reg.List(session.ListFilter{
		AgentID: req.GetAgentId(), CallID: req.GetCallId(), PageSize: n, After: after,
	})
	out := &hushv1.ListSessionsResponse{NextPageToken: encodePageToken(next), TotalSize: int32(total)}
	for i := range page {
		out.Sessions = append(out.Sessions, s.conv.sessionPB(&page[i]))
	}
	return out, nil
}

// updatePaths are the update_mask paths UpdateSession supports.
var updatePaths = []string{
	"customer.remote_addr", "customer.expected_ip", "customer.remote_rtcp_addr", "customer.codecs", "customer.telephone_event_pt", "customer.rtcp_mux", "customer.srtp",
	"agent.remote_addr", "agent.expected_ip", "agent.remote_rtcp_addr", "agent.codecs", "agent.telephone_event_pt", "agent.rtcp_mux", "agent.srtp",
	"policy", "policy.customer_to_agent.flow", "policy.agent_to_customer.flow",
}

func (s *SessionServer) UpdateSession(ctx context.Context, req *hushv1.UpdateSessionRequest) (_ *hushv1.Session, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionSessionUpdate, req.GetSessionId(), req.GetRequestId(), err, "")
	}()
	u, err := s.update(req)
	if err != nil {
		return nil, toStatus(err)
	}
	u.Actor = actor(ctx)
	q := request(ctx, req.GetRequestId(), req)
	u.Caller, u.Digest = q.Caller, q.Digest
	in, err := s.reg.Update(req.GetSessionId(), u)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

func (s *SessionServer) update(req *hushv1.UpdateSessionRequest) (session.Update, error) {
	u := session.Update{RequestID: req.GetRequestId()}
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return u, err
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return u, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) > len(updatePaths) {
		return u, invalidf("update_mask has too many paths")
	}
	for _, p := range paths {
		if !slices.Contains(updatePaths, p) {
			return u, invalidf("update_mask path %s cannot be updated; supported: %s", maskPathName(p), strings.Join(updatePaths, ", "))
		}
	}
	// An empty mask means: every field the request sets.
	set := func(p string, present bool) bool {
		if len(paths) == 0 {
			return present
		}
		return slices.Contains(paths, p)
	}
	for _, l := range []struct {
		name string
		leg  *hushv1.Leg
		dst  **session.LegUpdate
	}{{"customer", req.GetCustomer(), &u.Customer}, {"agent", req.GetAgent(), &u.Agent}} {
		spec, err := s.conv.leg(l.name, l.leg)
		if err != nil {
			return u, err
		}
		lu := &session.LegUpdate{}
		touched := false
		if set(l.name+".remote_addr", l.leg.GetRemoteAddr() != "") {
			lu.Remote, touched = &spec.Remote, true
		}
		if set(l.name+".expected_ip", l.leg.GetExpectedIp() != "") {
			lu.ExpectedIP, touched = &spec.ExpectedIP, true
		}
		if set(l.name+".remote_rtcp_addr", l.leg.GetRemoteRtcpAddr() != "") {
			lu.RemoteRTCP, touched = &spec.RemoteRTCP, true
		}
		if set(l.name+".codecs", len(l.leg.GetCodecs()) > 0) {
			lu.Codecs, touched = spec.Codecs, true
			if lu.Codecs == nil {
				lu.Codecs = map[uint8]string{}
			}
		}
		if set(l.name+".telephone_event_pt", l.leg.GetTelephoneEventPt() != 0) {
			lu.TelephoneEventPT, touched = &spec.TelephoneEventPT, true
		}
		if set(l.name+".rtcp_mux", l.leg.GetRtcpMux()) {
			lu.RTCPMux, touched = &spec.RTCPMux, true
		}
		if set(l.name+".srtp", l.leg.GetSrtp() != nil) {
			lu.SetSRTP, lu.SRTP, touched = true, spec.SRTP, true
		}
		if touched {
			*l.dst = lu
		}
	}
	if set("policy", req.GetPolicy() != nil) {
		p, err := s.conv.policy(req.GetPolicy())
		if err != nil {
			return u, err
		}
		u.Policy = &p
	}
	// A direction's flow alone: only when the mask names it (an empty mask sets the
	// whole policy, flows included).
	for d, name := range map[session.Direction]string{session.CustomerToAgent: "customer_to_agent", session.AgentToCustomer: "agent_to_customer"} {
		path := "policy." + name + ".flow"
		if len(paths) == 0 || !slices.Contains(paths, path) {
			continue
		}
		mp := req.GetPolicy().GetCustomerToAgent()
		if d == session.AgentToCustomer {
			mp = req.GetPolicy().GetAgentToCustomer()
		}
		f, err := mediaFlow(path, mp.GetFlow())
		if err != nil {
			return u, err
		}
		u.Flows[d] = &f
	}
	return u, nil
}

func (s *SessionServer) DeleteSession(ctx context.Context, req *hushv1.DeleteSessionRequest) (_ *hushv1.Session, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionSessionDelete, req.GetSessionId(), req.GetRequestId(), err, "")
	}()
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return nil, toStatus(err)
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, toStatus(err)
	}
	in, err := s.reg.Delete(req.GetSessionId(), request(ctx, req.GetRequestId(), req), actor(ctx))
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

func (s *SessionServer) WatchSession(req *hushv1.WatchSessionRequest, stream hushv1.SessionService_WatchSessionServer) error {
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return toStatus(err)
	}
	ctx := stream.Context()
	events, lagged, err := s.reg.Watch(ctx, req.GetSessionId())
	if err != nil {
		return toStatus(err)
	}
	for e := range events {
		if err := stream.Send(s.conv.eventPB(&e)); err != nil {
			return err
		}
	}
	if lagged() {
		return toStatus(session.ErrWatchLagged)
	}
	if err := ctx.Err(); err != nil {
		return toStatus(err)
	}
	return nil
}

func (s *SessionServer) PauseRecording(ctx context.Context, req *hushv1.PauseRecordingRequest) (_ *hushv1.Session, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionPause, req.GetSessionId(), req.GetRequestId(), err, req.GetReason())
	}()
	if err := checkControl(req.GetSessionId(), req.GetRequestId(), req.GetReason()); err != nil {
		return nil, toStatus(err)
	}
	s.noteControl(ctx, req.GetSessionId(), req.GetRequestId())
	var b session.PauseBehavior
	switch req.GetBehavior() {
	case hushv1.PauseBehavior_PAUSE_BEHAVIOR_UNSPECIFIED, hushv1.PauseBehavior_PAUSE_BEHAVIOR_SILENCE:
		b = session.PauseSilence
	case hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP:
		b = session.PauseSkip
	default:
		return nil, toStatus(invalidf("behavior is not a known value"))
	}
	in, err := s.reg.Pause(req.GetSessionId(), b, actor(ctx), request(ctx, req.GetRequestId(), req), req.GetReason())
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

func (s *SessionServer) ResumeRecording(ctx context.Context, req *hushv1.ResumeRecordingRequest) (_ *hushv1.Session, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionResume, req.GetSessionId(), req.GetRequestId(), err, req.GetReason())
	}()
	if err := checkControl(req.GetSessionId(), req.GetRequestId(), req.GetReason()); err != nil {
		return nil, toStatus(err)
	}
	s.noteControl(ctx, req.GetSessionId(), req.GetRequestId())
	// StartRecording resumes a recording the session has and starts one, from now on, on a
	// session created without (ng's "start recording" does the same).
	in, err := s.reg.StartRecording(req.GetSessionId(), actor(ctx), request(ctx, req.GetRequestId(), req), req.GetReason())
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

// checkControl validates the fields every control request has.
func checkControl(sessionID, requestID, reason string) error {
	if err := checkSessionID(sessionID); err != nil {
		return err
	}
	if err := checkRequestID(requestID); err != nil {
		return err
	}
	return checkFreeText("reason", reason, maxReasonLen)
}

func (s *SessionServer) StartSecureCapture(ctx context.Context, req *hushv1.StartSecureCaptureRequest) (_ *hushv1.Session, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionCaptureStart, req.GetSessionId(), req.GetRequestId(), err, "")
	}()
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return nil, toStatus(err)
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, toStatus(err)
	}
	o := session.CaptureOptions{RequestID: req.GetRequestId(), Actor: actor(ctx), MaxDigits: int(req.GetMaxDigits())}
	if req.GetMaxDigits() > 64 {
		return nil, toStatus(invalidf("max_digits must be at most 64"))
	}
	if d := req.GetInterDigitTimeout(); d != nil {
		if d.CheckValid() != nil || d.AsDuration() < time.Second || d.AsDuration() > 10*time.Minute {
			return nil, toStatus(invalidf("inter_digit_timeout must be between 1s and 10m"))
		}
		o.InterDigitTimeout = d.AsDuration()
	}
	q := request(ctx, req.GetRequestId(), req)
	o.Caller, o.Digest = q.Caller, q.Digest
	s.noteControl(ctx, req.GetSessionId(), req.GetRequestId())
	in, err := s.reg.StartCapture(req.GetSessionId(), o)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

func (s *SessionServer) StopSecureCapture(ctx context.Context, req *hushv1.StopSecureCaptureRequest) (_ *hushv1.Session, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionCaptureStop, req.GetSessionId(), req.GetRequestId(), err, "")
	}()
	if err := checkSessionID(req.GetSessionId()); err != nil {
		return nil, toStatus(err)
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, toStatus(err)
	}
	s.noteControl(ctx, req.GetSessionId(), req.GetRequestId())
	in, err := s.reg.StopCapture(req.GetSessionId(), request(ctx, req.GetRequestId(), req), actor(ctx))
	if err != nil {
		return nil, toStatus(err)
	}
	return s.conv.sessionPB(&in), nil
}

// actor names who made a request, for events and the audit trail. Until authentication
// lands it is empty.
func actor(ctx context.Context) string {
	id, _ := auth.FromContext(ctx)
	return id.Subject
}

// maskPathName quotes an update_mask path for an error message when it looks like a field
// path (letters, digits, '_' and '.', bounded) with any card-like digits scrubbed; anything
// else a caller typed is not echoed.
func maskPathName(p string) string {
	if p == "" {
		return `"" (empty)`
	}
	if len(p) > 64 {
		return "(a path longer than 64 bytes)"
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return "(a path that is not a field name)"
		}
	}
	return strconv.Quote(pan.Scrub(p))
}
