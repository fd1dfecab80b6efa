package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// serve runs services on an in-memory listener and returns the dial option
// that reaches it.
func serve(t *testing.T, register func(*grpc.Server)) grpc.DialOption {
	t.Helper()
	srv := grpc.NewServer()
	register(srv)
	return serveOn(t, srv)
}

// serveOn serves srv on an in-memory listener until the test ends.
func serveOn(t *testing.T, srv *grpc.Server) grpc.DialOption {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })
}

// ctlTo runs hushctl against dial with stdout going to w.
func ctlTo(t *testing.T, dial grpc.DialOption, w io.Writer, args ...string) (code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var errOut bytes.Buffer
	args = append([]string{"--addr", "passthrough:///bufnet"}, args...)
	code = run(ctx, args, strings.NewReader(""), w, &errOut, func(string) (string, bool) { return "", false }, dial)
	return code, errOut.String()
}

func ctl(t *testing.T, dial grpc.DialOption, args ...string) result {
	t.Helper()
	var out bytes.Buffer
	code, errOut := ctlTo(t, dial, &out, args...)
	return result{code, out.String(), errOut}
}

// fakeRecordings serves canned recordings.
type fakeRecordings struct {
	hushv1.UnimplementedRecordingServiceServer
	mu       sync.Mutex
	requests []proto.Message
	pages    []*hushv1.ListRecordingsResponse // answers to successive ListRecordings
	rec      *hushv1.Recording
	wav      []byte
	// tamper, when set, may change each chunk before it is sent; returning
	// false ends the stream there.
	tamper func(m *hushv1.DownloadRecordingResponse) bool
}

func (f *fakeRecordings) record(m proto.Message) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, proto.Clone(m))
	return len(f.requests) - 1
}

func (f *fakeRecordings) reqs() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeRecordings) ListRecordings(_ context.Context, r *hushv1.ListRecordingsRequest) (*hushv1.ListRecordingsResponse, error) {
	n := f.record(r) // tests that list make only list calls
	if n >= len(f.pages) {
		return nil, status.Error(codes.Internal, "no more pages")
	}
	return f.pages[n], nil
}

func (f *fakeRecordings) GetRecording(_ context.Context, r *hushv1.GetRecordingRequest) (*hushv1.Recording, error) {
	f.record(r)
	if f.rec == nil || r.GetRecordingId() != f.rec.GetRecordingId() {
		return nil, status.Error(codes.NotFound, "recording not found")
	}
	return f.rec, nil
}

// chunkSize is smaller than hushd's so a small file still spans chunks.
const chunkSize = 16 << 10

func (f *fakeRecordings) DownloadRecording(r *hushv1.DownloadRecordingRequest, stream grpc.ServerStreamingServer[hushv1.DownloadRecordingResponse]) error {
	f.record(r)
	if f.rec == nil || r.GetRecordingId() != f.rec.GetRecordingId() {
		return status.Error(codes.NotFound, "recording not found")
	}
	size := uint64(len(f.wav))
	if r.GetOffset() > size {
		return status.Error(codes.OutOfRange, "offset is past the end of the recording")
	}
	for off := r.GetOffset(); off < size; {
		end := min(off+chunkSize, size)
		m := &hushv1.DownloadRecordingResponse{Chunk: bytes.Clone(f.wav[off:end]), Offset: off, Size: size}
		if f.tamper != nil && !f.tamper(m) {
			return nil
		}
		if err := stream.Send(m); err != nil {
			return err
		}
		off = end
	}
	return nil
}

func at(sec int) *timestamppb.Timestamp {
	return timestamppb.New(created.AsTime().Add(time.Duration(sec) * time.Second))
}

// testWAV is deterministic bytes standing in for a WAV file.
func testWAV(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func recording(id string, wav []byte) *hushv1.Recording {
	return &hushv1.Recording{
		RecordingId: id, SessionId: "s-1", CallId: "call-" + id, AgentId: "agent-7",
		Status:    hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE,
		StartTime: at(0), EndTime: at(90), Duration: durationpb.New(90 * time.Second),
		SizeBytes: uint64(len(wav)), Sha256: sum(wav),
		Pauses: []*hushv1.Span{{StartSample: 40000, EndSample: 280000, StartTime: at(5), EndTime: at(35),
			Behavior: hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP, Reason: "card payment"}},
		Masks: []*hushv1.Span{
			{StartSample: 8000, EndSample: 8800, StartTime: at(1), EndTime: at(1), Leg: hushv1.LegName_LEG_NAME_CUSTOMER},
			{StartSample: 16000, EndSample: 16400, StartTime: at(2), EndTime: at(2), Leg: hushv1.LegName_LEG_NAME_AGENT},
		},
		Actions: []*hushv1.RecordingAction{
			{Time: at(5), Actor: "agent-7", Action: "pause", RequestId: "r-3", Reason: "card payment"},
			{Time: at(35), Actor: "agent-7", Action: "resume"},
		},
		Labels: map[string]string{"queue": "sales"},
	}
}

func startRecordings(t *testing.T, f *fakeRecordings) grpc.DialOption {
	t.Helper()
	return serve(t, func(s *grpc.Server) { hushv1.RegisterRecordingServiceServer(s, f) })
}

func TestRecordingListFollowsPages(t *testing.T) {
	f := &fakeRecordings{pages: []*hushv1.ListRecordingsResponse{
		{Recordings: []*hushv1.Recording{recording("r-1", nil), recording("r-2", nil)}, NextPageToken: "r-2"},
		{Recordings: []*hushv1.Recording{recording("r-3", nil)}},
	}}
	r := ctl(t, startRecordings(t, f), "recording", "list", "--call-id", "c-1", "--page-size", "2",
		"--since", "2026-11-26T20:00:00Z", "--until=2026-11-26T23:00:00.5+01:00",
		"--agent-id", "a-7", "--label", "queue=sales", "--label", "tenant=acme")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	contains(t, "output", r.stdout, "RECORDING", "CALL ID", "STATUS", "r-1", "r-2", "r-3", "call-r-3",
		"complete", "2026-11-26T21:00:00Z", "1m30s", "3 recording(s)")
	since := timestamppb.New(time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC))
	until := timestamppb.New(time.Date(2026, 11, 26, 22, 0, 0, 5e8, time.UTC))
	labels := map[string]string{"queue": "sales", "tenant": "acme"}
	want := []proto.Message{
		&hushv1.ListRecordingsRequest{CallId: "c-1", AgentId: "a-7", Labels: labels, PageSize: 2, StartTime: since, EndTime: until},
		&hushv1.ListRecordingsRequest{CallId: "c-1", AgentId: "a-7", Labels: labels, PageSize: 2, StartTime: since, EndTime: until, PageToken: "r-2"},
	}
	got := f.reqs()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("request %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestRecordingListJSON(t *testing.T) {
	f := &fakeRecordings{pages: []*hushv1.ListRecordingsResponse{
		{Recordings: []*hushv1.Recording{recording("r-1", nil)}, NextPageToken: "r-1"},
		{Recordings: []*hushv1.Recording{recording("r-2", nil)}},
	}}
	r := ctl(t, startRecordings(t, f), "recording", "list", "--json")
	var got hushv1.ListRecordingsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Recordings) != 2 || got.NextPageToken != "" {
		t.Fatalf("list --json: exit %d %v %v\n%s", r.code, err, &got, r.stdout)
	}
	if !proto.Equal(got.Recordings[1], recording("r-2", nil)) {
		t.Errorf("second recording %v", got.Recordings[1])
	}
}

// A server that repeats its page token does not loop the client forever.
func TestRecordingListRepeatedToken(t *testing.T) {
	page := &hushv1.ListRecordingsResponse{Recordings: []*hushv1.Recording{recording("r-1", nil)}, NextPageToken: "same"}
	f := &fakeRecordings{pages: []*hushv1.ListRecordingsResponse{page, page, page}}
	r := ctl(t, startRecordings(t, f), "recording", "list")
	if r.code != exitFail {
		t.Fatalf("exit %d, want %d", r.code, exitFail)
	}
	contains(t, "stderr", r.stderr, "repeated page token")
}

func TestRecordingInfo(t *testing.T) {
	wav := testWAV(1000)
	f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
	r := ctl(t, startRecordings(t, f), "recording", "info", "r-1")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	contains(t, "output", r.stdout,
		"recording  r-1\n", "session    s-1\n", "call id    call-r-1\n", "agent id   agent-7\n",
		"status     complete\n", "started    2026-11-26T21:00:00Z\n", "ended      2026-11-26T21:01:30Z\n",
		"duration   1m30s\n", "size       1000 bytes\n", "sha256     "+sum(wav)+"\n", "labels     queue=sales\n",
		"pauses: 1\n  2026-11-26T21:00:05Z .. 2026-11-26T21:00:35Z  samples 40000-280000 (5s-35s)  skip reason=\"card payment\"\n",
		"masks: 2\n  2026-11-26T21:00:01Z .. 2026-11-26T21:00:01Z  samples 8000-8800 (1s-1.1s)  leg customer\n",
		"  2026-11-26T21:00:02Z .. 2026-11-26T21:00:02Z  samples 16000-16400 (2s-2.05s)  leg agent\n",
		"actions: 2\n  2026-11-26T21:00:05Z  pause by=agent-7 request=r-3 reason=\"card payment\"\n",
		"  2026-11-26T21:00:35Z  resume by=agent-7\n")
	if !proto.Equal(f.reqs()[0], &hushv1.GetRecordingRequest{RecordingId: "r-1"}) {
		t.Errorf("request %v", f.reqs()[0])
	}

	r = ctl(t, startRecordings(t, f), "--json", "recording", "info", "r-1")
	var got hushv1.Recording
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil || !proto.Equal(&got, f.rec) {
		t.Errorf("info --json: %v\n%s", err, r.stdout)
	}

	r = ctl(t, startRecordings(t, f), "recording", "info", "r-9")
	if r.code != exitFail || r.stdout != "" {
		t.Fatalf("missing recording: exit %d, stdout %q", r.code, r.stdout)
	}
	contains(t, "stderr", r.stderr, "NotFound", "recording not found")
}

// An empty sidecar still prints, with dashes and zero counts.
func TestRecordingInfoEmpty(t *testing.T) {
	f := &fakeRecordings{rec: &hushv1.Recording{RecordingId: "r-0"}}
	r := ctl(t, startRecordings(t, f), "recording", "info", "r-0")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	contains(t, "output", r.stdout, "status     -\n", "sha256     -\n", "pauses: 0\n", "masks: 0\n", "actions: 0\n")
}

const wavSize = 3*chunkSize + 1234 // four chunks, the last one short

func TestRecordingGetToFile(t *testing.T) {
	wav := testWAV(wavSize)
	f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
	path := filepath.Join(t.TempDir(), "r-1.wav")
	r := ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", path)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, wav) {
		t.Fatalf("file differs from the recording (%d bytes, want %d): %v", len(got), len(wav), err)
	}
	if r.stdout != "" {
		t.Errorf("stdout with -o: %q", r.stdout)
	}
	if r.stderr != path+": 50386 bytes, sha256 "+sum(wav)+"\nsha256 matches the sidecar\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v (%v), want 0600", st.Mode(), err)
	}
	want := []proto.Message{
		&hushv1.GetRecordingRequest{RecordingId: "r-1"},
		&hushv1.DownloadRecordingRequest{RecordingId: "r-1"},
	}
	for i, req := range f.reqs() {
		if !proto.Equal(req, want[i]) {
			t.Errorf("request %d %v, want %v", i, req, want[i])
		}
	}
}

func TestRecordingGetToStdout(t *testing.T) {
	wav := testWAV(wavSize)
	f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
	for _, args := range [][]string{{"recording", "get", "r-1"}, {"recording", "get", "-o", "-", "r-1"}} {
		r := ctl(t, startRecordings(t, f), args...)
		if r.code != exitOK || r.stdout != string(wav) {
			t.Fatalf("%v: exit %d, %d bytes on stdout: %s", args, r.code, len(r.stdout), r.stderr)
		}
		contains(t, "stderr", r.stderr, "stdout: 50386 bytes, sha256 "+sum(wav), "sha256 matches the sidecar")
	}
}

// A sidecar whose sha256 does not match what arrived fails with exit 1,
// and so does a chunk corrupted on the way.
func TestRecordingGetChecksumMismatch(t *testing.T) {
	wav := testWAV(wavSize)
	t.Run("sidecar", func(t *testing.T) {
		f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
		f.rec.Sha256 = sum([]byte("something else"))
		r := ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", filepath.Join(t.TempDir(), "x.wav"))
		if r.code != exitFail {
			t.Fatalf("exit %d, want %d: %s", r.code, exitFail, r.stderr)
		}
		contains(t, "stderr", r.stderr, "sha256 mismatch", "hashes to "+sum(wav), "the sidecar says "+f.rec.Sha256)
	})
	t.Run("chunk", func(t *testing.T) {
		f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
		f.tamper = func(m *hushv1.DownloadRecordingResponse) bool {
			if m.Offset == chunkSize {
				m.Chunk[7] ^= 0x40
			}
			return true
		}
		var out bytes.Buffer
		code, stderr := ctlTo(t, startRecordings(t, f), &out, "recording", "get", "r-1")
		if code != exitFail {
			t.Fatalf("exit %d, want %d: %s", code, exitFail, stderr)
		}
		contains(t, "stderr", stderr, "sha256 mismatch")
	})
}

// Resuming keeps the bytes already in the file, replaces anything after
// the offset, and checks the whole file's hash.
func TestRecordingGetOffset(t *testing.T) {
	wav := testWAV(wavSize)
	f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
	path := filepath.Join(t.TempDir(), "r-1.wav")
	const off = chunkSize + 100
	// Stale bytes past the offset, more than the rest of the recording: a
	// resume that did not cut them off would leave a longer file.
	partial := append(bytes.Clone(wav[:off]), bytes.Repeat([]byte("stale"), wavSize)...)
	if err := os.WriteFile(path, partial, 0o600); err != nil {
		t.Fatal(err)
	}
	r := ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", path, "--offset", "16484")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, wav) {
		t.Fatalf("resumed file differs (%d bytes, want %d)", len(got), len(wav))
	}
	contains(t, "stderr", r.stderr, "sha256 "+sum(wav), "sha256 matches the sidecar")
	if want := (&hushv1.DownloadRecordingRequest{RecordingId: "r-1", Offset: off}); !proto.Equal(f.reqs()[1], want) {
		t.Errorf("download request %v, want %v", f.reqs()[1], want)
	}

	// To stdout only the tail is written, and its hash cannot be checked.
	r = ctl(t, startRecordings(t, f), "recording", "get", "r-1", "--offset", "16484")
	if r.code != exitOK || r.stdout != string(wav[off:]) {
		t.Fatalf("exit %d, %d bytes on stdout, want %d: %s", r.code, len(r.stdout), len(wav)-off, r.stderr)
	}
	contains(t, "stderr", r.stderr, "stdout: bytes 16484-50386 of 50386, sha256 of those bytes "+sum(wav[off:]),
		"sha256 not checked: only part of the file was written")

	// Resuming at the very end receives nothing and still checks the file.
	r = ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", path, "--offset", "50386")
	if r.code != exitOK {
		t.Fatalf("offset at end: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "stderr", r.stderr, "sha256 matches the sidecar")

	// An offset beyond what the file holds would leave a hole.
	short := filepath.Join(t.TempDir(), "short.wav")
	os.WriteFile(short, wav[:10], 0o600)
	r = ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", short, "--offset", "11")
	if r.code != exitUsage {
		t.Fatalf("offset past the file: exit %d, want %d: %s", r.code, exitUsage, r.stderr)
	}
	contains(t, "stderr", r.stderr, "past the end of")
	r = ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", filepath.Join(t.TempDir(), "none"), "--offset", "5")
	if r.code != exitFail {
		t.Fatalf("offset into a missing file: exit %d: %s", r.code, r.stderr)
	}
}

// A stream that stops short fails, keeps what arrived, and says where to resume.
func TestRecordingGetShort(t *testing.T) {
	wav := testWAV(wavSize)
	f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
	f.tamper = func(m *hushv1.DownloadRecordingResponse) bool { return m.Offset < 2*chunkSize }
	path := filepath.Join(t.TempDir(), "r-1.wav")
	r := ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", path)
	if r.code != exitFail {
		t.Fatalf("exit %d, want %d: %s", r.code, exitFail, r.stderr)
	}
	contains(t, "stderr", r.stderr, "stream ended at byte 32768 of 50386", "resume with --offset 32768")
	if got, _ := os.ReadFile(path); !bytes.Equal(got, wav[:2*chunkSize]) {
		t.Errorf("kept %d bytes, want the %d that arrived", len(got), 2*chunkSize)
	}

	f.tamper = nil
	r = ctl(t, startRecordings(t, f), "recording", "get", "r-1", "-o", path, "--offset", "32768")
	if r.code != exitOK {
		t.Fatalf("resume: exit %d: %s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, wav) {
		t.Error("resumed file differs from the recording")
	}
}

// An in-progress recording is downloaded but its hash is not compared.
func TestRecordingGetInProgress(t *testing.T) {
	wav := testWAV(1000)
	f := &fakeRecordings{rec: recording("r-1", nil), wav: wav}
	f.rec.Status = hushv1.RecordingStatus_RECORDING_STATUS_IN_PROGRESS
	r := ctl(t, startRecordings(t, f), "recording", "get", "r-1")
	if r.code != exitOK || r.stdout != string(wav) {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	contains(t, "stderr", r.stderr, "sha256 not checked: recording is in-progress")
}

func TestRecordingGetSizeMismatch(t *testing.T) {
	wav := testWAV(1000)
	f := &fakeRecordings{rec: recording("r-1", wav), wav: wav}
	f.rec.SizeBytes = 999
	r := ctl(t, startRecordings(t, f), "recording", "get", "r-1")
	if r.code != exitFail {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	contains(t, "stderr", r.stderr, "stdout has 1000 bytes, the sidecar says 999")
}

func TestRecordingUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"recording"}, "recording needs a verb"},
		{[]string{"recording", "play"}, `recording: unknown verb "play"`},
		{[]string{"recording", "info"}, "recording info takes 1 argument(s) ID, got 0"},
		{[]string{"recording", "get"}, "recording get takes 1 argument(s) ID, got 0"},
		{[]string{"recording", "list", "--since", "yesterday"}, "--since wants an RFC 3339 time"},
		{[]string{"recording", "list", "--until", "2026-11-26"}, "--until wants an RFC 3339 time"},
		{[]string{"recording", "list", "--since", "2026-11-26T21:00:00Z", "--until", "2026-11-26T21:00:00Z"}, "--until must be after --since"},
		{[]string{"recording", "list", "--page-size", "-1"}, "--page-size"},
		{[]string{"recording", "get", "r-1", "--offset", "-1"}, "invalid value"},
		{[]string{"recording", "get", "r-1", "--offset", "9223372036854775807"}, "--offset too large"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := &fakeRecordings{}
			r := ctl(t, startRecordings(t, f), tt.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, exitUsage, r.stderr)
			}
			contains(t, "stderr", r.stderr, tt.want)
			if reqs := f.reqs(); len(reqs) != 0 {
				t.Errorf("a usage error still called the server: %v", reqs)
			}
		})
	}
}

func TestRecordingHelp(t *testing.T) {
	r := ctl(t, startRecordings(t, &fakeRecordings{}), "--help")
	for _, v := range recordingVerbs {
		contains(t, "usage", r.stdout, "recording "+v.name)
	}
	r = ctl(t, startRecordings(t, &fakeRecordings{}), "recording", "get", "--help")
	if r.code != exitOK {
		t.Fatalf("exit %d", r.code)
	}
	contains(t, "get usage", r.stdout, "Usage: hushctl recording get ID", "-o FILE", "-offset N", "resumes")
	r = ctl(t, startRecordings(t, &fakeRecordings{}), "recording", "list", "-h")
	contains(t, "list usage", r.stdout, "-call-id", "-since time", "-until time", "-page-size")
}

// receive holds a server to the DownloadRecording contract.
func TestReceive(t *testing.T) {
	chunk := func(off, size uint64, data string) *hushv1.DownloadRecordingResponse {
		return &hushv1.DownloadRecordingResponse{Chunk: []byte(data), Offset: off, Size: size}
	}
	tests := []struct {
		name   string
		start  uint64
		msgs   []*hushv1.DownloadRecordingResponse
		end    uint64
		bad    bool
		output string
	}{
		{"whole", 0, []*hushv1.DownloadRecordingResponse{chunk(0, 6, "abc"), chunk(3, 6, "def")}, 6, false, "abcdef"},
		{"resumed", 2, []*hushv1.DownloadRecordingResponse{chunk(2, 4, "cd")}, 4, false, "cd"},
		{"nothing", 5, nil, 5, false, ""},
		{"gap", 0, []*hushv1.DownloadRecordingResponse{chunk(0, 6, "abc"), chunk(4, 6, "ef")}, 3, true, "abc"},
		{"wrong start", 2, []*hushv1.DownloadRecordingResponse{chunk(0, 4, "abcd")}, 2, true, ""},
		{"overlap", 0, []*hushv1.DownloadRecordingResponse{chunk(0, 6, "abc"), chunk(2, 6, "cdef")}, 3, true, "abc"},
		{"overrun", 0, []*hushv1.DownloadRecordingResponse{chunk(0, 2, "abc")}, 0, true, ""},
		{"size below offset", 4, []*hushv1.DownloadRecordingResponse{chunk(4, 3, "x")}, 4, true, ""},
		{"size sentinel", 0, []*hushv1.DownloadRecordingResponse{chunk(0, ^uint64(0), "x")}, 0, true, ""},
		{"size changes", 0, []*hushv1.DownloadRecordingResponse{chunk(0, 6, "abc"), chunk(3, 7, "def")}, 3, true, "abc"},
		{"empty chunk", 0, []*hushv1.DownloadRecordingResponse{chunk(0, 6, "")}, 0, true, ""},
		{"short", 0, []*hushv1.DownloadRecordingResponse{chunk(0, 6, "abc")}, 3, true, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			end, _, err := receive(replay(tt.msgs, nil), &out, tt.start)
			if tt.bad != errors.Is(err, errDownload) {
				t.Errorf("err %v, want errDownload: %v", err, tt.bad)
			}
			if !tt.bad && err != nil {
				t.Errorf("err %v", err)
			}
			if end != tt.end || out.String() != tt.output {
				t.Errorf("end %d output %q, want %d %q", end, out.String(), tt.end, tt.output)
			}
		})
	}
	// A transport error is passed through as it is.
	boom := status.Error(codes.Unavailable, "gone")
	if _, _, err := receive(replay(nil, boom), io.Discard, 0); err != boom {
		t.Errorf("err %v, want %v", err, boom)
	}
}

// replay returns a Recv that yields msgs, then final (io.EOF when nil).
func replay(msgs []*hushv1.DownloadRecordingResponse, final error) func() (*hushv1.DownloadRecordingResponse, error) {
	if final == nil {
		final = io.EOF
	}
	return func() (*hushv1.DownloadRecordingResponse, error) {
		if len(msgs) == 0 {
			return nil, final
		}
		m := msgs[0]
		msgs = msgs[1:]
		return m, nil
	}
}

// FuzzReceive: whatever chunks a server sends, receive never panics, and
// when it accepts them they were exactly the bytes from start to size.
func FuzzReceive(f *testing.F) {
	f.Add(uint64(0), uint64(6), []byte{0, 3, 3, 3}, []byte("abcdef"))
	f.Add(uint64(2), uint64(4), []byte{2, 2}, []byte("cd"))
	f.Add(uint64(0), uint64(6), []byte{0, 3, 4, 2}, []byte("abcdef"))
	f.Add(uint64(0), uint64(1), []byte{0, 0}, []byte("x"))
	f.Fuzz(func(t *testing.T, start, size uint64, plan, data []byte) {
		// plan is pairs (offset, length) of chunks cut from data.
		var msgs []*hushv1.DownloadRecordingResponse
		for i := 0; i+1 < len(plan); i += 2 {
			off, n := int(plan[i]), int(plan[i+1])
			if off+n > len(data) {
				n = max(len(data)-off, 0)
			}
			var c []byte
			if off < len(data) {
				c = data[off : off+n]
			}
			msgs = append(msgs, &hushv1.DownloadRecordingResponse{Chunk: c, Offset: start + uint64(off), Size: size})
		}
		var out bytes.Buffer
		end, _, err := receive(replay(msgs, nil), &out, start)
		if err != nil && !errors.Is(err, errDownload) {
			t.Fatalf("unexpected error %v", err)
		}
		if end-start != uint64(out.Len()) {
			t.Fatalf("end %d after %d bytes from %d", end, out.Len(), start)
		}
		if err == nil && len(msgs) > 0 && (end != size || !bytes.Equal(out.Bytes(), data[:out.Len()])) {
			t.Fatalf("accepted %d bytes ending at %d of size %d", out.Len(), end, size)
		}
	})
}

// --status asks the server for one state; an unknown one is a usage error.
func TestRecordingListStatus(t *testing.T) {
	f := &fakeRecordings{pages: []*hushv1.ListRecordingsResponse{{Recordings: []*hushv1.Recording{recording("r-1", nil)}}}}
	r := ctl(t, startRecordings(t, f), "recording", "list", "--status", "failed")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := f.reqs(); len(got) != 1 || got[0].(*hushv1.ListRecordingsRequest).GetStatus() != hushv1.RecordingStatus_RECORDING_STATUS_FAILED {
		t.Errorf("requests %v, want one for status failed", got)
	}
	r = ctl(t, startRecordings(t, &fakeRecordings{}), "recording", "list", "--status", "lost")
	if r.code != exitUsage {
		t.Errorf("--status lost: exit %d, want %d", r.code, exitUsage)
	}
	contains(t, "stderr", r.stderr, "--status")
}
