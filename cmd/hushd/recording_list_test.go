package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestRecordingLabelsAndFilters: the labels given at CreateSession reach the recording,
// and ListRecordings finds the recordings of a label, of an agent and of a time range
// (and of their combination), and of a state, newest first, page by page.
func TestRecordingLabelsAndFilters(t *testing.T) {
	t.Parallel()
	d := recordingDaemon(t, filepath.Join(t.TempDir(), "recordings"))
	type call struct{ agent, queue string }
	calls := []call{{"a-1", "sales"}, {"a-2", "sales"}, {"a-1", "support"}, {"a-2", "support"}, {"a-1", "sales"}}
	var ids []string
	for i, c := range calls {
		s, err := d.session.CreateSession(tctx(t), &hushv1.CreateSessionRequest{
			CallId: fmt.Sprintf("labels-%d", i), AgentId: c.agent, Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{},
			Labels: map[string]string{"queue": c.queue, "tenant": "acme"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.session.DeleteSession(tctx(t), &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.RecordingId)
	}
	recs := hushv1.NewRecordingServiceClient(d.conn)
	got, err := recs.GetRecording(tctx(t), &hushv1.GetRecordingRequest{RecordingId: ids[2]})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["queue"] != "support" || got.Labels["tenant"] != "acme" || got.AgentId != "a-1" {
		t.Errorf("recording labels %v agent %q, want the session's", got.Labels, got.AgentId)
	}
	start := func(i int) *hushv1.Recording {
		r, err := recs.GetRecording(tctx(t), &hushv1.GetRecordingRequest{RecordingId: ids[i]})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	list := func(req *hushv1.ListRecordingsRequest) []string {
		t.Helper()
		var out []string
		req.PageSize = 1
		for range 20 {
			resp, err := recs.ListRecordings(tctx(t), req)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range resp.Recordings {
				out = append(out, r.RecordingId)
			}
			if req.PageToken = resp.NextPageToken; req.PageToken == "" {
				return out
			}
		}
		t.Fatal("no last page")
		return nil
	}
	want := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	for _, c := range []struct {
		name string
		req  *hushv1.ListRecordingsRequest
		want []string
	}{
		{"all", &hushv1.ListRecordingsRequest{}, want(4, 3, 2, 1, 0)},
		{"label", &hushv1.ListRecordingsRequest{Labels: map[string]string{"queue": "sales"}}, want(4, 1, 0)},
		{"agent", &hushv1.ListRecordingsRequest{AgentId: "a-2"}, want(3, 1)},
		{"label+agent", &hushv1.ListRecordingsRequest{AgentId: "a-1", Labels: map[string]string{"queue": "sales", "tenant": "acme"}}, want(4, 0)},
		{"time", &hushv1.ListRecordingsRequest{StartTime: start(1).StartTime, EndTime: start(4).StartTime}, want(3, 2, 1)},
		{"time+agent", &hushv1.ListRecordingsRequest{StartTime: start(1).StartTime, AgentId: "a-1"}, want(4, 2)},
		{"no match", &hushv1.ListRecordingsRequest{Labels: map[string]string{"queue": "billing"}}, nil},
	} {
		if got := list(c.req); !slices.Equal(got, c.want) {
			t.Errorf("%s: listed %v, want %v", c.name, got, c.want)
		}
	}

	// By state: a call still running is in progress, the ended ones complete.
	live, err := d.session.CreateSession(tctx(t), &hushv1.CreateSessionRequest{
		CallId: "labels-live", AgentId: "a-1", Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = d.session.DeleteSession(tctx(t), &hushv1.DeleteSessionRequest{SessionId: live.SessionId})
	})
	if got := list(&hushv1.ListRecordingsRequest{Status: hushv1.RecordingStatus_RECORDING_STATUS_IN_PROGRESS}); !slices.Equal(got, []string{live.RecordingId}) {
		t.Errorf("in progress: listed %v, want %v", got, live.RecordingId)
	}
	if got := list(&hushv1.ListRecordingsRequest{Status: hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE, AgentId: "a-1"}); !slices.Equal(got, want(4, 2, 0)) {
		t.Errorf("complete, agent a-1: listed %v, want %v", got, want(4, 2, 0))
	}
}
