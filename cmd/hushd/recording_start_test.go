package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hushmedia/hush/internal/audit"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestResumeRecordingStartsOne: on a hushd that records, a session created with recording
// off has no recording until ResumeRecording, which starts one from then on, as ng's `start
// recording` does: the reply and GetSession say ACTIVE with a recording id, the watch stream
// says so, the audit log has the request, and the customer's audio sent afterwards is in
// the recording. Repeating the request, or resuming again, starts nothing new.
func TestResumeRecordingStartsOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recDir, keyFile, auditFile := filepath.Join(dir, "rec"), filepath.Join(dir, "recording.kek"), filepath.Join(dir, "audit.jsonl")
	d := startDaemon(t, "--recording-enabled=true", "--recording-dir", recDir, "--recording-key-file", keyFile, "--audit-file", auditFile)
	cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId: "late-start", AgentId: "agent-7",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
		Policy:   &hushv1.Policy{Recording: hushv1.RecordingMode_RECORDING_MODE_OFF},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.RecordingId != "" || s.RecordingState == hushv1.RecordingState_RECORDING_STATE_ACTIVE {
		t.Fatalf("created with recording off: recording %q, state %v", s.RecordingId, s.RecordingState)
	}
	w := d.watch(s.SessionId)

	resume := &hushv1.ResumeRecordingRequest{SessionId: s.SessionId, RequestId: "resume-1", Reason: "consent given"}
	got, err := d.session.ResumeRecording(d.ctx(), resume)
	if err != nil {
		t.Fatal(err)
	}
	if got.RecordingId == "" || got.RecordingState != hushv1.RecordingState_RECORDING_STATE_ACTIVE {
		t.Fatalf("after ResumeRecording: recording %q, state %v", got.RecordingId, got.RecordingState)
	}
	e := w.until(func(e *hushv1.SessionEvent) bool { return e.GetRecording() != nil })
	if e.GetRecording().GetState() != hushv1.RecordingState_RECORDING_STATE_ACTIVE || e.GetRequestId() != "resume-1" {
		t.Fatalf("recording event %v", e)
	}
	// The same request again, and a new one on the running recording: nothing new starts.
	for _, id := range []string{"resume-1", "resume-2"} {
		resume.RequestId = id
		again, err := d.session.ResumeRecording(d.ctx(), resume)
		if err != nil || again.RecordingId != got.RecordingId || again.RecordingState != hushv1.RecordingState_RECORDING_STATE_ACTIVE {
			t.Fatalf("ResumeRecording %s on the running recording: %v, %v", id, again, err)
		}
	}
	if g, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); err != nil ||
		g.RecordingId != got.RecordingId || g.RecordingState != hushv1.RecordingState_RECORDING_STATE_ACTIVE {
		t.Fatalf("GetSession: %v, %v", g, err)
	}

	// A second of the customer's tone, recorded from now on.
	st := packetizeG711(audioPCMU, 0x1a7e, 1, 0, tone440(50*audioFrame))
	if _, err := paceSend(context.Background(), cust.conn, s.Customer.LocalAddr, st.ticks); err != nil {
		t.Fatal(err)
	}
	for range st.audio {
		agent.recv()
	}
	if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
	rec, err := hushv1.NewRecordingServiceClient(d.conn).GetRecording(d.ctx(), &hushv1.GetRecordingRequest{RecordingId: got.RecordingId})
	if err != nil {
		t.Fatal(err)
	}
	if rec.SessionId != s.SessionId || rec.Status != hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE {
		t.Fatalf("recording %v", rec)
	}
	_, raw := download(t, d, got.RecordingId, dir)
	chans, err := decodeWAV(raw, 2)
	if err != nil {
		t.Fatal(err)
	}
	loud := 0
	for _, v := range chans[0] {
		if v > 3000 || v < -3000 {
			loud++
		}
	}
	if loud < audioRate/4 {
		t.Fatalf("the customer's tone is not in the recording: %d loud samples of %d", loud, len(chans[0]))
	}

	recs, _, _, err := audit.Query(auditFile, audit.Filter{SessionID: s.SessionId, Action: audit.ActionResume, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].RequestID != "resume-1" || recs[0].Outcome != "OK" || recs[0].CallID != "late-start" {
		t.Fatalf("audit records %+v", recs)
	}
}
