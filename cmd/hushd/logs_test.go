package main

import (
	"encoding/json"
	"strings"
	"testing"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// logLines parses hushd's JSON log.
func logLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(text) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// Every control call's log line names its session and request id (a create, the session
// it made), and a session's end is one line with its counters: packets, drops by reason,
// masked time, pauses and captures; no digit, and card-like numbers scrubbed.
func TestControlLogLinesAndSessionEnd(t *testing.T) {
	d := startDaemon(t, "--log-format", "json", "--recording-enabled=true", "--recording-dir", t.TempDir())
	c := &activityCall{cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0")}
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "log-1", AgentId: "agent-9",
		RequestId: "create-4111111111111111",
		Customer:  &hushv1.Leg{RemoteAddr: c.cust.addr().String(), TelephoneEventPt: 101},
		Agent:     &hushv1.Leg{RemoteAddr: c.agent.addr().String(), TelephoneEventPt: 101}})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	id := s.SessionId
	steps := []struct {
		method string
		do     func() error
	}{
		{"PauseRecording", func() error {
			_, err := d.session.PauseRecording(d.ctx(), &hushv1.PauseRecordingRequest{SessionId: id, RequestId: "log-p"})
			return err
		}},
		{"ResumeRecording", func() error {
			_, err := d.session.ResumeRecording(d.ctx(), &hushv1.ResumeRecordingRequest{SessionId: id, RequestId: "log-r"})
			return err
		}},
		{"StartSecureCapture", func() error {
			_, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: id, RequestId: "log-cs", MaxDigits: 1})
			return err
		}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.method, err)
		}
	}
	// The customer keys (RFC 4733: never forwarded toward the masked agent) over audio.
	c.key(t, c.cust, 0x10c1, '7')
	settle(t, c.cust, c.agent, s.Customer.LocalAddr, c.next(0x10c1))
	if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: id, RequestId: "log-del"}); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	text := d.log.String()
	if strings.Contains(text, "4111111111111111") {
		t.Fatal("a card-like number reached the log")
	}
	want := map[string]string{
		"/hush.v1.SessionService/CreateSession":      "create-[digits removed]",
		"/hush.v1.SessionService/PauseRecording":     "log-p",
		"/hush.v1.SessionService/ResumeRecording":    "log-r",
		"/hush.v1.SessionService/StartSecureCapture": "log-cs",
		"/hush.v1.SessionService/DeleteSession":      "log-del",
	}
	var end map[string]any
	for _, l := range logLines(t, text) {
		switch l["msg"] {
		case "grpc":
			m, _ := l["method"].(string)
			req, ok := want[m]
			if !ok {
				continue
			}
			if l["session_id"] != id || l["request_id"] != req {
				t.Errorf("%s logged session_id=%v request_id=%v, want %s and %s", m, l["session_id"], l["request_id"], id, req)
			}
			delete(want, m)
		case "session ended":
			end = l
		}
	}
	if len(want) > 0 {
		t.Errorf("no log line for %v", want)
	}
	if end == nil {
		t.Fatal("no session ended line")
	}
	cust, _ := end["customer"].(map[string]any)
	drops, _ := cust["drops"].(map[string]any)
	if end["session_id"] != id || end["call_id"] != "log-1" || end["agent_id"] != "agent-9" || end["reason"] != "deleted" ||
		end["request_id"] != "log-del" || end["pauses"] != 1.0 || end["captures"] != 1.0 || end["digits_captured"] != 1.0 ||
		end["recording"] != "stopped" {
		t.Errorf("session ended line %v", end)
	}
	if rtpIn, _ := cust["rtp_in"].(float64); rtpIn < 30 || drops["masked_event"] == nil || cust["masked_seconds"].(float64) <= 0 {
		t.Errorf("customer counters %v", cust)
	}
	if _, ok := end["agent"].(map[string]any); !ok {
		t.Errorf("no agent counters in %v", end)
	}
}
