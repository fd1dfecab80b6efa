package api

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/pan"
	"github.com/hushmedia/hush/media/srtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// converter holds what proto<->domain conversion needs from the server's configuration.
type converter struct {
	bind      netip.Addr // media sockets' address: remote addresses must be of its family
	advertise netip.Addr // put into local addresses returned to callers
	defaults  session.Policy
	recording bool // sessions can be recorded in this build and configuration
}

func (c *converter) leg(field string, l *hushv1.Leg) (session.LegSpec, error) {
	var s session.LegSpec
	if l == nil {
		return s, nil
	}
	var err error
	if s.Remote, err = c.remote(field+".remote_addr", l.GetRemoteAddr()); err != nil {
		return s, err
	}
	if s.RemoteRTCP, err = c.remote(field+".remote_rtcp_addr", l.GetRemoteRtcpAddr()); err != nil {
		return s, err
	}
	if s.ExpectedIP, err = parseIP(field+".expected_ip", l.GetExpectedIp()); err != nil {
		return s, err
	}
	if s.ExpectedIP.IsValid() {
		if err := c.family(field+".expected_ip", s.ExpectedIP); err != nil {
			return s, err
		}
	}
	if s.Codecs, err = checkCodecs(field+".codecs", l.GetCodecs()); err != nil {
		return s, err
	}
	if s.TelephoneEventPT, err = checkTelephoneEventPT(field+".telephone_event_pt", l.GetTelephoneEventPt()); err != nil {
		return s, err
	}
	if _, clash := s.Codecs[s.TelephoneEventPT]; s.TelephoneEventPT != 0 && clash {
		return s, invalidf("%s.telephone_event_pt is also listed in codecs", field)
	}
	s.RTCPMux = l.GetRtcpMux()
	if s.SRTP, err = srtpKeys(field+".srtp", l.GetSrtp()); err != nil {
		return s, err
	}
	return s, nil
}

// srtpKeys reads a leg's SRTP keys (nil: plain RTP). Both keys are required: hush makes
// its own keys only when it writes the SDP (Offer, Answer, ng). Errors name the field and
// never the key.
func srtpKeys(field string, p *hushv1.Srtp) (*srtp.Keys, error) {
	if p == nil {
		return nil, nil
	}
	suite := srtp.Suite(p.GetSuite())
	if p.GetSuite() == hushv1.SrtpSuite_SRTP_SUITE_UNSPECIFIED || suite.KeyLen() == 0 {
		return nil, invalidf("%s.suite is required and must be a known suite", field)
	}
	var keys srtp.Keys
	for _, k := range []struct {
		name string
		b    []byte
		dst  *srtp.Key
	}{{"remote_key", p.GetRemoteKey(), &keys.Recv}, {"local_key", p.GetLocalKey(), &keys.Send}} {
		if len(k.b) != suite.KeyLen() {
			return nil, invalidf("%s.%s must be the %d octets of %v's master key and salt", field, k.name, suite.KeyLen(), suite)
		}
		key, err := srtp.NewKey(suite, k.b)
		if err != nil {
			return nil, invalidf("%s.%s is not a key of %v", field, k.name, suite)
		}
		*k.dst = key
	}
	if keys.Recv.Equal(keys.Send) {
		// The same key both ways would reuse keystream between the two directions.
		return nil, invalidf("%s: remote_key and local_key must differ", field)
	}
	return &keys, nil
}

// srtpPB is what answers say about a leg's SRTP: the suite and the keys' fingerprints.
func srtpPB(k *srtp.Keys) *hushv1.Srtp {
	if k == nil {
		return nil
	}
	suite := k.Recv.Suite()
	if suite == srtp.SuiteNone {
		suite = k.Send.Suite()
	}
	return &hushv1.Srtp{Suite: hushv1.SrtpSuite(suite), RemoteKeyFingerprint: k.Recv.Fingerprint(),
		LocalKeyFingerprint: k.Send.Fingerprint()}
}

func (c *converter) remote(field, v string) (netip.AddrPort, error) {
	ap, err := parseAddr(field, v)
	if err != nil || !ap.IsValid() {
		return ap, err
	}
	if err := c.family(field, ap.Addr()); err != nil {
		return netip.AddrPort{}, err
	}
	return ap, nil
}

// family refuses an address of another family than the media sockets'.
func (c *converter) family(field string, a netip.Addr) error {
	if a.Is4() != c.bind.Is4() {
		fam := "IPv6"
		if c.bind.Is4() {
			fam = "IPv4"
		}
		return invalidf("%s must be an %s address (media is bound to %s)", field, fam, fam)
	}
	return nil
}

// policy applies a request's policy over the server defaults. Settings that later features
// implement are refused with UNIMPLEMENTED rather than silently ignored: a platform that
// asks for masking must never believe it has it.
func (c *converter) policy(p *hushv1.Policy) (session.Policy, error) {
	out := c.defaults
	if p == nil {
		return out, nil
	}
	var err error
	if out.CustomerToAgent, err = maskPolicy("policy.customer_to_agent", p.GetCustomerToAgent(), out.CustomerToAgent); err != nil {
		return out, err
	}
	if out.AgentToCustomer, err = maskPolicy("policy.agent_to_customer", p.GetAgentToCustomer(), out.AgentToCustomer); err != nil {
		return out, err
	}
	switch p.GetRecording() {
	case hushv1.RecordingMode_RECORDING_MODE_ON:
		if !c.recording {
			return out, fmt.Errorf("%w: policy.recording: recording is disabled or not available here", session.ErrUnsupported)
		}
		out.Recording.Off = false
	case hushv1.RecordingMode_RECORDING_MODE_OFF:
		out.Recording.Off = true
	case hushv1.RecordingMode_RECORDING_MODE_UNSPECIFIED:
	default:
		return out, invalidf("policy.recording is not a known value")
	}
	if p.GetAutoPauseOnDtmf() {
		if !c.recording {
			return out, fmt.Errorf("%w: policy.auto_pause_on_dtmf: recording is disabled or not available here", session.ErrUnsupported)
		}
		out.Recording.AutoPauseOnDTMF = true
	}
	if mp := p.GetMaxPause(); mp != nil {
		if mp.CheckValid() != nil || mp.AsDuration() < 0 || mp.AsDuration() > 24*time.Hour {
			return out, invalidf("policy.max_pause must be between 0s and 24h")
		}
		out.Recording.MaxPause = mp.AsDuration()
	}
	out.Recording.ResumeAfterMaxPause = p.GetResumeAfterMaxPause()
	if rr := p.GetRecordingRetention(); rr != nil {
		if rr.CheckValid() != nil || rr.AsDuration() < 0 || rr.AsDuration() > 100*365*24*time.Hour {
			return out, invalidf("policy.recording_retention must be between 0s and 100 years")
		}
		out.Recording.Retention = rr.AsDuration()
	}
	switch p.GetStrictSource() {
	case hushv1.StrictSource_STRICT_SOURCE_ON:
		out.StrictSource = true
	case hushv1.StrictSource_STRICT_SOURCE_OFF:
		out.StrictSource = false
	case hushv1.StrictSource_STRICT_SOURCE_UNSPECIFIED:
	default:
		return out, invalidf("policy.strict_source is not a known value")
	}
	if d, ok, err := checkIdleTimeout(p.GetIdleTimeout()); err != nil {
		return out, err
	} else if ok {
		out.IdleTimeout = d
	}
	return out, nil
}

// Bounds on masking settings come from the masker: the look-ahead between what its delay
// line holds and a small fraction of a conversational round trip; the tone clear of every
// DTMF frequency.
const (
	minLookAhead = mask.MinLookAhead
	maxLookAhead = mask.MaxLookAhead
)

var maskModes = map[hushv1.MaskMode]session.MaskMode{
	hushv1.MaskMode_MASK_MODE_OFF:           session.MaskOff,
	hushv1.MaskMode_MASK_MODE_SILENCE:       session.MaskSilence,
	hushv1.MaskMode_MASK_MODE_COMFORT_NOISE: session.MaskComfortNoise,
	hushv1.MaskMode_MASK_MODE_TONE:          session.MaskTone,
}

func maskPolicy(field string, mp *hushv1.MaskingPolicy, def session.MaskPolicy) (session.MaskPolicy, error) {
	out := def
	if mp == nil {
		return out, nil
	}
	if mp.GetMode() != hushv1.MaskMode_MASK_MODE_UNSPECIFIED {
		m, ok := maskModes[mp.GetMode()]
		if !ok {
			return out, invalidf("%s.mode is not a known value", field)
		}
		out.Mode = m
	}
	if la := mp.GetLookAhead(); la != nil {
		if la.CheckValid() != nil || la.AsDuration() < minLookAhead || la.AsDuration() > maxLookAhead {
			return out, invalidf("%s.look_ahead must be between %s and %s", field, minLookAhead, maxLookAhead)
		}
		out.LookAhead = la.AsDuration()
	}
	if hz := mp.GetToneHz(); hz != 0 {
		if hz > 1<<16 || mask.CheckToneHz(int(hz)) != nil {
			return out, invalidf("%s.tone_hz must be 100..3400 Hz and not within 5%% of a DTMF frequency", field)
		}
		out.ToneHz = int(hz)
	}
	f, err := mediaFlow(field+".flow", mp.GetFlow())
	if err != nil {
		return out, err
	}
	out.Flow = f
	return out, nil
}

var mediaFlows = map[hushv1.MediaFlow]session.MediaFlow{
	hushv1.MediaFlow_MEDIA_FLOW_UNSPECIFIED: session.FlowForward,
	hushv1.MediaFlow_MEDIA_FLOW_FORWARD:     session.FlowForward,
	hushv1.MediaFlow_MEDIA_FLOW_BLOCK:       session.FlowBlock,
	hushv1.MediaFlow_MEDIA_FLOW_SILENCE:     session.FlowSilence,
}

var mediaFlowsPB = map[session.MediaFlow]hushv1.MediaFlow{
	session.FlowForward: hushv1.MediaFlow_MEDIA_FLOW_FORWARD,
	session.FlowBlock:   hushv1.MediaFlow_MEDIA_FLOW_BLOCK,
	session.FlowSilence: hushv1.MediaFlow_MEDIA_FLOW_SILENCE,
}

func mediaFlow(field string, f hushv1.MediaFlow) (session.MediaFlow, error) {
	v, ok := mediaFlows[f]
	if !ok {
		return 0, invalidf("%s is not a known value", field)
	}
	return v, nil
}

func maskPolicyPB(p session.MaskPolicy) *hushv1.MaskingPolicy {
	out := &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF, ToneHz: uint32(p.ToneHz), Flow: mediaFlowsPB[p.Flow]}
	for k, v := range maskModes {
		if v == p.Mode {
			out.Mode = k
		}
	}
	if p.LookAhead > 0 {
		out.LookAhead = durationpb.New(p.LookAhead)
	}
	return out
}

func (c *converter) local(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	if c.advertise.IsValid() {
		ap = netip.AddrPortFrom(c.advertise, ap.Port())
	}
	return ap.String()
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func addrString(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	return ap.String()
}

func (c *converter) legPB(l *session.LegInfo) *hushv1.Leg {
	out := &hushv1.Leg{
		RemoteAddr:       addrString(l.Remote),
		RemoteRtcpAddr:   addrString(l.RemoteRTCP),
		ExpectedIp:       ipString(l.ExpectedIP),
		TelephoneEventPt: uint32(l.TelephoneEventPT),
		RtcpMux:          l.RTCPMux,
		LocalAddr:        c.local(l.Local),
		LocalRtcpAddr:    c.local(l.LocalRTCP),
		Latched:          l.Latched,
		Stats: &hushv1.LegStats{
			RtpPacketsReceived:  l.Stats.RTPPacketsReceived,
			RtpBytesReceived:    l.Stats.RTPBytesReceived,
			RtpPacketsSent:      l.Stats.RTPPacketsSent,
			RtpBytesSent:        l.Stats.RTPBytesSent,
			RtcpPacketsReceived: l.Stats.RTCPPacketsReceived,
			RtcpPacketsSent:     l.Stats.RTCPPacketsSent,
			PacketsDropped:      l.Stats.PacketsDropped,
			LatchRejected:       l.Stats.LatchRejected,
			SrtpUnauthenticated: l.Stats.SRTPUnauthenticated,
			SrtpReplayed:        l.Stats.SRTPReplayed,
		},
		Srtp: srtpPB(l.SRTP),
	}
	if len(l.Codecs) > 0 {
		out.Codecs = make(map[uint32]string, len(l.Codecs))
		for pt, name := range l.Codecs {
			out.Codecs[uint32(pt)] = name
		}
	}
	return out
}

func policyPB(p session.Policy) *hushv1.Policy {
	recMode := hushv1.RecordingMode_RECORDING_MODE_ON
	if p.Recording.Off {
		recMode = hushv1.RecordingMode_RECORDING_MODE_OFF
	}
	strict := hushv1.StrictSource_STRICT_SOURCE_OFF
	if p.StrictSource {
		strict = hushv1.StrictSource_STRICT_SOURCE_ON
	}
	return &hushv1.Policy{
		CustomerToAgent: maskPolicyPB(p.CustomerToAgent),
		AgentToCustomer: maskPolicyPB(p.AgentToCustomer),
		Recording:       recMode,
		StrictSource:    strict,
		IdleTimeout:     durationpb.New(p.IdleTimeout),
		MaxPause:        durationpb.New(p.Recording.MaxPause),

		ResumeAfterMaxPause: p.Recording.ResumeAfterMaxPause,
		AutoPauseOnDtmf:     p.Recording.AutoPauseOnDTMF,
		RecordingRetention:  durationpb.New(p.Recording.Retention),
	}
}

var endReasons = map[session.EndReason]hushv1.EndReason{
	session.EndDeleted: hushv1.EndReason_END_REASON_DELETED,
	session.EndIdle:    hushv1.EndReason_END_REASON_IDLE_TIMEOUT,
	session.EndDrain:   hushv1.EndReason_END_REASON_DRAIN,
	session.EndError:   hushv1.EndReason_END_REASON_ERROR,
	session.EndMoved:   hushv1.EndReason_END_REASON_MOVED,
}

func movePB(m *session.Move) *hushv1.SessionMoved {
	out := &hushv1.SessionMoved{FromNode: m.From, ToNode: m.To, Reason: m.Reason, Time: timestamppb.New(m.At),
		RecordingId: m.RecordingID, PreviousRecordingId: m.PreviousRecordingID, CaptureAbandoned: m.CaptureAbandoned}
	for _, l := range m.SRTPWithoutKeys {
		out.SrtpWithoutKeys = append(out.SrtpWithoutKeys, legNames[l])
	}
	return out
}

func (c *converter) sessionPB(in *session.Info) *hushv1.Session {
	out := &hushv1.Session{
		SessionId:          in.ID,
		CallId:             pan.Scrub(in.CallID),
		AgentId:            pan.Scrub(in.AgentID),
		Customer:           c.legPB(&in.Customer),
		Agent:              c.legPB(&in.Agent),
		Policy:             policyPB(in.Policy),
		Labels:             scrubLabels(in.Labels),
		State:              hushv1.SessionState_SESSION_STATE_ACTIVE,
		RecordingState:     recordingStates[in.Recording.State],
		RecordingId:        in.Recording.ID,
		SecureCaptureState: hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF,
		DigitProgress:      progressPB(in.Capture),
		CreateTime:         timestamppb.New(in.Created),
		Node:               in.Node,
	}
	for i := range in.Moves {
		out.Moves = append(out.Moves, movePB(&in.Moves[i]))
	}
	if in.Capture.On {
		out.SecureCaptureState = hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON
	}
	for _, w := range in.Warnings {
		out.Warnings = append(out.Warnings, &hushv1.SessionWarning{Code: warningCodes[w.Code], Field: w.Field, Message: w.Message})
	}
	if in.State == session.Ended {
		out.State = hushv1.SessionState_SESSION_STATE_ENDED
		out.EndTime = timestamppb.New(in.EndedAt)
		out.EndReason = endReasons[in.EndReason]
	}
	return out
}

// scrubLabels returns labels with card-like numbers scrubbed from keys and values (a copy
// only when there are any): what callers put in them goes out again in every answer and
// event.
func scrubLabels(labels map[string]string) map[string]string {
	dirty := false
	for k, v := range labels {
		if pan.Contains(k) || pan.Contains(v) {
			dirty = true
			break
		}
	}
	if !dirty {
		return labels
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[pan.Scrub(k)] = pan.Scrub(v)
	}
	return out
}

var warningCodes = map[session.WarningCode]hushv1.WarningCode{
	session.WarnUndecodableCodec: hushv1.WarningCode_WARNING_CODE_UNDECODABLE_CODEC,
}

var recordingStates = map[session.RecordingState]hushv1.RecordingState{
	session.RecordingStopped: hushv1.RecordingState_RECORDING_STATE_STOPPED,
	session.RecordingActive:  hushv1.RecordingState_RECORDING_STATE_ACTIVE,
	session.RecordingPaused:  hushv1.RecordingState_RECORDING_STATE_PAUSED,
	session.RecordingFailed:  hushv1.RecordingState_RECORDING_STATE_FAILED,
}

var pauseBehaviorsPB = map[session.PauseBehavior]hushv1.PauseBehavior{
	session.PauseSilence: hushv1.PauseBehavior_PAUSE_BEHAVIOR_SILENCE,
	session.PauseSkip:    hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP,
}

var luhnResults = map[session.LuhnResult]hushv1.LuhnResult{
	session.LuhnValid:   hushv1.LuhnResult_LUHN_RESULT_VALID,
	session.LuhnInvalid: hushv1.LuhnResult_LUHN_RESULT_INVALID,
}

// progressPB shows what an agent may see of a capture: one '*' per digit, never a digit.
func progressPB(c session.CaptureInfo) *hushv1.DigitProgress {
	return &hushv1.DigitProgress{
		Masked: strings.Repeat("*", c.Count), Count: uint32(c.Count),
		Complete: c.Complete, Luhn: luhnResults[c.Luhn],
	}
}

var legNames = map[session.Leg]hushv1.LegName{
	session.Customer: hushv1.LegName_LEG_NAME_CUSTOMER,
	session.Agent:    hushv1.LegName_LEG_NAME_AGENT,
}

func (c *converter) eventPB(e *session.Event) *hushv1.SessionEvent {
	out := &hushv1.SessionEvent{
		SessionId: e.SessionID, Sequence: e.Seq, Time: timestamppb.New(e.Time),
		Actor: pan.Scrub(e.Actor), RequestId: pan.Scrub(e.RequestID),
	}
	switch e.Kind {
	case session.EventSnapshot:
		out.Event = &hushv1.SessionEvent_Snapshot{Snapshot: c.sessionPB(e.Session)}
	case session.EventUpdated:
		out.Event = &hushv1.SessionEvent_Updated{Updated: &hushv1.SessionUpdated{Paths: e.Paths, Session: c.sessionPB(e.Session)}}
	case session.EventLatched:
		out.Event = &hushv1.SessionEvent_Latched{Latched: &hushv1.LegLatched{Leg: legNames[e.Leg], RemoteAddr: addrString(e.Addr), Kind: e.Media}}
	case session.EventCapture:
		st := hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF
		if e.Capture.On {
			st = hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON
		}
		out.Event = &hushv1.SessionEvent_SecureCapture{SecureCapture: &hushv1.SecureCaptureChanged{State: st, Reason: pan.Scrub(e.CaptureWhy)}}
	case session.EventDigits:
		out.Event = &hushv1.SessionEvent_Digits{Digits: progressPB(e.Capture)}
	case session.EventLatchRejected:
		out.Event = &hushv1.SessionEvent_LatchRejected{LatchRejected: &hushv1.LatchRejected{
			Leg: legNames[e.Leg], SourceAddr: addrString(e.Addr), Reason: e.LatchReason, Count: e.LatchRejects,
		}}
	case session.EventCaptureAbandoned:
		out.Event = &hushv1.SessionEvent_CaptureAbandoned{CaptureAbandoned: &hushv1.SecureCaptureAbandoned{
			Reason: e.CaptureWhy, Count: uint32(e.Capture.Count),
		}}
	case session.EventRecording:
		out.Event = &hushv1.SessionEvent_Recording{Recording: &hushv1.RecordingStateChanged{
			State: recordingStates[e.Recording.State], Behavior: pauseBehaviorsPB[e.Recording.Behavior], Reason: pan.Scrub(e.RecordingReason),
		}}
	case session.EventMaxPause:
		out.Event = &hushv1.SessionEvent_MaxPauseExceeded{MaxPauseExceeded: &hushv1.MaxPauseExceeded{
			PausedFor: durationpb.New(e.PausedFor), Resumed: e.Resumed,
		}}
	case session.EventRecordingFailed:
		out.Event = &hushv1.SessionEvent_RecordingFailed{RecordingFailed: &hushv1.RecordingFailed{Reason: pan.Scrub(e.RecordingFailure)}}
	case session.EventDTMFPlayed:
		out.Event = &hushv1.SessionEvent_DtmfPlayed{DtmfPlayed: &hushv1.DtmfPlayed{Toward: legNames[e.Leg], Duration: durationpb.New(e.Played.Duration)}}
	case session.EventUndecodableAudio:
		out.Event = &hushv1.SessionEvent_UndecodableAudio{UndecodableAudio: &hushv1.UndecodableAudio{Leg: legNames[e.Leg], PayloadType: uint32(e.PayloadType)}}
	case session.EventMoved:
		out.Event = &hushv1.SessionEvent_Moved{Moved: movePB(e.Move)}
	case session.EventSuspicious:
		out.Event = &hushv1.SessionEvent_Suspicious{Suspicious: &hushv1.SuspiciousActivity{
			Reason: e.Suspicion.Reason, Detail: pan.Scrub(e.Suspicion.Detail), AgentId: pan.Scrub(e.Suspicion.AgentID),
		}}
	case session.EventEnded:
		out.Event = &hushv1.SessionEvent_Ended{Ended: &hushv1.SessionEnded{Reason: endReasons[e.Reason], Session: c.sessionPB(e.Session)}}
	}
	return out
}

// Page tokens are opaque to callers: base64 of "<unix nanos>:<session id>" of the last
// session on the previous page.
func encodePageToken(cur session.Cursor) string {
	if cur == (session.Cursor{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(cur.Created.UnixNano(), 10) + ":" + cur.ID))
}

func decodePageToken(tok string) (session.Cursor, error) {
	if tok == "" {
		return session.Cursor{}, nil
	}
	if len(tok) > 200 {
		return session.Cursor{}, invalidf("page_token is not a token this server issued")
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return session.Cursor{}, invalidf("page_token is not a token this server issued")
	}
	ns, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return session.Cursor{}, invalidf("page_token is not a token this server issued")
	}
	return session.Cursor{Created: time.Unix(0, n), ID: id}, nil
}
