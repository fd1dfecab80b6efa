package offeranswer

import (
	"fmt"
	"strconv"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
)

// Answer handles an SDP answer from the party tagged ToTag to the call's last offer:
// early (183) or final (200), from one fork or several (each new to-tag is the same party;
// the latest answer's address wins). The result's SDP is the answer rewritten for the
// offerer.
func (e *Engine) Answer(req Request) (Result, error) {
	res, err := e.answer(req)
	if err != nil {
		e.failures.Add(1)
	}
	return res, err
}

func (e *Engine) answer(req Request) (Result, error) {
	if err := checkID("call-id", req.CallID, true); err != nil {
		return Result{}, err
	}
	if err := checkID("from-tag", req.FromTag, true); err != nil {
		return Result{}, err
	}
	if err := checkID("to-tag", req.ToTag, true); err != nil {
		return Result{}, err
	}
	desc, err := sdp.Parse(req.SDP)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	e.answers.Add(1)
	c, _ := e.acquire(req.CallID, false)
	if c == nil {
		return Result{}, fmt.Errorf("%w: an answer for a call-id hush has seen no offer for", ErrUnknownCall)
	}
	defer c.mu.Unlock()
	c.signal = e.cfg.Now()
	st := c.offer
	if st == nil {
		return Result{}, fmt.Errorf("%w: no offer to answer", ErrUnknownCall)
	}
	to, known := c.tags[req.ToTag]
	if !known {
		if _, ok := c.tags[req.FromTag]; !ok {
			return Result{}, fmt.Errorf("%w: neither tag is a party of this call", ErrUnknownTag)
		}
		to = other(st.from) // a new answer: the first, or another fork's
	}
	if to == st.from {
		return Result{}, fmt.Errorf("%w: the answer comes from the party that offered", ErrUnknownTag)
	}
	if len(desc.Media) != len(st.desc.Media) {
		return Result{}, fmt.Errorf("%w: %d m= lines answer an offer of %d (RFC 3264 section 6)", ErrMismatch, len(desc.Media), len(st.desc.Media))
	}
	m := &desc.Media[c.main]
	if m.Type != "audio" {
		return Result{}, fmt.Errorf("%w: m= line %d answers audio with %s", ErrMismatch, c.main+1, m.Type)
	}
	if err := checkAudio(m); err != nil {
		return Result{}, err
	}
	rtp, rtcp, keep, warns, err := e.remote(m, &req.Options)
	if err != nil {
		return Result{}, err
	}
	toKeys, err := answerKeys(m, &c.sdes[to])
	if err != nil {
		return Result{}, err
	}
	info, err := e.cfg.Registry.Get(c.sessionID)
	if err != nil {
		return Result{}, err
	}
	if !known {
		c.tag(req.ToTag, to)
	}
	c.label(to, &req.Options)
	c.codecs[to] = m.Codecs

	// rtcp-mux: the answerer multiplexes when it answered it to hush's offer of it; the
	// offerer when it offered it and the policy (or the answerer) agrees.
	toMux := m.RTCPMux && st.peerMux
	fromMux := st.senderMux && st.mux != MuxReject && (toMux || st.mux == MuxAccept || st.mux == MuxDemux)
	from := st.from
	u := session.Update{RequestID: req.RequestID, Caller: req.Caller, Digest: req.Digest, Actor: req.Actor}
	toPT, fromPT := eventPT(m.Codecs), eventPT(c.codecs[from])
	toLeg := &session.LegUpdate{Codecs: mergeCodecs(m.Codecs, c.codecs[from]), TelephoneEventPT: &toPT, RTCPMux: &toMux,
		SetSRTP: true, SRTP: toKeys}
	if !keep {
		toLeg.Remote, toLeg.RemoteRTCP = &rtp, &rtcp
	}
	fromLeg := &session.LegUpdate{Codecs: mergeCodecs(c.codecs[from], m.Codecs), TelephoneEventPT: &fromPT, RTCPMux: &fromMux}
	setLeg(&u, to, toLeg)
	setLeg(&u, from, fromLeg)
	if err := checkRecording(info.Policy, &req.Options); err != nil {
		return Result{}, err
	}
	p := info.Policy
	if !c.answered {
		p.IdleTimeout = c.idle // the call is answered: the regular idle timeout applies
	}
	applyMasks(&p, &req.Options, to)
	if p != info.Policy {
		u.Policy = &p
	}
	if info, err = e.cfg.Registry.Update(c.sessionID, u); err != nil {
		return Result{}, err
	}
	c.answered = true
	c.last[to] = m.Remote()
	if warn := e.capture(c.sessionID, &req); warn != "" {
		warns = append(warns, warn)
	}
	if warn := e.laterRecording(info, &req); warn != "" {
		warns = append(warns, warn)
	}

	eps := make([]sdp.Endpoint, len(desc.Media))
	for i := range desc.Media {
		a := &desc.Media[i]
		if i == c.main {
			local := info.Leg(from)
			eps[i] = sdp.Endpoint{Port: local.Local.Port(), RTCPPort: local.LocalRTCP.Port(), RTCPMux: muxAttr(a.RTCPMux, fromMux),
				Proto: c.sdes[from].proto}
			if ans := c.sdes[from].answer; ans != nil {
				eps[i].Crypto = []string{ans.Value()}
			}
			continue
		}
		x := c.extras[i]
		if x == nil {
			if a.Port != 0 {
				warns = append(warns, "m= line "+strconv.Itoa(i+1)+" ("+a.Type+") accepted by the answerer, refused by hush")
			}
			continue
		}
		if a.Port == 0 {
			_ = x.media.Close()
			delete(c.extras, i)
			continue
		}
		if !a.Held() {
			spec := x.legs[to]
			spec.Remote = e.extraRemote(a)
			if err := x.media.SetLeg(to, spec); err == nil {
				x.legs[to] = spec
			}
		}
		rtp, rtcp := x.media.Local(from)
		eps[i] = sdp.Endpoint{Port: rtp.Port(), RTCPPort: rtcp.Port()}
	}
	out, err := desc.Marshal(sdp.Rewrite{Addr: e.cfg.Addr, Media: eps, StripICE: true, StripDTLS: true, Origin: req.Origin,
		ZeroAddress: req.ZeroAddress, RTCP: req.RTCP})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrSDP, err)
	}
	if hasICE(desc) && !req.RemoveICE {
		warns = append(warns, "ICE removed: hush is no ICE agent, and a candidate left in place would let media bypass it")
	}
	if info, err = e.cfg.Registry.Get(c.sessionID); err != nil {
		return Result{}, err
	}
	return Result{SDP: out, Session: info, Warnings: warns}, nil
}
