package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/hushmedia/hush/internal/auth"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// CookieName is the sign-in cookie of hushd's own pages: it holds the bearer token the
// person signed in with (HttpOnly, SameSite=Strict, Secure over TLS). A request that
// carries no Authorization header and comes from hushd's own origin is judged by it.
const CookieName = "hush_token"

// DefaultMaxBody bounds a request body when Options.MaxBodyBytes is 0. Requests are a
// session id and a few fields.
const DefaultMaxBody = 64 << 10

// Options configure the gateway.
type Options struct {
	// Conn is the in-process connection to hushd's gRPC server.
	Conn *grpc.ClientConn
	// Origins are the browser origins besides hushd's own allowed to call the API
	// (http.cors_origins), e.g. "https://desktop.example.com".
	Origins      []string
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Gateway is the /v1/ handler.
type Gateway struct {
	mux     *runtime.ServeMux
	origins map[string]bool
	maxBody int64
	log     *slog.Logger
	rec     hushv1.RecordingServiceClient
}

// New registers every annotated service on a gateway mux that calls through o.Conn.
func New(o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	origins, err := ParseOrigins(o.Origins)
	if err != nil {
		return nil, err
	}
	g := &Gateway{origins: origins, maxBody: o.MaxBodyBytes, log: o.Logger, rec: hushv1.NewRecordingServiceClient(o.Conn)}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBody
	}
	none := func(string) (string, bool) { return "", false }
	g.mux = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newMarshaler()),
		runtime.SetQueryParameterParser(&queryParser{}),
		// No HTTP header becomes metadata but Authorization (which the gateway always
		// forwards), and no metadata becomes a response header: the browser chooses
		// nothing the interceptors read.
		runtime.WithIncomingHeaderMatcher(none),
		runtime.WithOutgoingHeaderMatcher(none),
		runtime.WithOutgoingTrailerMatcher(none),
		runtime.WithMetadata(func(_ context.Context, r *http.Request) metadata.MD { return CallMetadata(r) }),
		runtime.WithErrorHandler(func(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, err error) {
			writeStatus(w, err)
		}),
		runtime.WithRoutingErrorHandler(func(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, code int) {
			switch code {
			case http.StatusMethodNotAllowed:
				writeError(w, codes.Unimplemented, "this route does not take that HTTP method")
			case http.StatusNotFound:
				writeError(w, codes.NotFound, "no such route")
			default:
				writeError(w, codes.InvalidArgument, "bad request path")
			}
		}),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
	)
	ctx := context.Background()
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		hushv1.RegisterSessionServiceHandler,
		hushv1.RegisterRecordingServiceHandler,
		hushv1.RegisterAuditServiceHandler,
	} {
		if err := reg(ctx, g.mux, o.Conn); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	if err := g.mux.HandlePath(http.MethodGet, AudioPath, g.audio); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

// AudioPath is the WAV of a recording, for <audio src> and downloads (?download=1).
const AudioPath = "/v1/recordings/{recording_id}/audio"

// ServeHTTP serves /v1/.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			// The panic value is not logged: it may hold request data.
			g.log.Error("gateway handler panicked", "path", r.URL.Path, "stack", string(debug.Stack()))
			writeError(w, codes.Internal, "internal error")
		}
	}()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if r.URL.Path == "/v1/openapi.json" && r.Method == http.MethodGet {
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(hushv1.OpenAPI)
		return
	}
	if !g.Allow(w, r) {
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent) // a preflight Allow answered
		return
	}
	if r.ContentLength > g.maxBody {
		writeError(w, codes.ResourceExhausted, fmt.Sprintf("request body is larger than %d bytes", g.maxBody))
		return
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 && !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, codes.InvalidArgument, "Content-Type must be application/json")
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// Read whole (bodies are small), so that a body over the limit is refused as such
		// before the gateway decodes anything.
		b, err := io.ReadAll(io.LimitReader(r.Body, g.maxBody+1))
		if err != nil {
			writeError(w, codes.InvalidArgument, "request body could not be read")
			return
		}
		if int64(len(b)) > g.maxBody {
			writeError(w, codes.ResourceExhausted, fmt.Sprintf("request body is larger than %d bytes", g.maxBody))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	// Neither a client-chosen deadline nor client-chosen metadata reaches the gRPC call.
	for k := range r.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "Grpc-") {
			r.Header.Del(k)
		}
	}
	if streaming(r.URL.Path) {
		// Watch streams and downloads outlive the server's write timeout, which is for
		// ordinary requests; the read deadline would otherwise cancel them too.
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		_ = rc.SetReadDeadline(time.Time{})
	}
	g.mux.ServeHTTP(&challenge{ResponseWriter: w}, r)
}

// challenge adds the Bearer challenge to every 401, whichever path of the gateway wrote
// it (stream errors bypass the error handler).
type challenge struct{ http.ResponseWriter }

func (c *challenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", `Bearer realm="hush"`)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challenge) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *challenge) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func streaming(path string) bool {
	return strings.HasSuffix(path, ":watch") || strings.HasSuffix(path, ":download") || strings.HasSuffix(path, "/audio")
}

func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// CallMetadata is what a browser's request proves, as the metadata of the gRPC call it
// becomes: its address and verified certificate chain (auth.GatewayMetadata) and, when
// it sent no Authorization header, the token of the sign-in cookie. (Allow has already
// refused cookies on requests from other origins.)
func CallMetadata(r *http.Request) metadata.MD {
	var verified = r.TLS
	md := auth.GatewayMetadata(r.RemoteAddr, nil)
	if verified != nil {
		md = auth.GatewayMetadata(r.RemoteAddr, verified.VerifiedChains)
	}
	if len(r.Header.Values("Authorization")) == 0 {
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			if tok, err := url.QueryUnescape(c.Value); err == nil {
				md.Set("authorization", "Bearer "+tok)
			}
		}
	}
	return md
}

// CallContext is ctx carrying r's credentials for a gRPC call through the in-process
// connection (hushd's pages call the API this way).
func CallContext(ctx context.Context, r *http.Request) context.Context {
	md := CallMetadata(r)
	if a := r.Header.Values("Authorization"); len(a) > 0 {
		md.Set("authorization", a...)
	}
	return metadata.NewOutgoingContext(ctx, md)
}
