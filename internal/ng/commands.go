package ng

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/session"
)

// dispatch runs one request's command.
func (s *Server) dispatch(r *request) (map[string]any, error) {
	if _, ok := r.keys["command"]; !ok || r.raw == "" {
		r.command = "unknown"
		return nil, ErrNoCommand
	}
	a, known := commandRules[r.command]
	if !known {
		r.command = "unknown"
		return nil, fmt.Errorf("%w %q", ErrUnknownCommand, printable(r.raw))
	}
	s.cmds.add(r.command)
	if a == refuse {
		return nil, fmt.Errorf("%w: command %q", ErrUnsupported, r.command)
	}
	if rf, ok := r.keys["rtpp flags"]; ok {
		str, ok := rf.(string)
		if !ok {
			return nil, fmt.Errorf("%w: rtpp_flags must be a string", ErrField)
		}
		if err := r.mergeRTPPFlags(str); err != nil {
			return nil, err
		}
	}
	if err := r.checkRules(); err != nil {
		return nil, err
	}
	var out map[string]any
	var err error
	switch r.command {
	case "ping":
		return map[string]any{"result": "pong"}, nil
	case "offer", "answer":
		out, err = s.offerAnswer(r)
	case "delete":
		out, err = s.delete(r)
	case "query":
		out, err = s.query(r)
	case "list":
		out, err = s.list(r)
	case "statistics":
		out, err = s.statistics()
	case "start recording", "stop recording", "pause recording":
		out, err = s.recording(r)
	case "block dtmf", "unblock dtmf":
		out, err = s.blockDTMF(r)
	case "block media", "unblock media", "silence media", "unsilence media":
		out, err = s.mediaSwitch(r)
	case "play dtmf":
		out, err = s.playDTMF(r)
	default:
		return nil, fmt.Errorf("%w: command %q", ErrUnsupported, r.command)
	}
	if err != nil {
		return nil, err
	}
	if len(r.warns) > 0 {
		out["warning"] = strings.Join(r.warns, "; ")
	}
	return out, nil
}

// actor names an ng client in events and the audit trail.
func (r *request) actor() string { return "ng:" + r.from.Addr().Unmap().String() }

// auditCtx attributes an audit record to an ng client (the platform role: a SIP proxy).
func (r *request) auditCtx() context.Context {
	return auth.NewContext(context.Background(), auth.Identity{Subject: r.actor(), Role: auth.RolePlatform})
}

func (s *Server) audit(r *request, action, sessionID string, err error, detail string) {
	if s.cfg.Auditor == nil {
		return
	}
	outcome := "OK"
	if err != nil {
		outcome = reasonOf(err)
	}
	_ = s.cfg.Auditor.Record(r.auditCtx(), action, sessionID, "", outcome, detail)
}

func (s *Server) offerAnswer(r *request) (map[string]any, error) {
	callID, fromTag, toTag, err := r.ids()
	if err != nil {
		return nil, err
	}
	body, err := r.str("sdp")
	if err != nil {
		return nil, err
	}
	if body == "" {
		return nil, fmt.Errorf("%w: sdp is required", offeranswer.ErrSDP)
	}
	offer := r.command == "offer"
	o, err := s.options(r, offer)
	if err != nil {
		return nil, err
	}
	o.Actor = r.actor()
	req := offeranswer.Request{CallID: callID, FromTag: fromTag, ToTag: toTag, SDP: []byte(body), Options: o}
	action := audit.ActionSessionUpdate
	if _, _, _, perr := s.cfg.Engine.Party(callID, "", ""); offer && errors.Is(perr, offeranswer.ErrUnknownCall) {
		action = audit.ActionSessionCreate
	}
	var res offeranswer.Result
	if offer {
		res, err = s.cfg.Engine.Offer(req)
	} else {
		res, err = s.cfg.Engine.Answer(req)
	}
	s.audit(r, action, res.Session.ID, err, r.command+" call_id="+printable(callID))
	if err != nil {
		if r.supportsLoadLimit() && (errors.Is(err, session.ErrTooManySessions) || errors.Is(err, session.ErrPortsExhausted)) {
			// rtpengine's "load limit" extension: the proxy tries another media relay.
			return map[string]any{"result": "load limit", "message": err.Error()}, nil
		}
		return nil, err
	}
	r.warns = append(r.warns, res.Warnings...)
	// drop-traffic: the call-wide block media switch, from this offer or answer on.
	if dt, _ := r.str("drop traffic"); dt != "" {
		sc := offeranswer.SwitchChange{CallID: callID, Switch: offeranswer.SwitchBlock, On: norm(dt) == "start", Actor: r.actor()}
		_, err := s.cfg.Engine.SetSwitch(sc)
		s.audit(r, audit.ActionSessionUpdate, res.Session.ID, err, r.command+" drop-traffic="+norm(dt))
		if err != nil {
			return nil, err
		}
	}
	return map[string]any{"result": "ok", "sdp": string(res.SDP)}, nil
}

func (r *request) supportsLoadLimit() bool {
	sup, _ := r.strs("supports")
	for _, v := range sup {
		if norm(v) == "load limit" {
			return true
		}
	}
	return false
}

func (s *Server) delete(r *request) (map[string]any, error) {
	callID, _, _, err := r.ids()
	if err != nil {
		return nil, err
	}
	if r.flags["to tag"] {
		r.warn("delete of one to-tag's branch taken as delete of the call: a hush session is the whole call")
	}
	info, err := s.cfg.Engine.Delete(callID, r.actor())
	s.audit(r, audit.ActionSessionDelete, info.ID, err, "delete call_id="+printable(callID))
	if errors.Is(err, offeranswer.ErrUnknownCall) || errors.Is(err, session.ErrNotFound) {
		if r.flags["fatal"] {
			return nil, err
		}
		r.warn("unknown call-id: nothing deleted")
		return map[string]any{"result": "ok"}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]any{"result": "ok"}
	if !r.flags["fast"] {
		out["created"] = info.Created.Unix()
		out["totals"] = totals(&info)
	}
	return out, nil
}

// party resolves the participant a per-party command names: the from-tag with the
// "directional" flag, a label, or an SDP media address. ok is false for the whole call.
func (s *Server) party(r *request, callID string) (sessionID string, leg session.Leg, ok bool, err error) {
	_, fromTag, _, err := r.ids()
	if err != nil {
		return "", 0, false, err
	}
	label, err := r.str("label")
	if err != nil {
		return "", 0, false, err
	}
	if !r.flags["directional"] {
		fromTag = ""
	}
	sessionID, leg, ok, err = s.cfg.Engine.Party(callID, fromTag, label)
	if err != nil || ok {
		return sessionID, leg, ok, err
	}
	if addr, err := r.str("address"); err != nil {
		return "", 0, false, err
	} else if addr != "" {
		ci, err := s.cfg.Engine.Call(callID)
		if err != nil {
			return "", 0, false, err
		}
		for l, ap := range ci.Advertised {
			if ap.Addr().String() == addr {
				return sessionID, session.Leg(l), true, nil
			}
		}
		return "", 0, false, fmt.Errorf("%w: no party of this call has that media address", offeranswer.ErrUnknownTag)
	}
	if fromTag != "" || label != "" {
		return "", 0, false, fmt.Errorf("%w: the tag or label names no party of this call", offeranswer.ErrUnknownTag)
	}
	return sessionID, 0, false, nil
}

// blockDTMF masks (or unmasks) the keys a party sends, or both parties' keys.
func (s *Server) blockDTMF(r *request) (map[string]any, error) {
	callID, _, _, err := r.ids()
	if err != nil {
		return nil, err
	}
	sessionID, leg, one, err := s.party(r, callID)
	if err != nil {
		return nil, err
	}
	mode := session.MaskOff
	if r.command == "block dtmf" {
		mode = session.MaskTone
		if sec, err := r.str("dtmf security"); err != nil {
			return nil, err
		} else if sec != "" {
			if mode, err = maskMode("DTMF-security", sec); err != nil {
				return nil, err
			}
		}
	}
	info, err := s.cfg.Registry.Get(sessionID)
	if err != nil {
		return nil, err
	}
	p := info.Policy
	switch {
	case !one:
		p.CustomerToAgent.Mode, p.AgentToCustomer.Mode = mode, mode
	case leg == session.Customer:
		p.CustomerToAgent.Mode = mode
	default:
		p.AgentToCustomer.Mode = mode
	}
	_, err = s.cfg.Registry.Update(sessionID, session.Update{Policy: &p, Actor: r.actor()})
	s.audit(r, audit.ActionSessionUpdate, sessionID, err, r.command)
	if err != nil {
		return nil, err
	}
	if hc, _ := r.str("hush capture"); hc != "" {
		on := norm(hc) == "start" || norm(hc) == "on"
		action := audit.ActionCaptureStop
		if on {
			_, err = s.cfg.Registry.StartCapture(sessionID, session.CaptureOptions{Actor: r.actor()})
			action = audit.ActionCaptureStart
		} else {
			_, err = s.cfg.Registry.StopCapture(sessionID, session.Request{}, r.actor())
		}
		s.audit(r, action, sessionID, err, r.command)
		if err != nil {
			return nil, err
		}
	}
	return map[string]any{"result": "ok"}, nil
}

// recording maps the recording commands: start records a call not recorded yet (from
// then on) or resumes a paused recording; stop is a pause that leaves the rest out.
func (s *Server) recording(r *request) (map[string]any, error) {
	callID, _, _, err := r.ids()
	if err != nil {
		return nil, err
	}
	sessionID, _, _, err := s.cfg.Engine.Party(callID, "", "")
	if err != nil {
		return nil, err
	}
	actor := r.actor()
	switch r.command {
	case "start recording":
		// Starts recording a call that runs unrecorded, as rtpengine does; resumes a pause.
		_, err = s.cfg.Registry.StartRecording(sessionID, actor, session.Request{}, "ng start recording")
		s.audit(r, audit.ActionResume, sessionID, err, r.command)
	default:
		b := session.PauseSkip
		pause, _ := r.str("pause")
		if r.command == "pause recording" || r.flags["pause"] || norm(pause) == "yes" {
			b = session.PauseSilence
		}
		_, err = s.cfg.Registry.Pause(sessionID, b, actor, session.Request{}, "ng "+r.command)
		s.audit(r, audit.ActionPause, sessionID, err, r.command)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": "ok"}, nil
}
