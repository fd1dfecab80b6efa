package web

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// busyStore holds 3,000 complete recordings and one failed one, the oldest, and answers
// ListRecordings as the index does (status filter included), 100 a page.
type busyStore struct {
	hushv1.UnimplementedRecordingServiceServer
	mu   sync.Mutex
	reqs []*hushv1.ListRecordingsRequest
}

const busyN = 3000

func (b *busyStore) ListRecordings(_ context.Context, r *hushv1.ListRecordingsRequest) (*hushv1.ListRecordingsResponse, error) {
	b.mu.Lock()
	b.reqs = append(b.reqs, r)
	b.mu.Unlock()
	from, _ := strconv.Atoi(r.GetPageToken())
	out := &hushv1.ListRecordingsResponse{}
	for i := from; i <= busyN && len(out.Recordings) < 100; i++ {
		st := hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE
		if i == busyN {
			st = hushv1.RecordingStatus_RECORDING_STATUS_FAILED
		}
		if r.GetStatus() != hushv1.RecordingStatus_RECORDING_STATUS_UNSPECIFIED && r.GetStatus() != st {
			continue
		}
		out.Recordings = append(out.Recordings, &hushv1.Recording{RecordingId: "rec-" + strconv.Itoa(i), CallId: "call-" + strconv.Itoa(i),
			Status: st, StartTime: timestamppb.Now()})
		if len(out.Recordings) == 100 && i < busyN {
			out.NextPageToken = strconv.Itoa(i + 1)
		}
	}
	return out, nil
}

// TestSearchByState: the QA console's state search asks the API for that state (over
// HTTP too), so the one failed recording behind 3,000 complete ones is found.
func TestSearchByState(t *testing.T) {
	b := &busyStore{}
	srv := pages(t, b)
	resp, page, _ := getPage(t, srv.URL+"/qa?state=failed")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, page)
	}
	if !strings.Contains(page, "call-3000") {
		t.Errorf("the failed recording is not on the page")
	}
	if strings.Contains(page, "call-1\"") || strings.Contains(page, ">call-1<") {
		t.Errorf("a complete recording is on a search for failed ones")
	}
	b.mu.Lock()
	first := b.reqs[0]
	b.mu.Unlock()
	if first.GetStatus() != hushv1.RecordingStatus_RECORDING_STATUS_FAILED {
		t.Errorf("the console asked for status %v", first.GetStatus())
	}

	// The same filter over the HTTP/JSON API.
	resp, body, _ := getPage(t, srv.URL+"/v1/recordings?status=RECORDING_STATUS_FAILED")
	if resp.StatusCode != 200 || !strings.Contains(body, "rec-3000") || strings.Contains(body, `"rec-1"`) {
		t.Errorf("GET /v1/recordings?status=RECORDING_STATUS_FAILED: %d %s", resp.StatusCode, body)
	}
}
