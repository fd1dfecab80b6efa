package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/hushmedia/hush/internal/config"
)

// FuzzGateway sends arbitrary methods, paths, query strings, content types and bodies
// through the gateway's decoding (auth mode none, so every request reaches it). Nothing
// panics; every error is a JSON status whose HTTP status is its code's mapping; and no
// error carries the input back (the seeds hold a canary the fuzzer keeps mutating around).
func FuzzGateway(f *testing.F) {
	for _, s := range [][5]string{
		{"POST", "/v1/sessions/s-1:pauseRecording", "", "application/json", `{"reason":"` + canary + `"}`},
		{"POST", "/v1/sessions/s-1:startSecureCapture", "", "application/json", `{"maxDigits":"` + canary + `","interDigitTimeout":"3s"}`},
		{"POST", "/v1/sessions/s-1:stopSecureCapture", "", "application/json; charset=utf-8", `{"requestId":` + canary + `}`},
		{"GET", "/v1/recordings", "pageSize=" + canary + "&startTime=2026-01-01T00:00:00Z", "", ""},
		{"GET", "/v1/sessions", "agentId=a&" + canary + "=1", "", ""},
		{"GET", "/v1/audit/records", "sessionId=s&pageToken=" + canary, "", ""},
		{"GET", "/v1/recordings/" + canary + "/audio", "download=1", "", ""},
		{"POST", "/v1/sessions/%2F..%2F" + canary + ":resumeRecording", "", "text/plain", "{}"},
		{"PUT", "/v1/" + canary, "", "application/json", "[]"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	d := newDoor(f, config.AuthNone)
	f.Fuzz(func(t *testing.T, verb, path, query, ctype, body string) {
		if !validMethod(verb) || !strings.HasPrefix(path, "/v1/") || len(path) > 2048 || len(query) > 2048 {
			return
		}
		u, err := url.Parse("http://hush" + path)
		if err != nil || u.Path == "" {
			return
		}
		u.RawQuery = query
		req := httptest.NewRequest(verb, "/", strings.NewReader(body))
		req.URL, req.RequestURI = u, u.RequestURI()
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		d.gw.ServeHTTP(rec, req)
		resp := rec.Result()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 {
			return
		}
		var e errorBody
		if json.Unmarshal(b, &e) != nil {
			// A stream that failed after it started ends with an {"error": ...} line.
			var s struct{ Error errorBody }
			if json.Unmarshal(b, &s) != nil {
				t.Fatalf("%s %s?%s: %d, not a JSON error: %q", verb, path, query, resp.StatusCode, b)
			}
			e = s.Error
		}
		if runtime.HTTPStatusFromCode(e.Code) != resp.StatusCode && !(e.Code == codes.OutOfRange && resp.StatusCode == 400) {
			t.Fatalf("%s %s: HTTP %d for code %v", verb, path, resp.StatusCode, e.Code)
		}
		if strings.Contains(e.Message, canary) || strings.Contains(e.Message, "goroutine ") {
			t.Fatalf("%s %s?%s: the error echoes input: %q", verb, path, query, e.Message)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}
