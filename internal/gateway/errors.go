package gateway

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors.
var (
	// ErrOrigins: http.cors_origins holds something that is not an origin.
	ErrOrigins = errors.New("invalid CORS origin list")
)

// errorBody is google.rpc.Status in JSON, as the OpenAPI document declares errors.
type errorBody struct {
	Code    codes.Code `json:"code"`
	Message string     `json:"message"`
	Details []any      `json:"details"`
}

// writeError answers with code's HTTP status and a JSON body. message is hush's own text,
// never the caller's input.
func writeError(w http.ResponseWriter, code codes.Code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	if code == codes.Unauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="hush"`)
	}
	w.WriteHeader(runtime.HTTPStatusFromCode(code))
	_ = json.NewEncoder(w).Encode(errorBody{Code: code, Message: message, Details: []any{}})
}

// writeStatus answers with a gRPC status error. Statuses come from hush's interceptors
// and handlers, whose messages name fields but never echo values; anything else is
// INTERNAL with a generic message.
func writeStatus(w http.ResponseWriter, err error) {
	st, ok := status.FromError(err)
	if !ok {
		writeError(w, codes.Internal, "internal error")
		return
	}
	writeError(w, st.Code(), st.Message())
}

// NotFound answers every request with the JSON NOT_FOUND of an unknown route.
func NotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeError(w, codes.NotFound, "no such route") })
}
