package ng

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/srtp"
)

// maskModes maps DTMF-security (and hush's mask keys) onto hush's masking. rtpengine's
// "drop" drops RFC 4733 events; hush masks in-band tones too, with silence. "random",
// "zero" and "DTMF" replace a digit with a digit: refused, since the replacement must
// never decode as a digit.
var maskModes = map[string]session.MaskMode{
	"drop": session.MaskSilence, "silence": session.MaskSilence, "tone": session.MaskTone,
	"comfort noise": session.MaskComfortNoise, "off": session.MaskOff,
}

func maskMode(key, v string) (session.MaskMode, error) {
	switch n := norm(v); n {
	case "random", "zero", "dtmf":
		return 0, fmt.Errorf("%w: %s=%s would replace a digit with a digit", ErrUnsafe, key, n)
	default:
		if m, ok := maskModes[n]; ok {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: %s must be drop, silence, tone, comfort-noise or off", ErrField, key)
}

// checkRules applies the key and flag tables: unknown and unimplemented entries become
// warnings, refused ones an error.
func (r *request) checkRules() error {
	for k := range r.keys {
		if commandKeys[r.command][k] {
			continue
		}
		switch a, ok := keyRules[k]; {
		case !ok:
			r.warn("key %q ignored: not an ng key hush knows", printable(k))
		case a == warn:
			r.warn("key %q ignored: not implemented by hush", k)
		case a == refuse:
			return fmt.Errorf("%w: key %q", ErrUnsupported, k)
		}
	}
	for _, raw := range r.order {
		f := norm(raw)
		a, _, known := flagRule(f)
		switch {
		case !known:
			r.warn("flag %q ignored: not an ng flag hush knows", printable(raw))
		case a == warn:
			r.warn("flag %q ignored: not implemented by hush", printable(raw))
		case a == refuse:
			return fmt.Errorf("%w: flag %q (hush relays plain RTP only)", ErrUnsupported, printable(raw))
		}
	}
	return nil
}

// printable bounds a client's string for a warning.
func printable(s string) string {
	b := make([]byte, 0, min(len(s), 48))
	for i := 0; i < len(s) && len(b) < 48; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' {
			b = append(b, c)
		}
	}
	return string(b)
}

// prefixed returns the values of flags that start with prefix ("sdes " -> "off").
func (r *request) prefixed(prefix string) []string {
	var out []string
	for f := range r.flags {
		if v, ok := strings.CutPrefix(f, prefix); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// listOrFlags returns a list key's values and those of prefix flags, normalized.
func (r *request) listOrFlags(key, prefix string) ([]string, error) {
	vs, err := r.strs(key)
	if err != nil {
		return nil, err
	}
	for i := range vs {
		vs[i] = norm(vs[i])
	}
	return append(vs, r.prefixed(prefix)...), nil
}

// options turns an offer's or answer's keys and flags into offeranswer options.
func (s *Server) options(r *request, offer bool) (offeranswer.Options, error) {
	var o offeranswer.Options
	steps := []func(*request, *offeranswer.Options, bool) error{
		s.addressOptions, sdpOptions, securityOptions, partyOptions, maskOptions, recordOptions,
	}
	for _, step := range steps {
		if err := step(r, &o, offer); err != nil {
			return o, err
		}
	}
	return o, nil
}

// addressOptions: where hush sends the sender's media.
func (s *Server) addressOptions(r *request, o *offeranswer.Options, _ bool) error {
	if r.flags["sip source address"] {
		o.Learning = offeranswer.LearnSource
	}
	if r.flags["media handover"] {
		return fmt.Errorf("%w: media-handover lets any source take over a call's media", ErrUnsafe)
	}
	learn, err := r.str("endpoint learning")
	if err != nil {
		return err
	}
	if p := r.prefixed("endpoint learning "); len(p) > 0 {
		learn = p[0]
	}
	switch norm(learn) {
	case "", "off":
	case "immediate", "delayed", "heuristic":
		o.Learning = offeranswer.LearnLatch
	default:
		return fmt.Errorf("%w: endpoint-learning must be off, immediate, delayed or heuristic", ErrField)
	}
	if rf, err := r.strs("received from"); err != nil {
		return err
	} else if len(rf) == 2 {
		a, err := netip.ParseAddr(rf[1])
		if err != nil {
			return fmt.Errorf("%w: received-from is not [family, IP literal]", ErrField)
		}
		o.Source = a
	} else if len(rf) != 0 {
		return fmt.Errorf("%w: received-from is not [family, IP literal]", ErrField)
	}
	if ma, err := r.str("media address"); err != nil {
		return err
	} else if ma != "" {
		a, err := netip.ParseAddr(ma)
		if err != nil {
			return fmt.Errorf("%w: media-address is not an IP literal", ErrField)
		}
		o.MediaAddr = a
	}
	if af, err := r.str("address family"); err != nil {
		return err
	} else if af != "" {
		want := "IP4"
		if !s.cfg.Engine.Addr().Is4() {
			want = "IP6"
		}
		if !strings.EqualFold(af, want) {
			return fmt.Errorf("%w: address-family %s: hush's media address is %s and hush does not bridge families", ErrUnsupported, printable(af), want)
		}
	}
	return nil
}

// sdpOptions: how the body is rewritten.
func sdpOptions(r *request, o *offeranswer.Options, _ bool) error {
	repl, err := r.listOrFlags("replace", "replace ")
	if err != nil {
		return err
	}
	for _, v := range repl {
		switch v {
		case "origin":
			o.Origin = true
		case "zero address":
			o.ZeroAddress = true
		case "session connection", "session-connection":
			// hush always rewrites the session-level c= line
		default:
			r.warn("replace %q ignored: not implemented by hush", printable(v))
		}
	}
	if r.flags["full rtcp attribute"] {
		o.RTCP = sdp.RTCPFull
	}
	if r.flags["no rtcp attribute"] {
		o.RTCP = sdp.RTCPOmit
	}
	mux, err := r.listOrFlags("rtcp mux", "rtcp mux ")
	if err != nil {
		return err
	}
	for _, v := range mux {
		switch v {
		case "offer":
			o.Mux = offeranswer.MuxOffer
		case "require":
			o.Mux = offeranswer.MuxOffer
			r.warn("rtcp-mux require taken as offer: hush still advertises a separate RTCP port")
		case "accept":
			o.Mux = offeranswer.MuxAccept
		case "demux":
			o.Mux = offeranswer.MuxDemux
		case "reject":
			o.Mux = offeranswer.MuxReject
		default:
			return fmt.Errorf("%w: rtcp-mux must be offer, require, accept, demux or reject", ErrField)
		}
	}
	ice, err := r.listOrFlags("ice", "ice ")
	if err != nil {
		return err
	}
	o.RemoveICE = r.flags["reject ice"]
	for _, v := range ice {
		switch v {
		case "remove":
			o.RemoveICE = true
		case "force relay":
			return fmt.Errorf("%w: ICE=force-relay leaves the parties' addresses in the SDP, so media would bypass hush", ErrUnsafe)
		case "force", "default", "optional", "trickle", "ice2", "lite forward", "lite backward", "lite both", "lite off":
			// hush is no ICE agent: it removes ICE; the engine warns.
		default:
			return fmt.Errorf("%w: ICE value not one of rtpengine's", ErrField)
		}
	}
	tp, err := r.str("transport protocol")
	if err != nil {
		return err
	}
	for _, f := range []string{"rtp/avp", "rtp/avpf", "rtp/savp", "rtp/savpf"} {
		if r.flags[f] {
			tp = f
		}
	}
	if r.flags["srtp"] { // rtpengine's SRTP flag, with AVPF for feedback
		tp = offeranswer.ProtoSAVP
		if r.flags["avpf"] {
			tp = offeranswer.ProtoSAVPF
		}
	}
	switch norm(tp) {
	case "", "accept":
	case "rtp/avp", "rtp/avpf", "rtp/savp", "rtp/savpf":
		o.Transport = strings.ToUpper(norm(tp))
	default:
		return fmt.Errorf("%w: transport-protocol %s: hush relays RTP/AVP, RTP/AVPF, RTP/SAVP and RTP/SAVPF (SDES)", ErrUnsupported, printable(tp))
	}
	return nil
}

// securityOptions: SDES as rtpengine's SDES flags say; DTLS-SRTP may only be turned off;
// OSRTP offers are answered plain.
func securityOptions(r *request, o *offeranswer.Options, _ bool) error {
	for _, k := range []struct{ key, prefix string }{{"dtls", "dtls "}, {"osrtp", "osrtp "}} {
		vs, err := r.listOrFlags(k.key, k.prefix)
		if err != nil {
			return err
		}
		for _, v := range vs {
			switch v {
			case "off", "no", "disable":
			default:
				r.warn("%s %q ignored: hush does SDES-SRTP and plain RTP, not DTLS-SRTP or OSRTP", k.key, printable(v))
			}
		}
	}
	vs, err := r.listOrFlags("sdes", "sdes ")
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := sdesOption(r, &o.SDES, v); err != nil {
			return err
		}
	}
	return nil
}

// sdesOption applies one SDES value (normalized: "no aes cm 128 hmac sha1 32").
func sdesOption(r *request, s *offeranswer.SDES, v string) error {
	list := func(after string) ([]srtp.Suite, error) {
		var out []srtp.Suite
		for _, name := range strings.Split(after, ";") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			su, ok := suiteOf(name)
			if !ok {
				r.warn("SDES suite %q ignored: not one hush supports", printable(name))
				continue
			}
			out = append(out, su)
		}
		return out, nil
	}
	switch {
	case v == "off" || v == "no" || v == "disable":
		s.Off = true
	case v == "nonew":
		s.NoNew = true
	case v == "pad", v == "static", v == "prefer", v == "encrypted srtp", v == "encrypted srtcp", v == "authenticated srtp":
		// hush pads its keys, keeps its keys across re-offers, does no DTLS, and always
		// encrypts and authenticates
	case v == "unencrypted srtp" || v == "unencrypted srtcp" || v == "unauthenticated srtp":
		return fmt.Errorf("%w: SDES %s: hush's SRTP legs are encrypted and authenticated", ErrUnsafe, v)
	case strings.HasPrefix(v, "no "), strings.HasPrefix(v, "only "):
		name, dst := v[3:], &s.No
		if strings.HasPrefix(v, "only ") {
			name, dst = v[5:], &s.Only
		}
		su, err := list(name)
		if err != nil {
			return err
		}
		*dst = append(*dst, su...)
	case strings.HasPrefix(v, "offerer pref:"):
		su, err := list(strings.TrimPrefix(v, "offerer pref:"))
		if err != nil {
			return err
		}
		s.OffererPref = append(s.OffererPref, su...)
	case strings.HasPrefix(v, "order:"):
		su, err := list(strings.TrimPrefix(v, "order:"))
		if err != nil {
			return err
		}
		s.Order = append(s.Order, su...)
	default:
		r.warn("SDES %q ignored: not implemented by hush", printable(v))
	}
	return nil
}

// suiteOf finds a suite by its normalized name ("aes cm 128 hmac sha1 80").
func suiteOf(name string) (srtp.Suite, bool) {
	for _, s := range srtp.Suites() {
		if norm(s.String()) == norm(name) {
			return s, true
		}
	}
	return srtp.SuiteNone, false
}

// partyOptions: which party is the customer, labels, the agent id, extra streams.
func partyOptions(r *request, o *offeranswer.Options, _ bool) error {
	party := func(p offeranswer.Party) error {
		if o.Customer != offeranswer.PartyDefault && o.Customer != p {
			return fmt.Errorf("%w: labels and hush-customer name different parties as the customer", ErrField)
		}
		o.Customer = p
		return nil
	}
	// label names the party whose SDP the message carries (the From tag's in an offer,
	// the To tag's in an answer, as Kamailio sends them), to-label the other.
	for _, k := range []struct {
		key   string
		party [2]offeranswer.Party // customer, agent
	}{
		{"label", [2]offeranswer.Party{offeranswer.PartySender, offeranswer.PartyRecipient}},
		{"from label", [2]offeranswer.Party{offeranswer.PartySender, offeranswer.PartyRecipient}},
		{"to label", [2]offeranswer.Party{offeranswer.PartyRecipient, offeranswer.PartySender}},
	} {
		v, err := r.str(k.key)
		if err != nil {
			return err
		}
		switch norm(v) {
		case "customer":
			if err := party(k.party[0]); err != nil {
				return err
			}
		case "agent":
			if err := party(k.party[1]); err != nil {
				return err
			}
		}
	}
	hc, err := r.str("hush customer")
	if err != nil {
		return err
	}
	switch norm(hc) {
	case "":
	case "caller", "offerer":
		err = party(offeranswer.PartyCaller)
	case "callee", "answerer":
		err = party(offeranswer.PartyCallee)
	case "from":
		err = party(offeranswer.PartySender)
	case "to":
		err = party(offeranswer.PartyRecipient)
	default:
		return fmt.Errorf("%w: hush-customer must be caller, callee, from or to", ErrField)
	}
	if err != nil {
		return err
	}
	if o.Label, err = r.str("label"); err != nil {
		return err
	}
	if fl, err := r.str("from label"); err != nil {
		return err
	} else if fl != "" {
		o.Label = fl
	}
	if o.PeerLabel, err = r.str("to label"); err != nil {
		return err
	}
	if len(o.Label) > 256 || len(o.PeerLabel) > 256 {
		return fmt.Errorf("%w: labels must be at most 256 bytes", ErrField)
	}
	if o.AgentID, err = r.str("hush agent id"); err != nil {
		return err
	}
	if len(o.AgentID) > 256 || strings.ContainsAny(o.AgentID, " \t\r\n") {
		return fmt.Errorf("%w: hush-agent-id must be at most 256 bytes without spaces", ErrField)
	}
	xm, err := r.str("hush extra media")
	if err != nil {
		return err
	}
	switch norm(xm) {
	case "", "refuse":
	case "relay":
		o.Extra = offeranswer.ExtraRelay
	default:
		return fmt.Errorf("%w: hush-extra-media must be refuse or relay", ErrField)
	}
	return nil
}

// maskOptions: DTMF masking and secure capture.
func maskOptions(r *request, o *offeranswer.Options, _ bool) error {
	sec, err := r.str("dtmf security")
	if err != nil {
		return err
	}
	if r.flags["block dtmf"] {
		mode := session.MaskTone
		if sec != "" {
			if mode, err = maskMode("DTMF-security", sec); err != nil {
				return err
			}
		}
		o.MaskSender = &mode
	} else if sec != "" {
		r.warn("DTMF-security without block-DTMF masks nothing")
	}
	for _, k := range []struct {
		key string
		dst **session.MaskMode
	}{{"hush mask to agent", &o.MaskToAgent}, {"hush mask to customer", &o.MaskToCustomer}} {
		v, err := r.str(k.key)
		if err != nil {
			return err
		}
		if v != "" {
			m, err := maskMode(k.key, v)
			if err != nil {
				return err
			}
			*k.dst = &m
		}
	}
	hc, err := r.str("hush capture")
	if err != nil {
		return err
	}
	switch norm(hc) {
	case "":
	case "start", "on":
		on := true
		o.Capture = &on
	case "stop", "off":
		off := false
		o.Capture = &off
	default:
		return fmt.Errorf("%w: hush-capture must be start or stop", ErrField)
	}
	switch dt, err := r.str("drop traffic"); {
	case err != nil:
		return err
	case dt != "" && norm(dt) != "start" && norm(dt) != "stop":
		return fmt.Errorf("%w: drop-traffic must be start or stop", ErrField)
	}
	return nil
}

// recordOptions: recording on or off (the first offer), or started (a later offer or answer).
func recordOptions(r *request, o *offeranswer.Options, _ bool) error {
	set, on, err := r.yes("record call")
	if err != nil {
		return err
	}
	if r.flags["record call"] {
		set, on = true, true
	}
	if r.flags["exclude recording"] {
		set, on = true, false
	}
	if set {
		o.Record = &on
	}
	return nil
}
