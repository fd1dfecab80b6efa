package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
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

// fakeServer records requests and answers from canned data.
type fakeServer struct {
	hushv1.UnimplementedSessionServiceServer
	mu       sync.Mutex
	requests []proto.Message
	pages    []*hushv1.ListSessionsResponse // answers to successive ListSessions
	events   []*hushv1.SessionEvent
}

func (f *fakeServer) record(m proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, proto.Clone(m))
}

func (f *fakeServer) last(t *testing.T) proto.Message {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("no request reached the server")
	}
	return f.requests[len(f.requests)-1]
}

var created = timestamppb.New(time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC))

func session(id string) *hushv1.Session {
	return &hushv1.Session{
		SessionId: id, CallId: "call-" + id, AgentId: "agent-7",
		State:              hushv1.SessionState_SESSION_STATE_ACTIVE,
		RecordingState:     hushv1.RecordingState_RECORDING_STATE_ACTIVE,
		SecureCaptureState: hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF,
		Customer: &hushv1.Leg{LocalAddr: "127.0.0.1:30000", LocalRtcpAddr: "127.0.0.1:30001",
			RemoteAddr: "192.0.2.1:4000", Codecs: map[uint32]string{0: "PCMU", 8: "PCMA"}},
		Agent:      &hushv1.Leg{LocalAddr: "127.0.0.1:30002", RtcpMux: true},
		Labels:     map[string]string{"queue": "sales"},
		CreateTime: created,
	}
}

func (f *fakeServer) CreateSession(_ context.Context, r *hushv1.CreateSessionRequest) (*hushv1.Session, error) {
	f.record(r)
	s := session("s-1")
	s.CallId, s.AgentId = r.GetCallId(), r.GetAgentId()
	return s, nil
}

func (f *fakeServer) GetSession(_ context.Context, r *hushv1.GetSessionRequest) (*hushv1.Session, error) {
	f.record(r)
	if r.GetSessionId() != "s-1" {
		return nil, status.Errorf(codes.NotFound, "session %q not found", r.GetSessionId())
	}
	return session("s-1"), nil
}

func (f *fakeServer) ListSessions(_ context.Context, r *hushv1.ListSessionsRequest) (*hushv1.ListSessionsResponse, error) {
	f.record(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.requests) - 1 // this request's index among list calls (tests make only list calls)
	if n >= len(f.pages) {
		return nil, status.Error(codes.Internal, "no more pages")
	}
	return f.pages[n], nil
}

func (f *fakeServer) DeleteSession(_ context.Context, r *hushv1.DeleteSessionRequest) (*hushv1.Session, error) {
	f.record(r)
	s := session(r.GetSessionId())
	s.State, s.EndReason, s.EndTime = hushv1.SessionState_SESSION_STATE_ENDED, hushv1.EndReason_END_REASON_DELETED, created
	return s, nil
}

func (f *fakeServer) WatchSession(r *hushv1.WatchSessionRequest, stream grpc.ServerStreamingServer[hushv1.SessionEvent]) error {
	f.record(r)
	for _, ev := range f.events {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeServer) PauseRecording(_ context.Context, r *hushv1.PauseRecordingRequest) (*hushv1.Session, error) {
	f.record(r)
	s := session(r.GetSessionId())
	s.RecordingState = hushv1.RecordingState_RECORDING_STATE_PAUSED
	return s, nil
}

func (f *fakeServer) ResumeRecording(_ context.Context, r *hushv1.ResumeRecordingRequest) (*hushv1.Session, error) {
	f.record(r)
	return session(r.GetSessionId()), nil
}

func (f *fakeServer) StartSecureCapture(_ context.Context, r *hushv1.StartSecureCaptureRequest) (*hushv1.Session, error) {
	f.record(r)
	s := session(r.GetSessionId())
	s.SecureCaptureState = hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON
	s.DigitProgress = &hushv1.DigitProgress{Masked: "****", Count: 4}
	return s, nil
}

func (f *fakeServer) StopSecureCapture(_ context.Context, r *hushv1.StopSecureCaptureRequest) (*hushv1.Session, error) {
	f.record(r)
	return session(r.GetSessionId()), nil
}

// start serves f on an in-memory listener and returns the dial option
// that reaches it.
func start(t *testing.T, f *fakeServer) grpc.DialOption {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	hushv1.RegisterSessionServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })
}

type result struct {
	code           int
	stdout, stderr string
}

// hushctl runs the command against f with --addr pointing at the bufconn.
func hushctl(t *testing.T, f *fakeServer, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	args = append([]string{"--addr", "passthrough:///bufnet"}, args...)
	code := run(ctx, args, strings.NewReader(""), &out, &errOut, func(string) (string, bool) { return "", false }, start(t, f))
	return result{code, out.String(), errOut.String()}
}

func contains(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

func TestCreate(t *testing.T) {
	f := &fakeServer{}
	r := hushctl(t, f, "session", "create", "--call-id", "c-9", "--agent-id", "a-1", "--request-id", "r-1",
		"--customer-remote", "192.0.2.1:4000", "--agent-remote", "[2001:db8::2]:5000", "--rtcp-mux",
		"--telephone-event-pt", "101", "--label", "queue=sales", "--label", "tenant=acme")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := &hushv1.CreateSessionRequest{
		CallId: "c-9", AgentId: "a-1", RequestId: "r-1",
		Customer: &hushv1.Leg{RemoteAddr: "192.0.2.1:4000", RtcpMux: true, TelephoneEventPt: 101},
		Agent:    &hushv1.Leg{RemoteAddr: "[2001:db8::2]:5000", RtcpMux: true, TelephoneEventPt: 101},
		Labels:   map[string]string{"queue": "sales", "tenant": "acme"},
	}
	if got := f.last(t); !proto.Equal(got, want) {
		t.Errorf("request\n%v\nwant\n%v", got, want)
	}
	contains(t, "output", r.stdout, "session", "s-1", "call id", "c-9", "state", "active",
		"customer leg", "local 127.0.0.1:30000", "rtcp 127.0.0.1:30001", "remote 192.0.2.1:4000",
		"codecs 0=PCMU,8=PCMA", "agent leg", "local 127.0.0.1:30002  rtcp-mux  remote (latch)",
		"labels", "queue=sales", "2026-11-26T21:00:00Z")
}

// --quiet prints the session id alone, for sid=$(hushctl session create --quiet ...).
func TestCreateQuiet(t *testing.T) {
	r := hushctl(t, &fakeServer{}, "session", "create", "--quiet", "--call-id", "c-9")
	if r.code != exitOK || r.stdout != "s-1\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want just the session id", r.code, r.stdout, r.stderr)
	}
}

func TestCreateLatchDefaults(t *testing.T) {
	f := &fakeServer{}
	if r := hushctl(t, f, "session", "create", "--call-id=c"); r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := &hushv1.CreateSessionRequest{CallId: "c", Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{}}
	if got := f.last(t); !proto.Equal(got, want) {
		t.Errorf("request %v, want %v", got, want)
	}
}

func TestGetJSON(t *testing.T) {
	f := &fakeServer{}
	// Global flags after the verb and its argument work too.
	r := hushctl(t, f, "session", "get", "s-1", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got hushv1.Session
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("output is not protojson: %v\n%s", err, r.stdout)
	}
	if !proto.Equal(&got, session("s-1")) {
		t.Errorf("JSON round trip: %v", &got)
	}
	if !proto.Equal(f.last(t), &hushv1.GetSessionRequest{SessionId: "s-1"}) {
		t.Errorf("request %v", f.last(t))
	}
}

func TestGetNotFound(t *testing.T) {
	r := hushctl(t, &fakeServer{}, "session", "get", "nope")
	if r.code != exitFail {
		t.Fatalf("exit %d, want %d", r.code, exitFail)
	}
	contains(t, "stderr", r.stderr, "hushctl: NotFound:", `session "nope" not found`)
	if r.stdout != "" {
		t.Errorf("stdout on failure: %q", r.stdout)
	}
}

func TestListFollowsPages(t *testing.T) {
	f := &fakeServer{pages: []*hushv1.ListSessionsResponse{
		{Sessions: []*hushv1.Session{session("s-1"), session("s-2")}, NextPageToken: "p2", TotalSize: 3},
		{Sessions: []*hushv1.Session{session("s-3")}, TotalSize: 3},
	}}
	r := hushctl(t, f, "session", "list", "--agent-id", "agent-7", "--page-size", "2")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	contains(t, "output", r.stdout, "SESSION", "CALL ID", "s-1", "s-2", "s-3", "call-s-3", "127.0.0.1:30002", "3 session(s)")
	if want := (&hushv1.ListSessionsRequest{AgentId: "agent-7", PageSize: 2, PageToken: "p2"}); !proto.Equal(f.last(t), want) {
		t.Errorf("second request %v, want %v", f.last(t), want)
	}
}

func TestListJSON(t *testing.T) {
	f := &fakeServer{pages: []*hushv1.ListSessionsResponse{
		{Sessions: []*hushv1.Session{session("s-1")}, NextPageToken: "p2"},
		{Sessions: []*hushv1.Session{session("s-2")}},
	}}
	r := hushctl(t, f, "--json", "session", "list")
	var got hushv1.ListSessionsResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil || len(got.Sessions) != 2 || got.NextPageToken != "" {
		t.Fatalf("list --json: %v %v\n%s", err, &got, r.stdout)
	}
}

// A server that repeats its page token does not loop the client forever.
func TestListRepeatedToken(t *testing.T) {
	page := &hushv1.ListSessionsResponse{Sessions: []*hushv1.Session{session("s-1")}, NextPageToken: "same"}
	f := &fakeServer{pages: []*hushv1.ListSessionsResponse{page, page, page}}
	r := hushctl(t, f, "session", "list")
	if r.code != exitFail {
		t.Fatalf("exit %d, want %d", r.code, exitFail)
	}
	contains(t, "stderr", r.stderr, "repeated page token")
}

func TestDelete(t *testing.T) {
	f := &fakeServer{}
	r := hushctl(t, f, "session", "delete", "--request-id=r-2", "s-5")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := (&hushv1.DeleteSessionRequest{SessionId: "s-5", RequestId: "r-2"}); !proto.Equal(f.last(t), want) {
		t.Errorf("request %v", f.last(t))
	}
	contains(t, "output", r.stdout, "ended", "(deleted)")
}

func watchEvents() []*hushv1.SessionEvent {
	at := func(seq uint64) *timestamppb.Timestamp {
		return timestamppb.New(created.AsTime().Add(time.Duration(seq) * time.Second))
	}
	return []*hushv1.SessionEvent{
		{SessionId: "s-1", Sequence: 1, Time: at(1), Event: &hushv1.SessionEvent_Snapshot{Snapshot: session("s-1")}},
		{SessionId: "s-1", Sequence: 2, Time: at(2), Event: &hushv1.SessionEvent_Latched{Latched: &hushv1.LegLatched{
			Leg: hushv1.LegName_LEG_NAME_AGENT, RemoteAddr: "198.51.100.7:6000", Kind: "RTP"}}},
		{SessionId: "s-1", Sequence: 3, Time: at(3), Actor: "agent-7", RequestId: "r-3",
			Event: &hushv1.SessionEvent_Recording{Recording: &hushv1.RecordingStateChanged{
				State: hushv1.RecordingState_RECORDING_STATE_PAUSED, Behavior: hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP, Reason: "card payment"}}},
		{SessionId: "s-1", Sequence: 4, Time: at(4), Event: &hushv1.SessionEvent_SecureCapture{SecureCapture: &hushv1.SecureCaptureChanged{
			State: hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON, Reason: "request"}}},
		{SessionId: "s-1", Sequence: 5, Time: at(5), Event: &hushv1.SessionEvent_Digits{Digits: &hushv1.DigitProgress{
			Masked: "****", Count: 4, Complete: true, Luhn: hushv1.LuhnResult_LUHN_RESULT_VALID}}},
		{SessionId: "s-1", Sequence: 6, Time: at(6), Event: &hushv1.SessionEvent_MaxPauseExceeded{MaxPauseExceeded: &hushv1.MaxPauseExceeded{
			PausedFor: durationpb.New(2 * time.Minute), Resumed: true}}},
		{SessionId: "s-1", Sequence: 7, Time: at(7), Event: &hushv1.SessionEvent_Updated{Updated: &hushv1.SessionUpdated{
			Paths: []string{"customer.remote_addr", "policy"}}}},
		{SessionId: "s-1", Sequence: 8, Time: at(8), Event: &hushv1.SessionEvent_RecordingFailed{RecordingFailed: &hushv1.RecordingFailed{Reason: "disk full"}}},
		{SessionId: "s-1", Sequence: 9, Time: at(9), Event: &hushv1.SessionEvent_Ended{Ended: &hushv1.SessionEnded{Reason: hushv1.EndReason_END_REASON_IDLE_TIMEOUT}}},
	}
}

func TestWatch(t *testing.T) {
	f := &fakeServer{events: watchEvents()}
	r := hushctl(t, f, "session", "watch", "s-1")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	want := []string{
		"2026-11-26T21:00:01Z #1 snapshot state=active recording=active capture=off customer=127.0.0.1:30000 agent=127.0.0.1:30002",
		"2026-11-26T21:00:02Z #2 latched agent RTP from 198.51.100.7:6000",
		`2026-11-26T21:00:03Z #3 recording paused behavior=skip reason="card payment" by=agent-7 request=r-3`,
		"2026-11-26T21:00:04Z #4 secure-capture on reason=request",
		"2026-11-26T21:00:05Z #5 digits **** (4) complete luhn valid",
		"2026-11-26T21:00:06Z #6 max-pause-exceeded paused-for=2m0s resumed=true",
		"2026-11-26T21:00:07Z #7 updated customer.remote_addr,policy",
		`2026-11-26T21:00:08Z #8 recording-failed reason="disk full"`,
		"2026-11-26T21:00:09Z #9 ended idle-timeout",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), r.stdout)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], want[i])
		}
	}
}

// watch --json prints JSON Lines: one protojson event per line.
func TestWatchJSON(t *testing.T) {
	events := watchEvents()
	r := hushctl(t, &fakeServer{events: events}, "--json", "session", "watch", "s-1")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(events) {
		t.Fatalf("got %d lines, want %d", len(lines), len(events))
	}
	for i, l := range lines {
		var ev hushv1.SessionEvent
		if err := protojson.Unmarshal([]byte(l), &ev); err != nil || !proto.Equal(&ev, events[i]) {
			t.Errorf("line %d: %v: %s", i+1, err, l)
		}
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not JSON", i+1)
		}
	}
}

func TestAgentActions(t *testing.T) {
	tests := []struct {
		args []string
		want proto.Message
		out  string
	}{
		{[]string{"pause", "s-1", "--behavior", "skip", "--reason", "card payment", "--request-id", "p1"},
			&hushv1.PauseRecordingRequest{SessionId: "s-1", Behavior: hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP, Reason: "card payment", RequestId: "p1"},
			"paused"},
		{[]string{"pause", "s-1"}, &hushv1.PauseRecordingRequest{SessionId: "s-1"}, "paused"},
		{[]string{"resume", "s-1", "--reason=done"}, &hushv1.ResumeRecordingRequest{SessionId: "s-1", Reason: "done"}, "active"},
		{[]string{"start-capture", "s-1", "--max-digits", "16", "--inter-digit-timeout", "10s"},
			&hushv1.StartSecureCaptureRequest{SessionId: "s-1", MaxDigits: 16, InterDigitTimeout: durationpb.New(10 * time.Second)},
			"**** (4)"},
		{[]string{"stop-capture", "s-1", "--request-id", "x"}, &hushv1.StopSecureCaptureRequest{SessionId: "s-1", RequestId: "x"}, "off"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			f := &fakeServer{}
			r := hushctl(t, f, append([]string{"session"}, tt.args...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !proto.Equal(f.last(t), tt.want) {
				t.Errorf("request %v, want %v", f.last(t), tt.want)
			}
			contains(t, "output", r.stdout, tt.out)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Usage: hushctl"},
		{[]string{"sessions"}, `unknown command "sessions"`},
		{[]string{"session"}, "session needs a verb"},
		{[]string{"session", "frob"}, `unknown verb "frob"`},
		{[]string{"session", "get"}, "session get takes 1 argument(s) ID, got 0"},
		{[]string{"session", "get", "a", "b"}, "got 2"},
		{[]string{"session", "get", ""}, "empty argument"},
		{[]string{"session", "list", "extra"}, "takes 0 argument(s)"},
		{[]string{"session", "create", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"session", "create", "--label", "novalue"}, "want key=value"},
		{[]string{"session", "create", "--telephone-event-pt", "200"}, "at most 127"},
		{[]string{"session", "pause", "s-1", "--behavior", "mute"}, "must be silence or skip"},
		{[]string{"session", "list", "--page-size", "-1"}, "--page-size"},
		{[]string{"--timeout", "soon", "session", "list"}, "invalid value"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := &fakeServer{}
			r := hushctl(t, f, tt.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, exitUsage, r.stderr)
			}
			contains(t, "stderr", r.stderr, tt.want)
			if len(f.requests) != 0 {
				t.Errorf("a usage error still called the server: %v", f.requests)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"session", "create", "-h"}} {
		r := hushctl(t, &fakeServer{}, args...)
		if r.code != exitOK {
			t.Errorf("%v: exit %d", args, r.code)
		}
		contains(t, fmt.Sprint(args), r.stdout, "Usage: hushctl")
	}
	r := hushctl(t, &fakeServer{}, "--help")
	for _, v := range verbs {
		contains(t, "usage", r.stdout, "session "+v.name)
	}
	r = hushctl(t, &fakeServer{}, "session", "create", "--help")
	contains(t, "create usage", r.stdout, "-call-id", "-agent-id", "-customer-remote", "-agent-remote", "-rtcp-mux", "-request-id")
}

// --addr reaches a real server over loopback TCP; HUSHCTL_ADDR sets the
// default and --addr overrides it.
func TestAddrOverLoopback(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f := &fakeServer{}
	hushv1.RegisterSessionServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var out, errOut bytes.Buffer
	env := func(k string) (string, bool) {
		if k == addrEnv {
			return lis.Addr().String(), true
		}
		return "", false
	}
	if code := run(ctx, []string{"session", "get", "s-1"}, nil, &out, &errOut, env); code != exitOK {
		t.Fatalf("via %s: exit %d: %s", addrEnv, code, errOut.String())
	}
	out.Reset()
	if code := run(ctx, []string{"--addr", lis.Addr().String(), "session", "get", "s-1"}, nil, &out, &errOut,
		func(string) (string, bool) { return "127.0.0.1:1", true }); code != exitOK {
		t.Fatalf("via --addr: exit %d: %s", code, errOut.String())
	}
	contains(t, "output", out.String(), "s-1")
}
