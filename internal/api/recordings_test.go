package api

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
	"github.com/hushmedia/hush/media/record/seal"
	"github.com/hushmedia/hush/media/record/store"
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
	return recordingClientAs(t, dir, auth.Identity{Subject: "quinn", Role: auth.RoleQA, Method: auth.MethodToken}, nil, nil)
}

// recordingClientAs serves the recordings of dir to a caller of identity id (put in the
// context as the authorizer would), reading sealed ones with kr and auditing to aud.
func recordingClientAs(t *testing.T, dir string, id auth.Identity, kr seal.Keyring, aud audit.Auditor) hushv1.RecordingServiceClient {
	return recordingClientFor(t, dir, &id, kr, aud)
}

// recordingClientFor is recordingClientAs with an identity the test may change between calls.
func recordingClientFor(t *testing.T, dir string, id *auth.Identity, kr seal.Keyring, aud audit.Auditor) hushv1.RecordingServiceClient {
	t.Helper()
	ln := bufconn.Listen(1 << 20)
	as := func(ctx context.Context) context.Context { return auth.NewContext(ctx, *id) }
	g := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			return h(as(ctx), req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, ctxStream{ss, as(ss.Context())})
		}))
	var ropts []record.Option
	if kr != nil {
		ropts = append(ropts, record.WithKeyring(kr))
	}
	idx, _, err := index.Open(context.Background(), dir, index.WithRecordOptions(ropts...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	files := store.New(store.Options{Root: dir, Index: idx, Record: ropts})
	hushv1.RegisterRecordingServiceServer(g, &RecordingServer{store: idx, files: files, aud: aud})
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

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s ctxStream) Context() context.Context { return s.ctx }

// auditLog is an Auditor that keeps what it is given.
type auditLog struct {
	mu   sync.Mutex
	recs []string
}

func (a *auditLog) Record(ctx context.Context, action, _, _, outcome, detail string) error {
	who := ""
	if id, ok := auth.FromContext(ctx); ok {
		who = id.Subject
	}
	a.mu.Lock()
	a.recs = append(a.recs, strings.Join([]string{who, action, outcome, detail}, " "))
	a.mu.Unlock()
	return nil
}

func (a *auditLog) has(parts ...string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
next:
	for _, r := range a.recs {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		return true
	}
	return false
}

func download(t *testing.T, c hushv1.RecordingServiceClient, id string) ([]byte, error) {
	t.Helper()
	st, err := c.DownloadRecording(context.Background(), &hushv1.DownloadRecordingRequest{RecordingId: id})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for range 10000 {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		b.Write(m.Chunk)
	}
	return b.Bytes(), nil
}

// TestSealedRecordingDownload: a recording encrypted at rest is served decrypted to qa and
// admin only, each download audited with who and which recording; an altered file is
// refused (DATA_LOSS), never served short.
func TestSealedRecordingDownload(t *testing.T) {
	dir := t.TempDir()
	kr, err := seal.ParseKeyFile([]byte("k1 " + strings.Repeat("Q", 43) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.New(dir, record.Meta{RecordingID: "rec-s", CallID: "call-9"}, record.WithSealing(kr))
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(1000 + i)
	}
	rec.Write(record.LegCustomer, 1, 0, pcm)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	aud := &auditLog{}
	id := auth.Identity{Subject: "quinn", Role: auth.RoleQA, Method: auth.MethodToken}
	qa := recordingClientFor(t, dir, &id, kr, aud)
	got, err := download(t, qa, "rec-s")
	if err != nil {
		t.Fatal(err)
	}
	w, err := record.OpenWAV(dir, "rec-s", record.WithKeyring(kr))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, w.Size)
	w.ReadAt(want, 0)
	w.Close()
	if !bytes.Equal(got, want) || string(got[:4]) != "RIFF" {
		t.Fatalf("download is not the decrypted WAV (%d vs %d bytes)", len(got), len(want))
	}
	r, err := qa.GetRecording(context.Background(), &hushv1.GetRecordingRequest{RecordingId: "rec-s"})
	if err != nil || !r.Encrypted || r.SizeBytes != uint64(len(got)) {
		t.Fatalf("recording %v %v", r, err)
	}
	if !aud.has("quinn", "recording.download", "OK", "recording_id=rec-s") {
		t.Fatalf("download not audited: %v", aud.recs)
	}
	// Any other role is refused, even if the method table were to let it through.
	id = auth.Identity{Subject: "a-1", Role: auth.RoleAgent, Method: auth.MethodToken}
	if _, err := download(t, qa, "rec-s"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent download: %v", err)
	}
	id = auth.Identity{Subject: "quinn", Role: auth.RoleQA, Method: auth.MethodToken}
	if !aud.has("a-1", "recording.download", "PermissionDenied") {
		t.Fatalf("refusal not audited: %v", aud.recs)
	}
	// One byte altered: refused.
	b, _ := os.ReadFile(dir + "/rec-s.wav")
	b[len(b)/2] ^= 4
	os.WriteFile(dir+"/rec-s.wav", b, 0o600)
	if _, err := download(t, qa, "rec-s"); status.Code(err) != codes.DataLoss {
		t.Fatalf("tampered download: %v", err)
	}
}

// TestEraseRecordingAPI: erasure by call id removes every recording of the call from the
// disk and the index, refuses a recording on legal hold, and is audited.
func TestEraseRecordingAPI(t *testing.T) {
	dir := t.TempDir()
	for i, id := range []string{"rec-a", "rec-b", "rec-c"} {
		makeRecording(t, dir, id, []string{"call-1", "call-2", "call-1"}[i])
	}
	aud := &auditLog{}
	c := recordingClientAs(t, dir, auth.Identity{Subject: "root", Role: auth.RoleAdmin, Method: auth.MethodToken}, nil, aud)
	ctx := context.Background()
	if _, err := c.SetLegalHold(ctx, &hushv1.SetLegalHoldRequest{RecordingId: "rec-c", Hold: true, Reason: "case 12"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EraseRecording(ctx, &hushv1.EraseRecordingRequest{CallId: "call-1", Reason: "gdpr"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("erase with a held recording: %v", err)
	}
	r, err := c.SetLegalHold(ctx, &hushv1.SetLegalHoldRequest{RecordingId: "rec-c", Hold: false})
	if err != nil || r.LegalHold != nil {
		t.Fatalf("lift: %v %v", r, err)
	}
	resp, err := c.EraseRecording(ctx, &hushv1.EraseRecordingRequest{CallId: "call-1", Reason: "gdpr"})
	if err != nil || len(resp.RecordingIds) != 2 {
		t.Fatalf("erase: %v %v", resp, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "rec-a") || strings.HasPrefix(e.Name(), "rec-c") {
			t.Errorf("left on disk: %s", e.Name())
		}
	}
	list, err := c.ListRecordings(ctx, &hushv1.ListRecordingsRequest{})
	if err != nil || len(list.Recordings) != 1 || list.Recordings[0].RecordingId != "rec-b" {
		t.Fatalf("listed after erase: %v %v", list, err)
	}
	if !aud.has("root", "recording.erase", "OK", "call_id=call-1", "reason=gdpr", "rec-a removed from disk+index") ||
		!aud.has("root", "recording.hold", "hold=true", "case 12") {
		t.Fatalf("audit: %v", aud.recs)
	}
	for _, bad := range []*hushv1.EraseRecordingRequest{{}, {RecordingId: "rec-b", CallId: "call-2"}, {RecordingId: "../x"}} {
		if _, err := c.EraseRecording(ctx, bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("erase %v: %v", bad, err)
		}
	}
	if _, err := c.EraseRecording(ctx, &hushv1.EraseRecordingRequest{RecordingId: "rec-a"}); status.Code(err) != codes.NotFound {
		t.Errorf("erase again: %v", err)
	}
}

// TestListRecordingsByStatus: QA finds recordings by state (a failed or still open one
// among many complete) through the API, not by reading every page.
func TestListRecordingsByStatus(t *testing.T) {
	dir := t.TempDir()
	makeRecording(t, dir, "rec-a", "call-1")
	makeRecording(t, dir, "rec-b", "call-2")
	open, err := record.New(dir, record.Meta{RecordingID: "rec-open", SessionID: "rec-open", CallID: "call-3", AgentID: "agent-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = open.Close() })
	c := recordingClient(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for st, want := range map[hushv1.RecordingStatus][]string{
		hushv1.RecordingStatus_RECORDING_STATUS_IN_PROGRESS: {"rec-open"},
		hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE:    {"rec-a", "rec-b"},
		hushv1.RecordingStatus_RECORDING_STATUS_FAILED:      nil,
		hushv1.RecordingStatus_RECORDING_STATUS_UNSPECIFIED: {"rec-a", "rec-b", "rec-open"},
	} {
		resp, err := c.ListRecordings(ctx, &hushv1.ListRecordingsRequest{Status: st})
		if err != nil {
			t.Fatalf("%v: %v", st, err)
		}
		var got []string
		for _, r := range resp.Recordings {
			if st != hushv1.RecordingStatus_RECORDING_STATUS_UNSPECIFIED && r.Status != st {
				t.Errorf("%v: listed %s, %v", st, r.RecordingId, r.Status)
			}
			got = append(got, r.RecordingId)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("status %v: %v, want %v", st, got, want)
		}
	}
	if _, err := c.ListRecordings(ctx, &hushv1.ListRecordingsRequest{Status: 99}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("status 99: %v, want InvalidArgument", err)
	}
}
