package ng

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/session"
)

// block media, silence media and play DTMF: rtpengine's commands that act on what a
// participant's media does, not on SDP.

// commandKeys are keys a command reads beyond the global table (rules.go): handled for
// that command, warned about elsewhere.
var commandKeys = map[string]map[string]bool{
	"play dtmf": {"code": true, "digit": true, "duration": true, "volume": true, "pause": true},
}

// selectParty finds the participant a command names, as rtpengine's media_match does:
// a label, else an SDP media address, else the from-tag (for block and unblock media
// only with the directional flag). one is false for the whole call; all reports the
// all flag or all=all, which skips the selection.
func (s *Server) selectParty(r *request, callID string, directional bool) (sessionID string, leg session.Leg, one, all bool, err error) {
	_, fromTag, _, err := r.ids()
	if err != nil {
		return "", 0, false, false, err
	}
	if callID == "" {
		return "", 0, false, false, fmt.Errorf("%w: call-id is required", offeranswer.ErrInvalid)
	}
	sessionID, _, _, err = s.cfg.Engine.Party(callID, "", "")
	if err != nil {
		return "", 0, false, false, err
	}
	allKey, err := r.str("all")
	if err != nil {
		return "", 0, false, false, err
	}
	if r.flags["all"] || norm(allKey) == "all" {
		return sessionID, 0, false, true, nil
	}
	label, err := r.str("label")
	if err != nil {
		return "", 0, false, false, err
	}
	addr, err := r.str("address")
	if err != nil {
		return "", 0, false, false, err
	}
	switch {
	case label != "":
		_, leg, one, err = s.cfg.Engine.Party(callID, "", label)
		if err == nil && !one {
			err = fmt.Errorf("%w: no participant has that label", offeranswer.ErrUnknownTag)
		}
		return sessionID, leg, one, false, err
	case addr != "":
		a, perr := netip.ParseAddr(addr)
		if perr != nil {
			return "", 0, false, false, fmt.Errorf("%w: address is not an IP literal", ErrField)
		}
		ci, err := s.cfg.Engine.Call(callID)
		if err != nil {
			return "", 0, false, false, err
		}
		for l, ap := range ci.Advertised {
			if ap.Addr().Unmap() == a.Unmap() {
				return sessionID, session.Leg(l), true, false, nil
			}
		}
		return "", 0, false, false, fmt.Errorf("%w: no participant of this call has that media address", offeranswer.ErrUnknownTag)
	case fromTag != "" && (directional || r.flags["directional"]):
		_, leg, one, err = s.cfg.Engine.Party(callID, fromTag, "")
		if err == nil && !one {
			err = fmt.Errorf("%w: the from-tag is no participant of this call", offeranswer.ErrUnknownTag)
		}
		return sessionID, leg, one, false, err
	}
	return sessionID, 0, false, false, nil
}

// mediaSwitch runs block media, unblock media, silence media and unsilence media.
func (s *Server) mediaSwitch(r *request) (map[string]any, error) {
	callID, _, toTag, err := r.ids()
	if err != nil {
		return nil, err
	}
	sc := offeranswer.SwitchChange{CallID: callID, Actor: r.actor(), On: !strings.HasPrefix(r.command, "un")}
	if strings.HasSuffix(r.command, "silence media") {
		sc.Switch = offeranswer.SwitchSilence
	}
	// Only block media's from-tag needs the directional flag (rtpengine's
	// IS_OP_DIRECTIONAL); silence media's selects the party by itself.
	sessionID, leg, one, all, err := s.selectParty(r, callID, sc.Switch == offeranswer.SwitchSilence)
	if err != nil {
		return nil, err
	}
	allKey, _ := r.str("all")
	toLabel, err := r.str("to label")
	if err != nil {
		return nil, err
	}
	switch {
	case all:
		sc.All = true
	case one:
		// A flow toward another participant: in a two-party call, the one flow the
		// selected participant's media takes.
		switch {
		case toTag != "" || toLabel != "":
			_, to, found, err := s.cfg.Engine.Party(callID, toTag, toLabel)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, fmt.Errorf("%w: media flow not found (to-tag or to-label names no participant)", offeranswer.ErrUnknownTag)
			}
			if to == leg {
				return nil, fmt.Errorf("%w: media flow not found (a participant's media does not flow to itself)", offeranswer.ErrUnknownTag)
			}
		case norm(allKey) == "except offer answer":
			return nil, fmt.Errorf("%w: no eligible media subscriptions found: hush's only media flows are the call's offer/answer", offeranswer.ErrUnknownTag)
		}
		sc.Party = &leg
	}
	info, err := s.cfg.Engine.SetSwitch(sc)
	detail := r.command + ":"
	if err == nil {
		for _, d := range []session.Direction{session.CustomerToAgent, session.AgentToCustomer} {
			detail += " " + d.String() + "=" + info.Policy.Mask(d).Flow.String()
		}
	}
	s.audit(r, audit.ActionSessionUpdate, sessionID, err, detail)
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": "ok"}, nil
}

// rtpengine's bounds and defaults of play DTMF (its docs: duration 100-5000 ms, 250 by
// default; pause 100-5000 ms, 100; volume -8 dB).
const (
	keyDefaultDuration = 250 * time.Millisecond
	keyDefaultPause    = 100 * time.Millisecond
	keyMin, keyMax     = 100 * time.Millisecond, 5 * time.Second
	keyDefaultVolume   = 8
)

// keyCode reads play DTMF's code (or digit): an event 0-15 or one key character.
func (r *request) keyCode() (byte, error) {
	for _, k := range []string{"code", "digit"} {
		v, ok := r.keys[k]
		if !ok {
			continue
		}
		switch x := v.(type) {
		case int64:
			if x >= 0 && x < 16 {
				return "0123456789*#ABCD"[x], nil
			}
		case string:
			if len(x) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(x[0])) {
				return strings.ToUpper(x)[0], nil
			}
			if n, err := parseSmall(x); err == nil && n < 16 {
				return "0123456789*#ABCD"[n], nil
			}
		}
		return 0, fmt.Errorf("%w: out of range 'code' specified (0-15 or one of 0-9, *, #, A-D)", ErrField)
	}
	return 0, fmt.Errorf("%w: play DTMF needs code or digit", ErrField)
}

// parseSmall parses a decimal of at most two digits.
func parseSmall(s string) (int, error) {
	if len(s) == 0 || len(s) > 2 {
		return 0, ErrField
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, ErrField
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// keyTime reads a duration in milliseconds, clamped to rtpengine's bounds with a warning.
func (r *request) keyTime(key string, def time.Duration) (time.Duration, error) {
	ms, set, err := r.integer(key)
	if err != nil || !set || ms == 0 {
		return def, err
	}
	d := time.Duration(min(max(ms, -1), 1<<20)) * time.Millisecond
	if d < keyMin || d > keyMax {
		c := min(max(d, keyMin), keyMax)
		r.warn("%s out of range: %v used", key, c)
		return c, nil
	}
	return d, nil
}

// playDTMF plays a key from a participant toward the other (rtpengine: the selected
// participant is the one generating the key).
func (s *Server) playDTMF(r *request) (map[string]any, error) {
	callID, _, _, err := r.ids()
	if err != nil {
		return nil, err
	}
	sessionID, leg, one, all, err := s.selectParty(r, callID, true)
	if err != nil {
		return nil, err
	}
	if !one && !all {
		return nil, fmt.Errorf("%w: no participant party specified (from-tag, label, address or the all flag)", ErrField)
	}
	key, err := r.keyCode()
	if err != nil {
		return nil, err
	}
	k := session.DTMFKey{Key: key, Volume: keyDefaultVolume, Actor: r.actor()}
	if k.Duration, err = r.keyTime("duration", keyDefaultDuration); err != nil {
		return nil, err
	}
	if k.Pause, err = r.keyTime("pause", keyDefaultPause); err != nil {
		return nil, err
	}
	if v, set, err := r.integer("volume"); err != nil {
		return nil, err
	} else if set {
		// rtpengine: 0 is the loudest, a positive volume means a negative one.
		v = min(max(v, -1000), 1000)
		k.Volume = uint8(min(max(v, -v), 63))
	}
	from := []session.Leg{leg}
	if all {
		// Toward the agent first: the one more often refused, before anything plays.
		from = []session.Leg{session.Customer, session.Agent}
	}
	for _, l := range from {
		k.From = l
		_, err = s.cfg.Registry.PlayDTMF(sessionID, k)
		s.audit(r, audit.ActionDTMFPlay, sessionID, err, fmt.Sprintf("play DTMF toward %s, %v", 1-l, k.Duration))
		if err != nil {
			return nil, err
		}
	}
	return map[string]any{"result": "ok"}, nil
}
