package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/gateway"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// longCall serves one two-hour recording: a skip pause of 60 s at 10 min, a key mask at
// one hour (of the call's timeline), streamed from a synthetic WAV.
type longCall struct {
	hushv1.UnimplementedRecordingServiceServer
	downloads atomic.Int32
}

const (
	skipAt, skipLen = 600 * 8000, 60 * 8000
	maskAt          = 3600 * 8000
)

func (l *longCall) GetRecording(_ context.Context, r *hushv1.GetRecordingRequest) (*hushv1.Recording, error) {
	return &hushv1.Recording{RecordingId: r.GetRecordingId(), SessionId: "s-1", CallId: "call-2h", AgentId: "a-17",
		Status: hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE, Sha256: "ab", SizeBytes: twoHours*4 + 44,
		Duration: durationpb.New(2 * time.Hour),
		Pauses:   []*hushv1.Span{{StartSample: skipAt, EndSample: skipAt + skipLen, Behavior: hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP, Reason: "card payment"}},
		Masks:    []*hushv1.Span{{StartSample: maskAt, EndSample: maskAt + 640, Leg: hushv1.LegName_LEG_NAME_CUSTOMER}},
		Actions:  []*hushv1.RecordingAction{{Actor: "alice", Action: "pause:skip", Reason: "card payment"}},
	}, nil
}

func (l *longCall) DownloadRecording(_ *hushv1.DownloadRecordingRequest, s grpc.ServerStreamingServer[hushv1.DownloadRecordingResponse]) error {
	l.downloads.Add(1)
	src := newSynth(twoHours, 1200)
	buf := make([]byte, 64<<10)
	var off uint64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if err := s.Send(&hushv1.DownloadRecordingResponse{Chunk: buf[:n], Offset: off, Size: twoHours*4 + 44}); err != nil {
				return err
			}
			off += uint64(n)
		}
		if err != nil {
			return nil
		}
	}
}

type noAudit struct {
	hushv1.UnimplementedAuditServiceServer
}

func (noAudit) ListAuditRecords(context.Context, *hushv1.ListAuditRecordsRequest) (*hushv1.ListAuditRecordsResponse, error) {
	return &hushv1.ListAuditRecordsResponse{Records: []*hushv1.AuditRecord{{Seq: 1, Actor: "alice", Action: "recording.pause", Outcome: "OK"}}}, nil
}

// pages serves the UI in front of rec over the in-process connection, as hushd does.
func pages(t *testing.T, rec hushv1.RecordingServiceServer) *httptest.Server {
	t.Helper()
	a, err := auth.NewAuthorizer(auth.Options{Mode: config.AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	gu, gs := auth.GatewayPeer()
	g := grpc.NewServer(grpc.Creds(auth.GatewayCreds(nil)), grpc.ChainUnaryInterceptor(gu, a.Unary()), grpc.ChainStreamInterceptor(gs, a.Stream()))
	hushv1.RegisterRecordingServiceServer(g, rec)
	hushv1.RegisterAuditServiceServer(g, noAudit{})
	in := auth.NewInProcess()
	go func() { _ = g.Serve(in) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///hushd", grpc.WithContextDialer(in.Dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	gw, err := gateway.New(gateway.Options{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", gw)
	New(Options{Conn: conn, Gateway: gw}).Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getPage(t *testing.T, url string) (*http.Response, string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), time.Since(start)
}

// The recording page of a two-hour call: the waveform is computed once (one download)
// and served from the cache after; spans are placed on the file's timeline (a skip pause
// moves what follows it back); the page carries the strict CSP.
func TestRecordingPageTwoHourCall(t *testing.T) {
	rec := &longCall{}
	srv := pages(t, rec)
	resp, first, took1 := getPage(t, srv.URL+"/qa/recordings/r-2h")
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d %s", resp.StatusCode, first)
	}
	_, second, took2 := getPage(t, srv.URL+"/qa/recordings/r-2h")
	t.Logf("two-hour call: first view %v (waveform computed), second %v (cached)", took1.Round(time.Millisecond), took2.Round(time.Millisecond))
	if n := rec.downloads.Load(); n != 1 {
		t.Errorf("the recording was downloaded %d times for two views, want 1", n)
	}
	if strings.Contains(second, "Waveform computed") || !strings.Contains(first, "Waveform computed") {
		t.Error("the second view computed the waveform again")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != CSP || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	// The file is two hours long and the skipped minute of the call is not in it, so the
	// mask at one hour of the call's timeline is 59 minutes into the file.
	x := attr(t, first, `rect class="span mask" x="`)
	want := float64(maskAt-skipLen) / twoHours * 1200
	if x < want-0.5 || x > want+0.5 {
		t.Errorf("mask drawn at x=%.2f, want %.2f (one hour of the call, less the skipped minute)", x, want)
	}
	if p := attr(t, first, `rect class="span pause" x="`); p < 99.5 || p > 100.5 {
		t.Errorf("skip pause at x=%.2f, want 100 (10 min of 2 h)", p)
	}
	if !strings.Contains(first, "Paused by alice") || !strings.Contains(first, "card payment (left out of the file)") {
		t.Error("the pause is not labelled with who and why")
	}
	for _, ext := range []string{"http://", "https://"} {
		for _, m := range regexp.MustCompile(`(src|href)="([^"]*)"`).FindAllStringSubmatch(first, -1) {
			if strings.HasPrefix(m[2], ext) {
				t.Errorf("the page loads %s from elsewhere", m[2])
			}
		}
	}
}

func attr(t *testing.T, page, prefix string) float64 {
	t.Helper()
	i := strings.Index(page, prefix)
	if i < 0 {
		t.Fatalf("no %q in the page", prefix)
	}
	rest := page[i+len(prefix):]
	v, err := strconv.ParseFloat(rest[:strings.IndexByte(rest, '"')], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
