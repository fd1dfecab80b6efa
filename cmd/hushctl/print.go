package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// printJSON writes m as protojson; multiline for a single result, one line
// per message for streams (so the output is JSON Lines).
func (a *app) printJSON(m proto.Message, multiline bool) error {
	opts := protojson.MarshalOptions{Multiline: multiline, Indent: "  "}
	if !multiline {
		opts.Indent = ""
	}
	b, err := opts.Marshal(m)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = a.stdout.Write(b)
	return err
}

func (a *app) printSession(s *hushv1.Session) error {
	if a.json {
		return a.printJSON(s, true)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("session", "%s", s.GetSessionId())
	row("call id", "%s", s.GetCallId())
	if s.GetAgentId() != "" {
		row("agent id", "%s", s.GetAgentId())
	}
	row("state", "%s", enumName(s.GetState()))
	row("recording", "%s", enumName(s.GetRecordingState()))
	row("secure capture", "%s", enumName(s.GetSecureCaptureState()))
	if d := s.GetDigitProgress(); d != nil {
		row("digits", "%s", digits(d))
	}
	row("customer leg", "%s", leg(s.GetCustomer()))
	row("agent leg", "%s", leg(s.GetAgent()))
	if p := s.GetPolicy(); p != nil {
		row("policy", "%s", policy(p))
	}
	if len(s.GetLabels()) > 0 {
		row("labels", "%s", labels(s.GetLabels()))
	}
	row("created", "%s", stamp(s.GetCreateTime()))
	if s.GetEndTime() != nil {
		row("ended", "%s (%s)", stamp(s.GetEndTime()), enumName(s.GetEndReason()))
	}
	if s.GetRecordingId() != "" {
		row("recording id", "%s", s.GetRecordingId())
	}
	for _, w := range s.GetWarnings() {
		row("warning", "%s: %s", w.GetField(), w.GetMessage())
	}
	return tw.Flush()
}

func (a *app) printSessions(r *hushv1.ListSessionsResponse) error {
	if a.json {
		return a.printJSON(r, true)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tCALL ID\tAGENT ID\tSTATE\tRECORDING\tCAPTURE\tCUSTOMER LOCAL\tAGENT LOCAL\tCREATED")
	for _, s := range r.GetSessions() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			s.GetSessionId(), dash(s.GetCallId()), dash(s.GetAgentId()), enumName(s.GetState()),
			enumName(s.GetRecordingState()), enumName(s.GetSecureCaptureState()),
			dash(s.GetCustomer().GetLocalAddr()), dash(s.GetAgent().GetLocalAddr()), stamp(s.GetCreateTime()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "%d session(s)\n", len(r.GetSessions()))
	return err
}

// printEvent writes one line per event: time, sequence, what happened, and
// who did it with which request id.
func (a *app) printEvent(ev *hushv1.SessionEvent) error {
	if a.json {
		return a.printJSON(ev, false)
	}
	var what string
	switch e := ev.GetEvent().(type) {
	case *hushv1.SessionEvent_Snapshot:
		s := e.Snapshot
		what = fmt.Sprintf("snapshot state=%s recording=%s capture=%s customer=%s agent=%s",
			enumName(s.GetState()), enumName(s.GetRecordingState()), enumName(s.GetSecureCaptureState()),
			dash(s.GetCustomer().GetLocalAddr()), dash(s.GetAgent().GetLocalAddr()))
	case *hushv1.SessionEvent_Updated:
		what = "updated " + strings.Join(e.Updated.GetPaths(), ",")
	case *hushv1.SessionEvent_Latched:
		what = fmt.Sprintf("latched %s %s from %s", enumName(e.Latched.GetLeg()), e.Latched.GetKind(), e.Latched.GetRemoteAddr())
	case *hushv1.SessionEvent_Ended:
		what = "ended " + enumName(e.Ended.GetReason())
	case *hushv1.SessionEvent_Recording:
		r := e.Recording
		what = "recording " + enumName(r.GetState())
		if r.GetBehavior() != hushv1.PauseBehavior_PAUSE_BEHAVIOR_UNSPECIFIED {
			what += " behavior=" + enumName(r.GetBehavior())
		}
		if r.GetReason() != "" {
			what += fmt.Sprintf(" reason=%q", r.GetReason())
		}
	case *hushv1.SessionEvent_SecureCapture:
		what = "secure-capture " + enumName(e.SecureCapture.GetState())
		if e.SecureCapture.GetReason() != "" {
			what += " reason=" + e.SecureCapture.GetReason()
		}
	case *hushv1.SessionEvent_Digits:
		what = "digits " + digits(e.Digits)
	case *hushv1.SessionEvent_LatchRejected:
		r := e.LatchRejected
		what = fmt.Sprintf("latch-rejected %s from %s reason=%s count=%d", enumName(r.GetLeg()), r.GetSourceAddr(), r.GetReason(), r.GetCount())
	case *hushv1.SessionEvent_CaptureAbandoned:
		what = fmt.Sprintf("secure-capture-abandoned reason=%s digits=%d", e.CaptureAbandoned.GetReason(), e.CaptureAbandoned.GetCount())
	case *hushv1.SessionEvent_MaxPauseExceeded:
		what = fmt.Sprintf("max-pause-exceeded paused-for=%s resumed=%t",
			dur(e.MaxPauseExceeded.GetPausedFor()), e.MaxPauseExceeded.GetResumed())
	case *hushv1.SessionEvent_RecordingFailed:
		what = fmt.Sprintf("recording-failed reason=%q", e.RecordingFailed.GetReason())
	case *hushv1.SessionEvent_Suspicious:
		what = fmt.Sprintf("suspicious %s agent=%s detail=%q", e.Suspicious.GetReason(), dash(e.Suspicious.GetAgentId()), e.Suspicious.GetDetail())
	default:
		what = "unknown event (newer server?)"
	}
	line := fmt.Sprintf("%s #%d %s", stamp(ev.GetTime()), ev.GetSequence(), what)
	if ev.GetActor() != "" {
		line += " by=" + ev.GetActor()
	}
	if ev.GetRequestId() != "" {
		line += " request=" + ev.GetRequestId()
	}
	_, err := io.WriteString(a.stdout, line+"\n")
	return err
}

// enumName shows an enum value without its type prefix, in lower case:
// SESSION_STATE_ACTIVE -> active; the zero value shows as "-".
func enumName(e protoreflect.Enum) string {
	values := e.Descriptor().Values()
	v := values.ByNumber(e.Number())
	if v == nil {
		return fmt.Sprintf("%d", e.Number())
	}
	if e.Number() == 0 {
		return "-"
	}
	prefix := strings.TrimSuffix(string(values.ByNumber(0).Name()), "UNSPECIFIED")
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix)), "_", "-")
}

func leg(l *hushv1.Leg) string {
	if l == nil {
		return "-"
	}
	parts := []string{"local " + dash(l.GetLocalAddr())}
	if l.GetRtcpMux() {
		parts = append(parts, "rtcp-mux")
	} else if l.GetLocalRtcpAddr() != "" {
		parts = append(parts, "rtcp "+l.GetLocalRtcpAddr())
	}
	remote := "remote " + dash(l.GetRemoteAddr())
	if l.GetRemoteAddr() == "" && l.GetExpectedIp() != "" {
		remote = "remote (latch from " + l.GetExpectedIp() + ")"
	} else if l.GetRemoteAddr() == "" {
		remote = "remote (latch)"
	} else if l.GetLatched() {
		remote += " (latched)"
	}
	parts = append(parts, remote)
	if len(l.GetCodecs()) > 0 {
		var cs []string
		for _, pt := range slices.Sorted(maps.Keys(l.GetCodecs())) {
			cs = append(cs, fmt.Sprintf("%d=%s", pt, l.GetCodecs()[pt]))
		}
		parts = append(parts, "codecs "+strings.Join(cs, ","))
	}
	if l.GetTelephoneEventPt() != 0 {
		parts = append(parts, fmt.Sprintf("telephone-event %d", l.GetTelephoneEventPt()))
	}
	if st := l.GetStats(); st != nil {
		parts = append(parts, fmt.Sprintf("rx %d tx %d dropped %d", st.GetRtpPacketsReceived(),
			st.GetRtpPacketsSent(), st.GetPacketsDropped()))
		if n := st.GetLatchRejected(); n > 0 {
			parts = append(parts, fmt.Sprintf("latch-rejected %d", n))
		}
	}
	return strings.Join(parts, "  ")
}

func policy(p *hushv1.Policy) string {
	mask := func(m *hushv1.MaskingPolicy) string {
		s := enumName(m.GetMode())
		if la := m.GetLookAhead(); la != nil {
			s += " look-ahead " + dur(la)
		}
		return s
	}
	parts := []string{
		"customer->agent " + mask(p.GetCustomerToAgent()),
		"agent->customer " + mask(p.GetAgentToCustomer()),
		"recording " + enumName(p.GetRecording()),
	}
	if p.GetAutoPauseOnDtmf() {
		parts = append(parts, "auto-pause-on-dtmf")
	}
	if p.GetStrictSource() != hushv1.StrictSource_STRICT_SOURCE_UNSPECIFIED {
		parts = append(parts, "strict-source "+enumName(p.GetStrictSource()))
	}
	if p.GetIdleTimeout() != nil {
		parts = append(parts, "idle-timeout "+dur(p.GetIdleTimeout()))
	}
	return strings.Join(parts, ", ")
}

func digits(d *hushv1.DigitProgress) string {
	s := fmt.Sprintf("%s (%d)", dash(d.GetMasked()), d.GetCount())
	if d.GetComplete() {
		s += " complete"
	}
	if d.GetLuhn() != hushv1.LuhnResult_LUHN_RESULT_UNSPECIFIED {
		s += " luhn " + enumName(d.GetLuhn())
	}
	return s
}

func labels(m map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+"="+m[k])
	}
	return strings.Join(kv, ",")
}

func stamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.RFC3339Nano)
}

func dur(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	return d.AsDuration().String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
