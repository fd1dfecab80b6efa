package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/record"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestListRecordingsAtScale: with 5,000 recordings on disk (filed by day, some flat from
// before that layout), 40 QA clients listing at once each get their page of 50, by agent
// and by label, within the 5 s deadline of one call: hushd reads the page from its index,
// not every sidecar per page (which took about half a second of CPU per page at this size, and
// kept going after the clients gave up).
func TestListRecordingsAtScale(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "recordings")
	const n = 5_000
	base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for i := range n {
		start := base.Add(time.Duration(i) * 2 * time.Minute)
		dir := filepath.Join(root, record.DateDir(start))
		if i%10 == 0 {
			dir = root // from before the dated layout
		}
		id := fmt.Sprintf("scale-%05d", i)
		sc := record.Sidecar{
			Version: 1, RecordingID: id, SessionID: id, CallID: "call-" + id, AgentID: fmt.Sprintf("agent-%02d", i%40),
			Labels: map[string]string{"queue": fmt.Sprintf("q%d", i%7)}, Status: record.StatusComplete, Content: record.ContentFull,
			Start: start, End: start.Add(time.Minute), SampleRate: record.SampleRate, BitsPerSample: record.BitsPerSample,
			Channels: []string{"customer", "agent"}, WAV: id + ".wav", Size: 44,
		}
		b, err := json.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s0 := time.Now()
	d := recordingDaemon(t, root) // indexes the sidecars at start
	startup := time.Since(s0)
	recs := hushv1.NewRecordingServiceClient(d.conn)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	t0 := time.Now()
	for c := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			req := &hushv1.ListRecordingsRequest{PageSize: 50, AgentId: fmt.Sprintf("agent-%02d", c)}
			if c%2 == 1 {
				req = &hushv1.ListRecordingsRequest{PageSize: 50, Labels: map[string]string{"queue": fmt.Sprintf("q%d", c%7)}}
			}
			resp, err := recs.ListRecordings(ctx, req)
			switch {
			case err != nil:
				errs <- fmt.Errorf("client %d: %w", c, err)
			case len(resp.Recordings) != 50 || resp.NextPageToken == "":
				errs <- fmt.Errorf("client %d: %d recordings, next %q", c, len(resp.Recordings), resp.NextPageToken)
			case c%2 == 0 && resp.Recordings[0].AgentId != req.AgentId:
				errs <- fmt.Errorf("client %d: agent %q", c, resp.Recordings[0].AgentId)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("hushd up with %d recordings indexed in %v; 40 concurrent pages of 50 in %v", n, startup.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}
