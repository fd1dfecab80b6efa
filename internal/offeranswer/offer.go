package offeranswer

import (
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/srtp"
)

// Offer handles an SDP offer from the party tagged FromTag: the first one creates the
// call's session, later ones (re-INVITE, UPDATE: hold, codec change, a new port, from
// either party) update it. The result's SDP is the offer rewritten for the recipient.
// A failed first offer leaves no session behind.
func (e *Engine) Offer(req Request) (Result, error) {
	res, err := e.offer(req)
	if err != nil {
		e.failures.Add(1)
	}
	return res, err
}

func (e *Engine) offer(req Request) (Result, error) {
	if err := checkID("call-id", req.CallID, true); err != nil {
		return Result{}, err
	}
	if err := checkID("from-tag", req.FromTag, true); err != nil {
		return Result{}, err
	}
	if err := checkID("to-tag", req.ToTag, false); err != nil {
		return Result{}, err
	}
	desc, err := sdp.Parse(req.SDP)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	e.offers.Add(1)
	c, fresh := e.acquire(req.CallID, true)
	if c == nil {
		return Result{}, fmt.Errorf("%w: the call changed under this request; retry", ErrUnknownCall)
	}
	defer c.mu.Unlock()
	c.signal = e.cfg.Now()
	if fresh {
		res, err := e.firstOffer(c, desc, &req)
		if err != nil {
			e.dropLocked(c)
		}
		return res, err
	}
	return e.reOffer(c, desc, &req)
}

// senderLeg is the leg of the party that sends the first offer. That party is the callee
// when the offer carries a to-tag (a late offer, in the 200 to an INVITE without SDP).
func (e *Engine) senderLeg(o *Options, toTag string) session.Leg {
	senderIsCaller := toTag == ""
	customerIsSender := senderIsCaller != e.cfg.CustomerAnswers
	switch o.Customer {
	case PartyCaller:
		customerIsSender = senderIsCaller
	case PartyCallee:
		customerIsSender = !senderIsCaller
	case PartySender:
		customerIsSender = true
	case PartyRecipient:
		customerIsSender = false
	}
	if customerIsSender {
		return session.Customer
	}
	return session.Agent
}

func (e *Engine) firstOffer(c *call, desc *sdp.Description, req *Request) (Result, error) {
	main, err := mainAudio(desc)
	if err != nil {
		return Result{}, err
	}
	m := &desc.Media[main]
	if err := checkAudio(m); err != nil {
		return Result{}, err
	}
	rtp, rtcp, _, warns, err := e.remote(m, &req.Options)
	if err != nil {
		return Result{}, err
	}
	from := e.senderLeg(&req.Options, req.ToTag)
	peer := other(from)
	c.main = main
	c.codecs[from] = m.Codecs
	keys, proto, err := e.negotiateOffer(c, m, &req.Options, from)
	if err != nil {
		return Result{}, err
	}

	// The recipient has not answered: until it does it sends with the offer's payload
	// types, and its leg latches to its first packet (the answer then sets the address).
	// Offered SRTP, it has no keys yet: nothing passes to or from it until the answer.
	var legs [2]session.LegSpec
	legs[from] = session.LegSpec{Remote: rtp, RemoteRTCP: rtcp, Codecs: maps.Clone(m.Codecs), TelephoneEventPT: eventPT(m.Codecs), SRTP: keys}
	legs[peer] = session.LegSpec{Codecs: maps.Clone(m.Codecs), TelephoneEventPT: eventPT(m.Codecs)}
	if isSecure(proto) {
		legs[peer].SRTP = &srtp.Keys{}
	}

	p := e.cfg.Registry.Defaults()
	if req.Policy != nil {
		p = *req.Policy
	}
	applyMasks(&p, &req.Options, from)
	if req.Record != nil {
		p.Recording.Off = !*req.Record
	}
	c.idle = p.IdleTimeout
	if e.cfg.OfferTimeout > p.IdleTimeout {
		p.IdleTimeout = e.cfg.OfferTimeout
	}
	labels := maps.Clone(req.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["sip.from_tag"] = req.FromTag
	info, err := e.cfg.Registry.Create(session.Spec{
		CallID: req.CallID, RequestID: req.RequestID, Caller: req.Caller, Digest: req.Digest, AgentID: req.AgentID,
		Customer: legs[session.Customer], Agent: legs[session.Agent], Policy: p, Labels: labels, Actor: req.Actor,
	})
	if err != nil {
		return Result{}, err
	}
	c.sessionID = info.ID
	if req.Record != nil && *req.Record && info.Recording.State == session.RecordingStopped {
		warns = append(warns, "recording asked for, but this hushd records nothing (recording.enabled)")
	}
	c.tag(req.FromTag, from)
	c.label(from, &req.Options)
	if req.ToTag != "" { // a late offer (or an in-dialog offer for a call hush did not see begin)
		c.tag(req.ToTag, peer)
	}
	if warn := e.capture(info.ID, req); warn != "" {
		warns = append(warns, warn)
	}
	out, w, err := e.rewriteOffer(c, desc, req, from, info, p.StrictSource, proto)
	warns = append(warns, w...)
	if err != nil {
		_, _ = e.cfg.Registry.Delete(info.ID, session.Request{}, req.Actor)
		return Result{}, err
	}
	if info, err = e.cfg.Registry.Get(info.ID); err != nil {
		return Result{}, err
	}
	e.log.Info("sip call offered", "session_id", info.ID, "call_id", req.CallID, "offerer", from.String())
	return Result{SDP: out, Session: info, Warnings: warns, Created: true}, nil
}

func (c *call) tag(tag string, l session.Leg) {
	if _, ok := c.tags[tag]; !ok {
		c.order = append(c.order, tag)
	}
	c.tags[tag] = l
}

// applyMasks sets the masking modes a request asked for; sender is the leg of the party
// that sent the SDP.
func applyMasks(p *session.Policy, o *Options, sender session.Leg) {
	if o.MaskSender != nil {
		if sender == session.Customer {
			p.CustomerToAgent.Mode = *o.MaskSender
		} else {
			p.AgentToCustomer.Mode = *o.MaskSender
		}
	}
	if o.MaskToAgent != nil {
		p.CustomerToAgent.Mode = *o.MaskToAgent
	}
	if o.MaskToCustomer != nil {
		p.AgentToCustomer.Mode = *o.MaskToCustomer
	}
}

// checkRecording refuses, before anything changes, a later offer or answer that asks a
// recorded call not to be recorded: what was recorded stays, and stop recording pauses.
func checkRecording(p session.Policy, o *Options) error {
	if o.Record != nil && !*o.Record && !p.Recording.Off {
		return fmt.Errorf("%w: the call is recorded; record-call cannot undo that (stop recording pauses it)", session.ErrFailedPrecondition)
	}
	return nil
}

// laterRecording starts recording a call that runs unrecorded when a later offer or answer
// asks for it (record-call), as rtpengine does: from then on. It returns a warning for a
// hushd that records nothing.
func (e *Engine) laterRecording(info session.Info, req *Request) string {
	if req.Record == nil || !*req.Record || !info.Policy.Recording.Off {
		return ""
	}
	_, err := e.cfg.Registry.StartRecording(info.ID, req.Actor, session.Request{}, "record-call")
	if errors.Is(err, session.ErrFailedPrecondition) {
		return "recording asked for, but this hushd records nothing (recording.enabled)"
	}
	if err != nil {
		return "recording not started: " + err.Error()
	}
	return ""
}

// rewriteOffer relays or refuses each m= line of an offer from leg from and writes the
// body for the recipient: the call's audio at the recipient's leg, extra streams at their
// own relays or refused.
func (e *Engine) rewriteOffer(c *call, desc *sdp.Description, req *Request, from session.Leg, info session.Info, strict bool, proto string) ([]byte, []string, error) {
	peer := other(from)
	var warns []string
	eps := make([]sdp.Endpoint, len(desc.Media))
	for i := range desc.Media {
		m := &desc.Media[i]
		c.kinds[i], c.protos[i] = m.Type, m.Proto
		if i == c.main {
			continue
		}
		x := c.extras[i]
		if m.Port == 0 {
			if x != nil {
				_ = x.media.Close()
				delete(c.extras, i)
			}
			continue
		}
		if ok, why := e.extraOK(m, &req.Options); !ok {
			if x != nil {
				_ = x.media.Close()
				delete(c.extras, i)
			}
			warns = append(warns, "m= line "+strconv.Itoa(i+1)+" ("+m.Type+") refused: "+why)
			continue
		}
		if x == nil {
			var legs [2]session.LegSpec
			legs[from].Remote = e.extraRemote(m)
			nx, err := e.openExtra(c.sessionID, i, strict, legs)
			if err != nil {
				warns = append(warns, "m= line "+strconv.Itoa(i+1)+" ("+m.Type+") refused: "+err.Error())
				continue
			}
			c.extras[i], x = nx, nx
		} else if !m.Held() {
			spec := x.legs[from]
			spec.Remote = e.extraRemote(m)
			if err := x.media.SetLeg(from, spec); err == nil {
				x.legs[from] = spec
			}
		}
		rtp, rtcp := x.media.Local(peer)
		eps[i] = sdp.Endpoint{Port: rtp.Port(), RTCPPort: rtcp.Port()}
	}

	// rtcp-mux (RFC 5761): what the sender offered, and what hush offers the recipient.
	m := &desc.Media[c.main]
	st := &offerState{from: from, desc: desc, mux: req.Mux, senderMux: m.RTCPMux}
	st.peerMux = m.RTCPMux && req.Mux != MuxDemux && req.Mux != MuxReject || req.Mux == MuxOffer
	local := info.Leg(peer)
	eps[c.main] = sdp.Endpoint{Port: local.Local.Port(), RTCPPort: local.LocalRTCP.Port(), RTCPMux: muxAttr(m.RTCPMux, st.peerMux),
		Proto: proto, Crypto: cryptoValues(c.sdes[peer].offered)}
	c.last[from] = m.Remote()

	out, err := desc.Marshal(sdp.Rewrite{Addr: e.cfg.Addr, Media: eps, StripICE: true, StripDTLS: true, Origin: req.Origin,
		ZeroAddress: req.ZeroAddress, RTCP: req.RTCP})
	if err != nil {
		return nil, warns, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	if hasICE(desc) && !req.RemoveICE {
		warns = append(warns, "ICE removed: hush is no ICE agent, and a candidate left in place would let media bypass it")
	}
	c.offer = st
	return out, warns, nil
}

func hasICE(d *sdp.Description) bool {
	for i := range d.Media {
		if d.Media[i].ICE {
			return true
		}
	}
	return false
}

// reOffer handles an offer on a call that has a session: from either party, in dialog.
func (e *Engine) reOffer(c *call, desc *sdp.Description, req *Request) (Result, error) {
	from, known := c.tags[req.FromTag]
	if !known {
		// A party hush knows under another tag (say, after a transfer) sends in dialog.
		to, toKnown := c.tags[req.ToTag]
		if req.ToTag == "" || !toKnown {
			return Result{}, fmt.Errorf("%w: the call-id has a session, and this from-tag is none of its parties'", ErrUnknownTag)
		}
		from = other(to)
	}
	if c.main >= len(desc.Media) || desc.Media[c.main].Type != "audio" {
		return Result{}, fmt.Errorf("%w: the call's audio is no longer m= line %d", ErrMismatch, c.main+1)
	}
	m := &desc.Media[c.main]
	if err := checkAudio(m); err != nil {
		return Result{}, err
	}
	rtp, rtcp, keep, warns, err := e.remote(m, &req.Options)
	if err != nil {
		return Result{}, err
	}
	keys, proto, err := e.negotiateOffer(c, m, &req.Options, from)
	if err != nil {
		return Result{}, err
	}
	if !known {
		c.tag(req.FromTag, from)
	}
	c.label(from, &req.Options)
	info, err := e.cfg.Registry.Get(c.sessionID)
	if err != nil {
		return Result{}, err
	}
	c.codecs[from] = m.Codecs
	u := session.Update{RequestID: req.RequestID, Caller: req.Caller, Digest: req.Digest, Actor: req.Actor}
	lu := &session.LegUpdate{Codecs: mergeCodecs(m.Codecs, c.codecs[other(from)])}
	pt := eventPT(m.Codecs)
	lu.TelephoneEventPT = &pt
	lu.SetSRTP, lu.SRTP = true, keys
	if !keep {
		lu.Remote, lu.RemoteRTCP = &rtp, &rtcp
	}
	setLeg(&u, from, lu)
	if err := checkRecording(info.Policy, &req.Options); err != nil {
		return Result{}, err
	}
	if p := info.Policy; req.MaskToAgent != nil || req.MaskToCustomer != nil || req.MaskSender != nil {
		applyMasks(&p, &req.Options, from)
		if p != info.Policy {
			u.Policy = &p
		}
	}
	if info, err = e.cfg.Registry.Update(c.sessionID, u); err != nil {
		return Result{}, err
	}
	if warn := e.capture(c.sessionID, req); warn != "" {
		warns = append(warns, warn)
	}
	if warn := e.laterRecording(info, req); warn != "" {
		warns = append(warns, warn)
	}
	out, w, err := e.rewriteOffer(c, desc, req, from, info, info.Policy.StrictSource, proto)
	warns = append(warns, w...)
	if err != nil {
		return Result{}, err
	}
	if info, err = e.cfg.Registry.Get(c.sessionID); err != nil {
		return Result{}, err
	}
	return Result{SDP: out, Session: info, Warnings: warns}, nil
}

// negotiateOffer is SDES for an offer from leg from: the sender's keys (nil: plain RTP),
// and the transport hush offers the recipient with, for SRTP, hush's a=crypto lines
// (c.sdes[peer].offered).
func (e *Engine) negotiateOffer(c *call, m *sdp.Media, o *Options, from session.Leg) (*srtp.Keys, string, error) {
	keys, err := senderKeys(m, &o.SDES, &c.sdes[from])
	if err != nil {
		return nil, "", err
	}
	proto, err := targetProto(m, o.Transport, &o.SDES)
	if err != nil {
		return nil, "", err
	}
	peer := &c.sdes[other(from)]
	peer.offered = nil
	if isSecure(proto) {
		if _, err := offerCrypto(m, &o.SDES, peer); err != nil {
			return nil, "", err
		}
	}
	return keys, proto, nil
}

func setLeg(u *session.Update, l session.Leg, lu *session.LegUpdate) {
	if l == session.Agent {
		u.Agent = lu
	} else {
		u.Customer = lu
	}
}

// capture starts or stops secure capture as a request asked; it returns a warning when
// that failed (the offer or answer itself stands).
func (e *Engine) capture(sessionID string, req *Request) string {
	if req.Capture == nil {
		return ""
	}
	var err error
	if *req.Capture {
		_, err = e.cfg.Registry.StartCapture(sessionID, session.CaptureOptions{RequestID: req.RequestID, Caller: req.Caller, Digest: req.Digest, Actor: req.Actor})
	} else {
		_, err = e.cfg.Registry.StopCapture(sessionID, req.request(), req.Actor)
	}
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		return "secure capture not changed: " + err.Error()
	}
	return ""
}
