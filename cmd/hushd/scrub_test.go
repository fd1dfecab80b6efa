package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// A card number a platform or a person puts into a free-text field (the call id, the agent
// id, a label, a request id, a pause reason) never appears in what hushd writes: its log
// (text and JSON), the recording sidecar, the audit log, session events and answers.
// hushd still finds the session by the call id it was given.
func TestCardNumberInFreeTextNeverWritten(t *testing.T) {
	// Test card numbers, as they might be typed: plain, in groups, with dashes.
	forms := []string{"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
		"5555555555554444", "5555 5555 5555 4444", "378282246310005"}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			recDir, auditFile := filepath.Join(dir, "recordings"), filepath.Join(dir, "audit.jsonl")
			keyFile := filepath.Join(dir, "recording.kek")
			d := startDaemon(t, "--recording-enabled=true", "--recording-dir", recDir, "--recording-key-file", keyFile,
				"--audit-file", auditFile, "--log-format", format, "--log-level", "debug")
			callID := "pay-4111-1111-1111-1111@pbx"
			s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
				CallId: callID, RequestId: "create-5555555555554444", AgentId: "agent-378282246310005",
				Labels: map[string]string{"note": "card 5555 5555 5555 4444"},
			})
			if err != nil {
				t.Fatal(err)
			}
			w := d.watch(s.SessionId)
			if _, err := d.session.PauseRecording(d.ctx(), &hushv1.PauseRecordingRequest{SessionId: s.SessionId,
				RequestId: "p-4111111111111111", Reason: "customer read 4111 1111 1111 1111 aloud"}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.session.ResumeRecording(d.ctx(), &hushv1.ResumeRecordingRequest{SessionId: s.SessionId,
				RequestId: "r-1", Reason: "done"}); err != nil {
				t.Fatal(err)
			}
			// hushd matches the call id as given.
			list, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{CallId: callID})
			if err != nil || len(list.Sessions) != 1 || list.Sessions[0].SessionId != s.SessionId {
				t.Fatalf("list by call id: %v %v", list.GetSessions(), err)
			}
			fin, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: s.SessionId, RequestId: "d-1"})
			if err != nil {
				t.Fatal(err)
			}

			var events strings.Builder
			for {
				ev := w.next()
				events.WriteString(protojson.Format(ev))
				if ev.GetEnded() != nil {
					break
				}
			}
			leaks := func(where, text string) {
				t.Helper()
				for _, f := range forms {
					if strings.Contains(text, f) {
						t.Errorf("%s holds the card number %q", where, f)
					}
				}
			}
			leaks("the answers", protojson.Format(s)+protojson.Format(list)+protojson.Format(fin))
			leaks("the events", events.String())
			if !strings.Contains(events.String(), "[digits removed]") {
				t.Errorf("events show no scrubbed call id:\n%s", events.String())
			}
			leaks("the log", d.log.String())
			if !strings.Contains(d.log.String(), "pay-[digits removed]@pbx") {
				t.Errorf("log shows no scrubbed call id:\n%s", d.log.String())
			}
			b, err := os.ReadFile(auditFile)
			if err != nil {
				t.Fatal(err)
			}
			leaks("the audit log", string(b))
			sidecars, _ := filepath.Glob(filepath.Join(recDir, "*", "*", "*", "*.json")) // filed by day
			if len(sidecars) != 1 {
				t.Fatalf("sidecars: %v", sidecars)
			}
			b, err = os.ReadFile(sidecars[0])
			if err != nil {
				t.Fatal(err)
			}
			leaks("the sealed sidecar", string(b))
			b, _ = unsealed(t, sidecars[0], b, keyFile) // what an investigator with the key reads
			leaks("the sidecar", string(b))
			if !strings.Contains(string(b), "pay-[digits removed]@pbx") {
				t.Errorf("sidecar shows no scrubbed call id:\n%s", b)
			}
		})
	}
}

// Through hushd: a bidi override in the call id, a broadcast remote and an unknown
// update_mask path are refused, each error naming what is wrong.
func TestRefusalsNameTheField(t *testing.T) {
	d := startDaemon(t)
	_, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "call-\u202E1"})
	wantInvalid(t, "bidi override in call_id", err, "call_id", "bidi override")
	_, err = d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "c",
		Customer: &hushv1.Leg{RemoteAddr: "255.255.255.255:4000"}})
	wantInvalid(t, "broadcast remote", err, "customer.remote_addr", "broadcast")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "c"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.session.UpdateSession(d.ctx(), &hushv1.UpdateSessionRequest{SessionId: s.SessionId,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"agent.remote_addr", "agent.remote"}}})
	wantInvalid(t, "unknown update_mask path", err, `"agent.remote"`)
}

func wantInvalid(t *testing.T, what string, err error, says ...string) {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("%s: %v, want INVALID_ARGUMENT", what, err)
		return
	}
	for _, s := range says {
		if !strings.Contains(status.Convert(err).Message(), s) {
			t.Errorf("%s: %q does not say %q", what, status.Convert(err).Message(), s)
		}
	}
}
