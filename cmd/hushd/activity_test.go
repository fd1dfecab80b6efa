package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/rtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// activityDaemon is a recording hushd with token auth and agent-activity monitoring's
// thresholds short enough for a test: a pause is too long after 1 s, a pause is judged 1 s
// after its end, and a third pause within the hour is one too many.
type activityDaemon struct {
	*daemon
	recDir, auditFile string
	// follow is the audit trail's agent.suspicious records, as a SIEM follows them.
	follow chan *hushv1.AuditRecord
}

var activityTokens = map[string]auth.TokenEntry{
	"sbc":   {Subject: "sbc", Role: auth.RolePlatform},
	"alice": {Subject: "alice", Role: auth.RoleAgent, AgentID: "agent-42"},
	"siem":  {Subject: "siem", Role: auth.RoleAudit},
	"ops":   {Subject: "ops", Role: auth.RoleAdmin},
}

func startActivityDaemon(t *testing.T) *activityDaemon {
	t.Helper()
	dir := t.TempDir()
	d := &activityDaemon{recDir: filepath.Join(dir, "rec"), auditFile: filepath.Join(dir, "audit.jsonl"),
		follow: make(chan *hushv1.AuditRecord, 100)}
	d.daemon = startDaemon(t, "--auth-mode", "token", "--auth-token-file", tokenFile(t, activityTokens),
		"--recording-enabled=true", "--recording-dir", d.recDir, "--audit-file", d.auditFile,
		"--monitor-max-pause", "1s", "--monitor-payment-window", "1s", "--monitor-pauses-per-hour", "2",
		"--http-metrics-open=true")
	ctx, cancel := context.WithCancel(as(context.Background(), "siem"))
	t.Cleanup(cancel)
	st, err := hushv1.NewAuditServiceClient(d.conn).WatchAuditRecords(ctx,
		&hushv1.WatchAuditRecordsRequest{StartSeq: 1, Action: audit.ActionSuspicious})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.follow)
		for {
			r, err := st.Recv()
			if err != nil {
				return
			}
			d.follow <- r
		}
	}()
	return d
}

// activityCall is a session of agent-42 between two loopback phones, watched.
type activityCall struct {
	s           *hushv1.Session
	cust, agent *endpoint
	w           *watcher
	seq         uint16
	ts          uint32
}

func (d *activityDaemon) call(t *testing.T, id string, maxPause time.Duration) *activityCall {
	t.Helper()
	c := &activityCall{cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0")}
	req := &hushv1.CreateSessionRequest{CallId: id, AgentId: "agent-42",
		Customer: &hushv1.Leg{RemoteAddr: c.cust.addr().String(), TelephoneEventPt: 101},
		Agent:    &hushv1.Leg{RemoteAddr: c.agent.addr().String(), TelephoneEventPt: 101}}
	if maxPause > 0 {
		req.Policy = &hushv1.Policy{MaxPause: durationpb.New(maxPause)}
	}
	s, err := d.session.CreateSession(as(d.ctx(), "sbc"), req)
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	ctx, cancel := context.WithCancel(as(context.Background(), "sbc"))
	t.Cleanup(cancel)
	st, err := d.session.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: s.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	c.w = &watcher{t: t, ch: make(chan *hushv1.SessionEvent, 1024), end: make(chan error, 1)}
	go func() {
		for {
			ev, err := st.Recv()
			if err != nil {
				c.w.end <- err
				close(c.w.ch)
				return
			}
			c.w.ch <- ev
		}
	}()
	c.w.first = c.w.next()
	return c
}

// flagged waits for a suspicion of reason on the call's watch stream and for its audit
// record on the SIEM's follow stream (other records it passes are checked at the end,
// from the file), and checks both name the call, its agent and the request.
func (d *activityDaemon) flagged(t *testing.T, c *activityCall, reason string) *hushv1.SessionEvent {
	t.Helper()
	ev := c.w.until(func(e *hushv1.SessionEvent) bool { return e.GetSuspicious().GetReason() == reason })
	if sa := ev.GetSuspicious(); sa.AgentId != "agent-42" || sa.Detail == "" {
		t.Fatalf("suspicious event %+v", sa)
	}
	for {
		select {
		case r, ok := <-d.follow:
			if !ok {
				t.Fatal("the audit follow stream ended")
			}
			if r.SessionId != c.s.SessionId || !strings.HasPrefix(r.Detail, reason+": ") {
				continue
			}
			if r.Actor != "hushd" || r.CallId != c.s.CallId || r.AgentId != "agent-42" || r.RequestId != ev.RequestId {
				t.Fatalf("audit record %+v, want %s of call %s (request %q)", r, reason, c.s.CallId, ev.RequestId)
			}
			return ev
		case <-time.After(wait):
			t.Fatalf("no audit record of %s on %s", reason, c.s.CallId)
		}
	}
}

// rtpPacket is one packet of the call's customer or agent stream.
func rtpPacket(pt uint8, ssrc uint32, seq uint16, ts uint32, marker bool, pay []byte) []byte {
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker}
	b := make([]byte, h.MarshalSize()+len(pay))
	n, _ := h.MarshalTo(b)
	copy(b[n:], pay)
	return b
}

// audio sends n packets of PCMU silence from a phone to hush.
func (c *activityCall) audio(t *testing.T, from *endpoint, ssrc uint32, n int) {
	t.Helper()
	to := c.s.Customer.LocalAddr
	if from == c.agent {
		to = c.s.Agent.LocalAddr
	}
	for range n {
		from.send(to, c.next(ssrc))
	}
}

// next is the phone's next audio packet (PCMU silence), in sequence and on its timeline.
func (c *activityCall) next(ssrc uint32) []byte {
	pay := make([]byte, 160)
	for i := range pay {
		pay[i] = 0xff
	}
	c.seq++
	c.ts += 160
	return rtpPacket(0, ssrc, c.seq, c.ts, false, pay)
}

// key sends one RFC 4733 key press (100 ms, its end three times) from a phone to hush,
// with the phone's audio going on under it (which the recording masks).
func (c *activityCall) key(t *testing.T, from *endpoint, ssrc uint32, key byte) {
	t.Helper()
	to := c.s.Customer.LocalAddr
	if from == c.agent {
		to = c.s.Agent.LocalAddr
	}
	c.audio(t, from, ssrc, 5)
	ev, err := dtmf.DigitEvent(key)
	if err != nil {
		t.Fatal(err)
	}
	start := c.ts + 160
	for i, dur := range []uint16{160, 320, 480, 640, 800, 800, 800} {
		te := dtmf.TelephoneEvent{Event: ev, Volume: 10, Duration: dur, End: i >= 4}
		pay, err := te.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c.seq++
		from.send(to, rtpPacket(101, ssrc, c.seq, start, i == 0, pay))
		c.audio(t, from, ssrc, 1)
	}
	c.audio(t, from, ssrc, 10)
}

// Every kind of suspicious agent activity, driven through a real hushd by an agent's
// requests and RTP from the test's phones, is an event on the call's watch stream, an
// audit record a SIEM following the trail receives (role audit), and a count of
// hush_agent_suspicious_total{reason}; what is not suspicious (a pause around the
// customer's key press, a capture that completed, a call recorded) is not flagged: after
// hushd stops, its audit file holds exactly the flags expected.
func TestSuspiciousAgentActivity(t *testing.T) {
	d := startActivityDaemon(t)
	alice := func() context.Context { return as(d.ctx(), "alice") }
	pause := func(c *activityCall, req string) {
		t.Helper()
		if _, err := d.session.PauseRecording(alice(), &hushv1.PauseRecordingRequest{SessionId: c.s.SessionId, RequestId: req}); err != nil {
			t.Fatal(err)
		}
	}
	resume := func(c *activityCall, req string) {
		t.Helper()
		if _, err := d.session.ResumeRecording(alice(), &hushv1.ResumeRecordingRequest{SessionId: c.s.SessionId, RequestId: req}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{} // call id -> reasons flagged, in order
	counts := map[string]float64{}
	expect := func(c *activityCall, reason string) {
		t.Helper()
		want[c.s.CallId] = append(want[c.s.CallId], reason)
		counts[reason]++
		if got := d.metric(`hush_agent_suspicious_total{reason="` + reason + `"}`); got != counts[reason] {
			t.Errorf("after %s on %s: hush_agent_suspicious_total{reason=%q} = %v, want %v", reason, c.s.CallId, reason, got, counts[reason])
		}
	}

	// A pause around the customer's key press (RFC 4733) is part of a payment; the call
	// goes on recorded. Not flagged.
	a := d.call(t, "act-a", time.Hour)
	pause(a, "a-p1")
	a.key(t, a.cust, 0xa1, '5')
	resume(a, "a-r1")
	settle(t, a.cust, a.agent, a.s.Customer.LocalAddr, a.next(0xa1))

	// pause_outside_payment: no capture, no key press within the window. Judged a second
	// after the pause ended.
	b := d.call(t, "act-b", time.Hour)
	pause(b, "b-p1")
	resume(b, "b-r1")
	if ev := d.flagged(t, b, "pause_outside_payment"); ev.RequestId != "b-p1" || ev.Actor != "alice" {
		t.Errorf("flagged request %q by %q, want b-p1 by alice", ev.RequestId, ev.Actor)
	}
	expect(b, "pause_outside_payment")

	// many_pauses: agent-42's third pause within the hour, at once; pause_too_long after
	// 1 s; outside a payment once resumed.
	g := d.call(t, "act-g", 0)
	pause(g, "g-p1")
	d.flagged(t, g, "many_pauses")
	expect(g, "many_pauses")
	d.flagged(t, g, "pause_too_long")
	expect(g, "pause_too_long")
	resume(g, "g-r1")
	d.flagged(t, g, "pause_outside_payment")
	expect(g, "pause_outside_payment")

	// A capture the customer completes is not flagged. agent_keyed_during_capture: the
	// agent's phone keys during the next; capture_abandoned: the agent stops it mid-entry.
	c := d.call(t, "act-c", 0)
	if _, err := d.session.StartSecureCapture(alice(), &hushv1.StartSecureCaptureRequest{SessionId: c.s.SessionId, RequestId: "c-s1", MaxDigits: 1}); err != nil {
		t.Fatal(err)
	}
	c.key(t, c.cust, 0xc1, '4')
	c.w.until(func(e *hushv1.SessionEvent) bool { return e.GetSecureCapture().GetReason() == "max_digits" })
	if _, err := d.session.StartSecureCapture(alice(), &hushv1.StartSecureCaptureRequest{SessionId: c.s.SessionId, RequestId: "c-s2", MaxDigits: 16}); err != nil {
		t.Fatal(err)
	}
	c.key(t, c.agent, 0xc2, '9')
	d.flagged(t, c, "agent_keyed_during_capture")
	expect(c, "agent_keyed_during_capture")
	if _, err := d.session.StopSecureCapture(alice(), &hushv1.StopSecureCaptureRequest{SessionId: c.s.SessionId, RequestId: "c-stop"}); err != nil {
		t.Fatal(err)
	}
	if ev := d.flagged(t, c, "capture_abandoned"); ev.RequestId != "c-stop" || ev.Actor != "alice" {
		t.Errorf("capture_abandoned names request %q by %q, want c-stop by alice", ev.RequestId, ev.Actor)
	}
	expect(c, "capture_abandoned")

	// unexpected_control_source: the agent's controls of a call come from a second address.
	dd := d.call(t, "act-d", 0)
	resume(dd, "d-r1") // already recording: changes nothing, but is a control from 127.0.0.1
	conn, err := grpc.NewClient(d.ready.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialerFrom("127.0.0.2").DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := hushv1.NewSessionServiceClient(conn).ResumeRecording(alice(),
		&hushv1.ResumeRecordingRequest{SessionId: dd.s.SessionId, RequestId: "d-r2"}); err != nil {
		t.Fatal(err)
	}
	if ev := d.flagged(t, dd, "unexpected_control_source"); !strings.Contains(ev.GetSuspicious().Detail, "from 127.0.0.2") ||
		ev.RequestId != "d-r2" {
		t.Errorf("unexpected source flagged: %+v (request %q)", ev.GetSuspicious(), ev.RequestId)
	}
	expect(dd, "unexpected_control_source")

	// not_recorded: paused before any media and never resumed (and that pause, open at
	// the end, outside a payment).
	f := d.call(t, "act-f", time.Hour)
	pause(f, "f-p1")
	settle(t, f.cust, f.agent, f.s.Customer.LocalAddr, f.next(0xf1))
	if _, err := d.session.DeleteSession(as(d.ctx(), "sbc"), &hushv1.DeleteSessionRequest{SessionId: f.s.SessionId}); err != nil {
		t.Fatal(err)
	}
	d.flagged(t, f, "pause_outside_payment")
	expect(f, "pause_outside_payment")
	d.flagged(t, f, "not_recorded")
	expect(f, "not_recorded")

	// recording_failed: the day's recording directory cannot be made (a file is in the
	// way); the call goes on unrecorded: not_recorded at its end. (The other calls end
	// first: their recordings live in that directory.)
	for _, c := range []*activityCall{a, b, g, c, dd} {
		if _, err := d.session.DeleteSession(as(d.ctx(), "sbc"), &hushv1.DeleteSessionRequest{SessionId: c.s.SessionId}); err != nil {
			t.Fatal(err)
		}
		c.w.until(func(e *hushv1.SessionEvent) bool { return e.GetEnded() != nil })
	}
	day := strings.Split(filepath.ToSlash(record.DateDir(time.Now())), "/")[0]
	if err := os.RemoveAll(filepath.Join(d.recDir, day)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.recDir, day), []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := d.call(t, "act-e", 0)
	if e.w.first.GetSnapshot().GetRecordingState() != hushv1.RecordingState_RECORDING_STATE_FAILED {
		t.Fatalf("recording state %v, want FAILED", e.w.first.GetSnapshot().GetRecordingState())
	}
	counts["recording_failed"]++ // flagged at create, before anyone could watch: seen in the trail and the metric
	want[e.s.CallId] = append(want[e.s.CallId], "recording_failed")
	settle(t, e.cust, e.agent, e.s.Customer.LocalAddr, e.next(0xe1))
	if _, err := d.session.DeleteSession(as(d.ctx(), "sbc"), &hushv1.DeleteSessionRequest{SessionId: e.s.SessionId}); err != nil {
		t.Fatal(err)
	}
	d.flagged(t, e, "not_recorded")
	expect(e, "not_recorded")
	if got := d.metric(`hush_agent_suspicious_total{reason="recording_failed"}`); got != 1 {
		t.Errorf("recording_failed counted %v times, want 1", got)
	}

	// Stopped (the open calls drained), hushd has written every flag: exactly these.
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	recs, _, _, err := audit.Query(d.auditFile, audit.Filter{Action: audit.ActionSuspicious, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range recs {
		reason, _, _ := strings.Cut(r.Detail, ":")
		got[r.CallID] = append(got[r.CallID], reason)
	}
	for call, reasons := range want {
		if !slices.Equal(got[call], reasons) {
			t.Errorf("%s: flagged %v, want %v", call, got[call], reasons)
		}
	}
	for call, reasons := range got {
		if want[call] == nil {
			t.Errorf("%s: flagged %v, want nothing", call, reasons)
		}
	}
}
