package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Fakes of the services: answers that say the call got through.
type sessions struct {
	hushv1.UnimplementedSessionServiceServer
}

func (sessions) GetSession(_ context.Context, r *hushv1.GetSessionRequest) (*hushv1.Session, error) {
	return &hushv1.Session{SessionId: r.GetSessionId()}, nil
}
func (sessions) ListSessions(context.Context, *hushv1.ListSessionsRequest) (*hushv1.ListSessionsResponse, error) {
	return &hushv1.ListSessionsResponse{}, nil
}
func (sessions) PauseRecording(_ context.Context, r *hushv1.PauseRecordingRequest) (*hushv1.Session, error) {
	return &hushv1.Session{SessionId: r.GetSessionId(), RecordingState: hushv1.RecordingState_RECORDING_STATE_PAUSED}, nil
}
func (sessions) ResumeRecording(_ context.Context, r *hushv1.ResumeRecordingRequest) (*hushv1.Session, error) {
	return &hushv1.Session{SessionId: r.GetSessionId()}, nil
}
func (sessions) StartSecureCapture(_ context.Context, r *hushv1.StartSecureCaptureRequest) (*hushv1.Session, error) {
	return &hushv1.Session{SessionId: r.GetSessionId()}, nil
}
func (sessions) StopSecureCapture(_ context.Context, r *hushv1.StopSecureCaptureRequest) (*hushv1.Session, error) {
	return &hushv1.Session{SessionId: r.GetSessionId()}, nil
}
func (sessions) WatchSession(r *hushv1.WatchSessionRequest, s grpc.ServerStreamingServer[hushv1.SessionEvent]) error {
	for i := range 3 {
		if err := s.Send(&hushv1.SessionEvent{SessionId: r.GetSessionId(), Sequence: uint64(i + 1),
			Event: &hushv1.SessionEvent_Digits{Digits: &hushv1.DigitProgress{Masked: strings.Repeat("*", i), Count: uint32(i)}}}); err != nil {
			return err
		}
	}
	return nil
}

// fakeWAV is the file DownloadRecording serves: a header and a counting pattern.
var fakeWAV = func() []byte {
	b := make([]byte, 200_000)
	copy(b, "RIFF")
	for i := 44; i < len(b); i++ {
		b[i] = byte(i % 251)
	}
	return b
}()

type recordings struct {
	hushv1.UnimplementedRecordingServiceServer
}

func (recordings) ListRecordings(context.Context, *hushv1.ListRecordingsRequest) (*hushv1.ListRecordingsResponse, error) {
	return &hushv1.ListRecordingsResponse{}, nil
}
func (recordings) GetRecording(_ context.Context, r *hushv1.GetRecordingRequest) (*hushv1.Recording, error) {
	return &hushv1.Recording{RecordingId: r.GetRecordingId()}, nil
}
func (recordings) DownloadRecording(r *hushv1.DownloadRecordingRequest, s grpc.ServerStreamingServer[hushv1.DownloadRecordingResponse]) error {
	for off := r.GetOffset(); off < uint64(len(fakeWAV)); off += 65536 {
		end := min(off+65536, uint64(len(fakeWAV)))
		if err := s.Send(&hushv1.DownloadRecordingResponse{Chunk: fakeWAV[off:end], Offset: off, Size: uint64(len(fakeWAV))}); err != nil {
			return err
		}
	}
	return nil
}

type audits struct {
	hushv1.UnimplementedAuditServiceServer
}

func (audits) ListAuditRecords(context.Context, *hushv1.ListAuditRecordsRequest) (*hushv1.ListAuditRecordsResponse, error) {
	return &hushv1.ListAuditRecordsResponse{}, nil
}

type owners map[string]string

func (o owners) AgentOf(id string) (string, bool) { a, ok := o[id]; return a, ok }

var roleTokens = map[auth.Role]auth.TokenEntry{
	auth.RolePlatform: {Subject: "sbc", Role: auth.RolePlatform},
	auth.RoleAgent:    {Subject: "alice", Role: auth.RoleAgent, AgentID: "a-17"},
	auth.RoleQA:       {Subject: "quinn", Role: auth.RoleQA},
	auth.RolePayment:  {Subject: "psp", Role: auth.RolePayment},
	auth.RoleAdmin:    {Subject: "ops", Role: auth.RoleAdmin},
	auth.RoleMetrics:  {Subject: "prom", Role: auth.RoleMetrics},
	auth.RoleAudit:    {Subject: "siem", Role: auth.RoleAudit},
}

func tokenFor(r auth.Role) string { return "tok-" + string(r) + "-0123456789abcdef" }

// door is a gateway in front of a gRPC server with the real authorizer, over the
// in-process connection, as hushd assembles them.
type door struct {
	srv     *httptest.Server
	gw      *Gateway
	mu      sync.Mutex
	denials []string // gRPC full method of each refusal
}

func (d *door) denied() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.denials...)
}

func newDoor(t testing.TB, mode string, origins ...string) *door {
	t.Helper()
	var es []auth.TokenEntry
	for r, e := range roleTokens {
		e.SHA256 = auth.HashToken(tokenFor(r))
		es = append(es, e)
	}
	d := &door{}
	a, err := auth.NewAuthorizer(auth.Options{Mode: mode, Tokens: auth.NewTokenStore(es), Owner: owners{"s-a17": "a-17"},
		OnDenied: func(_ context.Context, m string, _ auth.Identity, _ codes.Code, _ string) {
			d.mu.Lock()
			d.denials = append(d.denials, m)
			d.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	gu, gs := auth.GatewayPeer()
	g := grpc.NewServer(grpc.Creds(auth.GatewayCreds(nil)),
		grpc.ChainUnaryInterceptor(gu, a.Unary()), grpc.ChainStreamInterceptor(gs, a.Stream()))
	hushv1.RegisterSessionServiceServer(g, sessions{})
	hushv1.RegisterRecordingServiceServer(g, recordings{})
	hushv1.RegisterAuditServiceServer(g, audits{})
	in := auth.NewInProcess()
	go func() { _ = g.Serve(in) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///hushd", grpc.WithContextDialer(in.Dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d.gw, err = New(Options{Conn: conn, Origins: origins, MaxBodyBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	d.srv = httptest.NewServer(d.gw)
	t.Cleanup(d.srv.Close)
	return d
}

func (d *door) do(t testing.TB, method, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, d.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := d.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// route is one HTTP binding of a gRPC method.
type route struct {
	method     string // gRPC full method
	verb, path string // path with its variables filled in
	body       bool
}

// routes reads every google.api.http binding of every hush service from the compiled
// descriptors: the same annotations the gateway code and the OpenAPI document come from.
func routes(t testing.TB) []route {
	var out []route
	protoregistry.GlobalFiles.RangeFilesByPackage("hush.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule == nil {
					continue
				}
				r := route{method: "/" + string(sd.FullName()) + "/" + string(md.Name()), body: rule.GetBody() != ""}
				switch {
				case rule.GetGet() != "":
					r.verb, r.path = http.MethodGet, rule.GetGet()
				case rule.GetPost() != "":
					r.verb, r.path = http.MethodPost, rule.GetPost()
				default:
					t.Fatalf("%s: a binding other than GET or POST", r.method)
				}
				r.path = strings.NewReplacer("{session_id}", "s-a17", "{recording_id}", "r-1").Replace(r.path)
				if md.Name() == "ListSessions" {
					r.path += "?agentId=a-17"
				}
				out = append(out, r)
			}
		}
		return true
	})
	out = append(out, route{method: hushv1.RecordingService_DownloadRecording_FullMethodName, verb: http.MethodGet,
		path: strings.Replace(AudioPath, "{recording_id}", "r-1", 1)})
	return out
}

// One authorizer for both doors: every HTTP route, for every role, is allowed exactly
// when auth.Policy allows the gRPC method it calls, and every refusal is the gRPC
// authorizer's, naming that method. Card digits and platform-only mutations have no
// HTTP route at all.
func TestEveryRouteCheckedByPolicy(t *testing.T) {
	d := newDoor(t, config.AuthToken)
	rs := routes(t)
	if len(rs) < 12 {
		t.Fatalf("found %d routes; are the annotations compiled in?", len(rs))
	}
	bound := map[string]bool{}
	for _, r := range rs {
		bound[r.method] = true
		body := ""
		if r.body {
			body = "{}"
		}
		t.Run(r.verb+" "+r.path, func(t *testing.T) {
			resp, _ := d.do(t, r.verb, r.path, body)
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no credential: %d, want 401 with WWW-Authenticate", resp.StatusCode)
			}
			rule, ok := auth.Policy[r.method]
			if !ok {
				t.Fatalf("%s has no policy row", r.method)
			}
			for _, role := range auth.Roles {
				before := len(d.denied())
				resp, b := d.do(t, r.verb, r.path, body, "Authorization", "Bearer "+tokenFor(role))
				allowed := rule.Allows(role)
				switch {
				case allowed && (resp.StatusCode == 401 || resp.StatusCode == 403):
					t.Errorf("%s: %d %s, but Policy allows it", role, resp.StatusCode, b)
				case !allowed && resp.StatusCode != 403:
					t.Errorf("%s: %d, but Policy refuses it (want 403)", role, resp.StatusCode)
				case !allowed:
					if got := d.denied(); len(got) != before+1 || got[len(got)-1] != r.method {
						t.Errorf("%s: refusal not recorded by the gRPC authorizer for %s: %v", role, r.method, got[before:])
					}
				}
			}
		})
	}
	for _, m := range []string{
		hushv1.PaymentService_CollectDigits_FullMethodName,
		hushv1.SessionService_CreateSession_FullMethodName, hushv1.SessionService_UpdateSession_FullMethodName,
		hushv1.SessionService_DeleteSession_FullMethodName, hushv1.AdminService_Drain_FullMethodName,
	} {
		if bound[m] {
			t.Errorf("%s has an HTTP route; browsers must not reach it", m)
		}
	}
	// An agent is bound as on gRPC: another agent's session, or listing others', is refused.
	for _, p := range []string{"/v1/sessions/s-other", "/v1/sessions?agentId=a-18", "/v1/sessions"} {
		resp, _ := d.do(t, http.MethodGet, p, "", "Authorization", "Bearer "+tokenFor(auth.RoleAgent))
		if p == "/v1/sessions/s-other" {
			continue // GetSession is not an agent's at all (403 above)
		}
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("agent GET %s: %d, want 403", p, resp.StatusCode)
		}
	}
	resp, _ := d.do(t, http.MethodPost, "/v1/sessions/s-other:pauseRecording", "{}", "Authorization", "Bearer "+tokenFor(auth.RoleAgent))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent pausing another's session: %d, want 403", resp.StatusCode)
	}
}

// errorJSON checks a response is a JSON status with code's HTTP mapping.
func errorJSON(t *testing.T, what string, resp *http.Response, b []byte, code codes.Code) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: not a JSON error (%v): %q", what, err, b)
	}
	if e.Code != code || resp.StatusCode != httpStatus(code) {
		t.Errorf("%s: code %v HTTP %d, want %v HTTP %d (%s)", what, e.Code, resp.StatusCode, code, httpStatus(code), e.Message)
	}
	return e
}

func httpStatus(c codes.Code) int {
	return map[codes.Code]int{codes.InvalidArgument: 400, codes.NotFound: 404, codes.ResourceExhausted: 429,
		codes.Unimplemented: 501, codes.PermissionDenied: 403, codes.Unauthenticated: 401, codes.OutOfRange: 400}[c]
}

const canary = "ZQX-canary-7731"

// Bad input gets a JSON error with the gRPC code's HTTP status, a message of hush's own
// (never the input, never a stack), and no call.
func TestBadInput(t *testing.T) {
	d := newDoor(t, config.AuthToken)
	platform := []string{"Authorization", "Bearer " + tokenFor(auth.RolePlatform)}
	pause := "/v1/sessions/s-a17:pauseRecording"
	for _, tc := range []struct {
		name, verb, path, body, ctype string
		code                          codes.Code
		want                          string
	}{
		{"malformed JSON", "POST", pause, `{"reason": "` + canary, "application/json", codes.InvalidArgument, "not a JSON object"},
		{"unknown field", "POST", pause, `{"` + canary + `": 1}`, "application/json", codes.InvalidArgument, "not a JSON object"},
		{"wrong type", "POST", pause, `{"reason": ["` + canary + `"]}`, "application/json", codes.InvalidArgument, "not a JSON object"},
		{"JSON array", "POST", pause, `["` + canary + `"]`, "application/json", codes.InvalidArgument, "not a JSON object"},
		{"wrong content type", "POST", pause, `reason=` + canary, "application/x-www-form-urlencoded", codes.InvalidArgument, "Content-Type must be application/json"},
		{"text/plain (a simple CORS request)", "POST", pause, `{"reason":"x"}`, "text/plain", codes.InvalidArgument, "Content-Type"},
		{"oversized body", "POST", pause, `{"reason":"` + strings.Repeat("a", 5000) + canary + `"}`, "application/json", codes.ResourceExhausted, "larger than 4096 bytes"},
		{"unknown route", "GET", "/v1/" + canary, "", "", codes.NotFound, "no such route"},
		// "s-a17:x" is a session id to GET /v1/sessions/{session_id}, which takes no POST.
		{"unknown action", "POST", "/v1/sessions/s-a17:" + canary, "{}", "application/json", codes.Unimplemented, "HTTP method"},
		{"wrong method", "DELETE", "/v1/sessions/s-a17", "", "", codes.Unimplemented, "HTTP method"},
		{"unknown query parameter", "GET", "/v1/recordings?" + canary + "=1", "", "", codes.InvalidArgument, "not a field"},
		{"bad query value", "GET", "/v1/recordings?pageSize=" + canary, "", "", codes.InvalidArgument, "page_size"},
		{"bad timestamp", "GET", "/v1/recordings?startTime=" + canary, "", "", codes.InvalidArgument, "start_time"},
	} {
		req, _ := http.NewRequest(tc.verb, d.srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		req.Header.Set(platform[0], platform[1])
		req.Header.Set("Grpc-Timeout", canary)
		resp, err := d.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e := errorJSON(t, tc.name, resp, b, tc.code)
		if !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: message %q, want it to say %q", tc.name, e.Message, tc.want)
		}
		if strings.Contains(string(b), canary) || strings.Contains(string(b), "goroutine") || strings.Contains(e.Message, "rpc error") {
			t.Errorf("%s: the answer echoes input or internals: %s", tc.name, b)
		}
	}
}

// Origins: hushd's own and the allow-list get through (the list with CORS headers),
// others get 403 and no CORS headers; no wildcard is accepted.
func TestCORS(t *testing.T) {
	d := newDoor(t, config.AuthToken, "https://desktop.example.com")
	qa := []string{"Authorization", "Bearer " + tokenFor(auth.RoleQA)}
	resp, _ := d.do(t, "GET", "/v1/recordings", "", qa[0], qa[1], "Origin", "https://desktop.example.com")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://desktop.example.com" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("allowed origin: %d ACAO %q ACAC %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials"))
	}
	resp, _ = d.do(t, "OPTIONS", "/v1/sessions/s-a17:startSecureCapture", "", "Origin", "https://desktop.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	for _, o := range []string{"https://evil.example", "null", "https://desktop.example.com.evil.example", "http://desktop.example.com"} {
		resp, b := d.do(t, "GET", "/v1/recordings", "", qa[0], qa[1], "Origin", o)
		errorJSON(t, "origin "+o, resp, b, codes.PermissionDenied)
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %s: CORS headers on a refusal", o)
		}
	}
	own := d.srv.URL
	resp, _ = d.do(t, "GET", "/v1/recordings", "", qa[0], qa[1], "Origin", own)
	if resp.StatusCode != 200 {
		t.Errorf("own origin: %d", resp.StatusCode)
	}
	for _, bad := range []string{"*", "https://*.example.com", "https://desktop.example.com/", "desktop.example.com", "https://Desktop.example.com"} {
		if _, err := ParseOrigins([]string{bad}); err == nil {
			t.Errorf("origin %q accepted in the allow-list", bad)
		}
	}
}

// The sign-in cookie counts on hushd's own pages' requests only.
func TestCookieCredential(t *testing.T) {
	d := newDoor(t, config.AuthToken)
	cookie := CookieName + "=" + tokenFor(auth.RoleQA)
	for _, tc := range []struct {
		name, verb, path, body string
		hdr                    []string
		want                   int
	}{
		{"same-origin GET", "GET", "/v1/recordings", "", []string{"Cookie", cookie, "Sec-Fetch-Site", "same-origin"}, 200},
		{"navigation", "GET", "/v1/recordings", "", []string{"Cookie", cookie, "Sec-Fetch-Site", "none"}, 200},
		{"cross-site", "GET", "/v1/recordings", "", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, 401},
		{"same-site other origin", "GET", "/v1/recordings", "", []string{"Cookie", cookie, "Sec-Fetch-Site", "same-site"}, 401},
		{"POST without Origin", "POST", "/v1/sessions/s-a17:pauseRecording", "{}", []string{"Cookie", CookieName + "=" + tokenFor(auth.RolePlatform)}, 401},
		{"POST from own origin", "POST", "/v1/sessions/s-a17:pauseRecording", "{}", []string{"Cookie", CookieName + "=" + tokenFor(auth.RolePlatform), "Origin", d.srv.URL}, 200},
	} {
		resp, b := d.do(t, tc.verb, tc.path, tc.body, tc.hdr...)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
		}
	}
}

// WatchSession reaches the browser as newline-delimited JSON, one event per line.
func TestWatchStream(t *testing.T) {
	d := newDoor(t, config.AuthToken)
	resp, b := d.do(t, "GET", "/v1/sessions/s-a17:watch", "", "Authorization", "Bearer "+tokenFor(auth.RoleAgent))
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %d %s", resp.StatusCode, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %s", len(lines), b)
	}
	for i, l := range lines {
		var m struct {
			Result struct {
				Sequence string `json:"sequence"`
				Digits   struct {
					Count int `json:"count"`
				} `json:"digits"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Result.Sequence != fmt.Sprint(i+1) || m.Result.Digits.Count != i {
			t.Errorf("line %d: %s (%v)", i, l, err)
		}
	}
}

// The audio route serves byte ranges, so a player can seek.
func TestAudioRanges(t *testing.T) {
	d := newDoor(t, config.AuthToken)
	qa := []string{"Authorization", "Bearer " + tokenFor(auth.RoleQA)}
	path := "/v1/recordings/r-1/audio"
	resp, b := d.do(t, "GET", path, "", qa...)
	if resp.StatusCode != 200 || string(b) != string(fakeWAV) || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("whole file: %d, %d bytes", resp.StatusCode, len(b))
	}
	resp, b = d.do(t, "GET", path, "", qa[0], qa[1], "Range", "bytes=70000-70099")
	if resp.StatusCode != 206 || string(b) != string(fakeWAV[70000:70100]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 70000-70099/%d", len(fakeWAV)) {
		t.Fatalf("range: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(b))
	}
	resp, b = d.do(t, "GET", path, "", qa[0], qa[1], "Range", "bytes=199990-")
	if resp.StatusCode != 206 || string(b) != string(fakeWAV[199990:]) {
		t.Fatalf("open range: %d, %d bytes", resp.StatusCode, len(b))
	}
	resp, b = d.do(t, "GET", path, "", qa[0], qa[1], "Range", "bytes=900000-")
	errorJSON(t, "range past the end", resp, b, codes.OutOfRange)
	resp, _ = d.do(t, "GET", path+"?download=1", "", qa...)
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: Content-Disposition %q", resp.Header.Get("Content-Disposition"))
	}
}

// slowSessions streams watch events 100 ms apart.
type slowSessions struct{ sessions }

func (slowSessions) WatchSession(r *hushv1.WatchSessionRequest, s grpc.ServerStreamingServer[hushv1.SessionEvent]) error {
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for i := range 6 {
		if err := s.Send(&hushv1.SessionEvent{SessionId: r.GetSessionId(), Sequence: uint64(i + 1)}); err != nil {
			return err
		}
		select {
		case <-tk.C:
		case <-s.Context().Done():
			return s.Context().Err()
		}
	}
	return nil
}

// A watch stream outlives the HTTP server's write timeout, which is for ordinary
// requests (hushd's is 30 s; here 150 ms against a 600 ms stream).
func TestWatchOutlivesWriteTimeout(t *testing.T) {
	a, err := auth.NewAuthorizer(auth.Options{Mode: config.AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(auth.GatewayCreds(nil)), grpc.ChainStreamInterceptor(a.Stream()))
	hushv1.RegisterSessionServiceServer(g, slowSessions{})
	in := auth.NewInProcess()
	go func() { _ = g.Serve(in) }()
	defer g.Stop()
	conn, err := grpc.NewClient("passthrough:///hushd", grpc.WithContextDialer(in.Dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gw, err := New(Options{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gw)
	srv.Config.WriteTimeout, srv.Config.ReadTimeout = 150*time.Millisecond, 150*time.Millisecond
	srv.Start()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/v1/sessions/s-1:watch")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(b), "\n"); err != nil || n != 6 {
		t.Fatalf("got %d events (%v), want all 6: %s", n, err, b)
	}
}
