package api

import (
	"context"
	"errors"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/sdp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Offer and Answer give a B2BUA the SDP offer/answer the ng protocol gives Kamailio: the
// same engine, the same sessions.

func (s *SessionServer) Offer(ctx context.Context, req *hushv1.OfferRequest) (out *hushv1.SdpResponse, err error) {
	if s.sip == nil {
		return nil, toStatus(errNoOfferAnswer)
	}
	action := audit.ActionSessionUpdate
	if _, _, _, e := s.sip.Party(req.GetCallId(), "", ""); errors.Is(e, offeranswer.ErrUnknownCall) {
		action = audit.ActionSessionCreate // the first offer of a call creates its session
	}
	defer func() {
		auditCall(ctx, s.aud, action, out.GetSession().GetSessionId(), req.GetRequestId(), err, "offer call_id="+req.GetCallId())
	}()
	r, err := s.offerRequest(req)
	if err != nil {
		return nil, toStatus(err)
	}
	r.Actor = actor(ctx)
	q := request(ctx, req.GetRequestId(), req)
	r.Caller, r.Digest = q.Caller, q.Digest
	res, err := s.sip.Offer(r)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.sdpResponse(&res), nil
}

func (s *SessionServer) offerRequest(req *hushv1.OfferRequest) (offeranswer.Request, error) {
	r := offeranswer.Request{CallID: req.GetCallId(), FromTag: req.GetFromTag(), ToTag: req.GetToTag(), SDP: []byte(req.GetSdp())}
	if err := checkOfferAnswer(req.GetCallId(), req.GetFromTag(), req.GetToTag(), req.GetSdp(), req.GetRequestId(), false); err != nil {
		return r, err
	}
	if err := checkText("agent_id", req.GetAgentId(), maxIDLen, false); err != nil {
		return r, err
	}
	if err := checkLabels(req.GetLabels()); err != nil {
		return r, err
	}
	r.RequestID, r.AgentID, r.Labels = req.GetRequestId(), req.GetAgentId(), req.GetLabels()
	switch req.GetCustomer() {
	case hushv1.CustomerParty_CUSTOMER_PARTY_UNSPECIFIED:
	case hushv1.CustomerParty_CUSTOMER_PARTY_OFFERER:
		r.Customer = offeranswer.PartyCaller
	case hushv1.CustomerParty_CUSTOMER_PARTY_ANSWERER:
		r.Customer = offeranswer.PartyCallee
	default:
		return r, invalidf("customer is not a known value")
	}
	switch req.GetExtraMedia() {
	case hushv1.ExtraMedia_EXTRA_MEDIA_UNSPECIFIED, hushv1.ExtraMedia_EXTRA_MEDIA_REFUSE:
	case hushv1.ExtraMedia_EXTRA_MEDIA_RELAY:
		r.Extra = offeranswer.ExtraRelay
	default:
		return r, invalidf("extra_media is not a known value")
	}
	if req.GetPolicy() != nil {
		p, err := s.conv.policy(req.GetPolicy())
		if err != nil {
			return r, err
		}
		r.Policy = &p
	}
	r.RemoveICE = true // the caller knows hush removes ICE; no warning for it
	return r, nil
}

func (s *SessionServer) Answer(ctx context.Context, req *hushv1.AnswerRequest) (out *hushv1.SdpResponse, err error) {
	defer func() {
		auditCall(ctx, s.aud, audit.ActionSessionUpdate, out.GetSession().GetSessionId(), req.GetRequestId(), err, "answer call_id="+req.GetCallId())
	}()
	if s.sip == nil {
		return nil, toStatus(errNoOfferAnswer)
	}
	if err := checkOfferAnswer(req.GetCallId(), req.GetFromTag(), req.GetToTag(), req.GetSdp(), req.GetRequestId(), true); err != nil {
		return nil, toStatus(err)
	}
	res, err := s.sip.Answer(offeranswer.Request{CallID: req.GetCallId(), FromTag: req.GetFromTag(), ToTag: req.GetToTag(),
		SDP: []byte(req.GetSdp()), Options: offeranswer.Options{RequestID: req.GetRequestId(), Actor: actor(ctx), RemoveICE: true,
			Caller: callerKey(ctx), Digest: digest(req)}})
	if err != nil {
		return nil, toStatus(err)
	}
	return s.sdpResponse(&res), nil
}

func checkOfferAnswer(callID, fromTag, toTag, body, requestID string, answer bool) error {
	if err := checkText("call_id", callID, maxIDLen, true); err != nil {
		return err
	}
	if err := checkText("from_tag", fromTag, maxIDLen, true); err != nil {
		return err
	}
	if err := checkText("to_tag", toTag, maxIDLen, answer); err != nil {
		return err
	}
	if err := checkRequestID(requestID); err != nil {
		return err
	}
	if body == "" || len(body) > sdp.MaxBody {
		return invalidf("sdp must be 1..%d bytes", sdp.MaxBody)
	}
	return nil
}

func (s *SessionServer) sdpResponse(res *offeranswer.Result) *hushv1.SdpResponse {
	return &hushv1.SdpResponse{Sdp: string(res.SDP), Session: s.conv.sessionPB(&res.Session), Warnings: res.Warnings}
}
