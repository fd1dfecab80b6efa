package main

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// exercised starts a recording hushd, puts it through what an operator's alerts and
// dashboard watch (sessions recording and paused, a refused and an invalid request, a
// session ended) and returns it with its /metrics text.
func exercised(t *testing.T) (*daemon, string) {
	t.Helper()
	d := recordingDaemon(t, t.TempDir())
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	var ids []string
	for _, call := range []string{"obs-1", "obs-2", "obs-3"} {
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: call,
			Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.SessionId)
	}
	if _, err := d.session.PauseRecording(d.ctx(), &hushv1.PauseRecordingRequest{SessionId: ids[1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: ids[2]}); err != nil {
		t.Fatal(err)
	}
	// A duplicate call id is refused (a create failure); an empty one is invalid.
	if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "obs-1",
		Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{}}); err == nil {
		t.Fatal("a second session for call obs-1 was created")
	}
	if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{}); err == nil {
		t.Fatal("a session without a call id was created")
	}
	resp, err := http.Get("http://" + d.ready.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d, string(body)
}

// A live /metrics passes `promtool check metrics` (names, units, _total on counters, help
// text), and the operator's series say what hushd is doing: port range use, recordings
// by state, the engine in use.
func TestLiveMetricsPassPromtool(t *testing.T) {
	promtool := dtmftest.Tool(t, "promtool", "prometheus")
	d, body := exercised(t)

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}

	// mediaRange(40) in the harness: 20 pairs; two live sessions with two legs each.
	for sample, want := range map[string]float64{
		"hush_media_port_pairs":                       20,
		"hush_media_port_pairs_in_use":                4,
		`hush_sessions_recording{state="active"}`:     1,
		`hush_sessions_recording{state="paused"}`:     1,
		`hush_sessions_recording{state="failed"}`:     0,
		`hush_sessions_recording{state="stopped"}`:    0,
		"hush_audit_write_failures_total":             0,
		`hush_sessions_ended_total{reason="deleted"}`: 1,
	} {
		if got := d.metric(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	engines := 0
	for _, e := range []string{"io_uring", "epoll", "portable"} {
		if d.metric(`hush_media_engine_info{engine="`+e+`"}`) == 1 {
			engines++
		}
	}
	if engines != 1 {
		t.Errorf("hush_media_engine_info names %d engines, want 1", engines)
	}
}
