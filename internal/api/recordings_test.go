package api

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// makeRecording writes a short real recording with the record library.
func makeRecording(t *testing.T, dir, id, call string) {
	t.Helper()
	rec, err := record.New(dir, record.Meta{RecordingID: id, SessionID: id, CallID: call, AgentID: "agent-1"})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 100)
	}
	for f := 0; f < 10; f++ {
		if err := rec.Write(record.LegCustomer, 1, uint32(f*160), pcm); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.Pause(record.PauseSilence, record.Action{Actor: "agent-1", Reason: "card payment"}); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

func recordingClient(t *testing.T, dir string) hushv1.RecordingServiceClient {
	t.Helper()
	ln := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	idx, _, err := index.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	hushv1.RegisterRecordingServiceServer(g, &RecordingServer{store: idx})
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return hushv1.NewRecordingServiceClient(conn)
}

func TestRecordingService(t *testing.T) {
	dir := t.TempDir()
	for i, id := range []string{"rec-a", "rec-b", "rec-c"} {
		makeRecording(t, dir, id, []string{"call-1", "call-2", "call-1"}[i])
	}
	c := recordingClient(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Paging through all, then a filter by call id.
	var ids []string
	tok := ""
	for i := 0; i < 5; i++ {
		resp, err := c.ListRecordings(ctx, &hushv1.ListRecordingsRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Recordings {
			ids = append(ids, r.RecordingId)
		}
		if tok = resp.NextPageToken; tok == "" {
			break
		}
	}
	if len(ids) != 3 {
		t.Fatalf("listed %v", ids)
	}
	resp, err := c.ListRecordings(ctx, &hushv1.ListRecordingsRequest{CallId: "call-1"})
	if err != nil || len(resp.Recordings) != 2 {
		t.Fatalf("filter: %v %v", resp, err)
	}

	got, err := c.GetRecording(ctx, &hushv1.GetRecordingRequest{RecordingId: "rec-b"})
	if err != nil {
		t.Fatal(err)
	}
	if got.CallId != "call-2" || got.Status != hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE || len(got.Sha256) != 64 ||
		len(got.Pauses) != 1 || got.Pauses[0].Reason != "card payment" {
		t.Fatalf("recording %v", got)
	}

	// Download whole, and resumed from an offset; both match the file.
	want, err := os.ReadFile(dir + "/rec-b.wav")
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []uint64{0, 100} {
		st, err := c.DownloadRecording(ctx, &hushv1.DownloadRecordingRequest{RecordingId: "rec-b", Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for i := 0; i < 1000; i++ {
			m, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Size != uint64(len(want)) || m.Offset != off+uint64(b.Len()) {
				t.Fatalf("chunk offset %d size %d", m.Offset, m.Size)
			}
			b.Write(m.Chunk)
		}
		if !bytes.Equal(b.Bytes(), want[off:]) {
			t.Fatalf("download from %d differs", off)
		}
	}

	for _, c2 := range []struct {
		id   string
		code codes.Code
	}{{"nope", codes.NotFound}, {"../etc/passwd", codes.InvalidArgument}, {"", codes.InvalidArgument}} {
		_, err := c.GetRecording(ctx, &hushv1.GetRecordingRequest{RecordingId: c2.id})
		if status.Code(err) != c2.code {
			t.Errorf("get %q: %v", c2.id, err)
		}
	}
	st, _ := c.DownloadRecording(ctx, &hushv1.DownloadRecordingRequest{RecordingId: "rec-b", Offset: 1 << 40})
	if _, err := st.Recv(); status.Code(err) != codes.OutOfRange {
		t.Errorf("offset past end: %v", err)
	}
}

// TestListRecordingsStopsWhenCallerGivesUp: a ListRecordings whose caller has gone (its
// context cancelled or past its deadline) does no work and says so.
func TestListRecordingsStopsWhenCallerGivesUp(t *testing.T) {
	dir := t.TempDir()
	makeRecording(t, dir, "rec-a", "call-1")
	idx, _, err := index.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	srv := &RecordingServer{store: idx}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := srv.ListRecordings(ctx, &hushv1.ListRecordingsRequest{}); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled: %v", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := srv.ListRecordings(ctx, &hushv1.ListRecordingsRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("past its deadline: %v", err)
	}
	if _, err := srv.ListRecordings(context.Background(), &hushv1.ListRecordingsRequest{PageToken: "bogus"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad page token: %v", err)
	}
}
