package api

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/metrics"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/session"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Options assemble a Server.
type Options struct {
	Registry *session.Registry
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	// MediaAddr is the address media sockets bind to; AdvertiseAddr (optional) replaces it
	// in local addresses returned to callers.
	MediaAddr, AdvertiseAddr netip.Addr
	Defaults                 session.Policy
	Drainer                  Drainer
	DrainTimeout             time.Duration
	// Recordings is where QA finds recordings (nil when recording is off).
	Recordings RecordingStore
	// RecordingFiles opens, erases and holds recordings (nil when recording is off).
	RecordingFiles RecordingFiles
	// OfferAnswer serves SessionService.Offer and Answer (nil: UNIMPLEMENTED).
	OfferAnswer *offeranswer.Engine
	// AuditFile is the audit log AuditService reads ("" when it is off); AuditLog, when
	// set, is the open log (queries go through its index, and followers are woken by
	// its appends).
	AuditFile string
	AuditLog  *audit.Log
	// Diagnostics answers AdminService.Diagnose (nil: UNAVAILABLE).
	Diagnostics Diagnostics

	// Security. Creds nil serves plaintext; Limiter nil does not limit; Authorizer nil
	// authenticates nobody (auth.mode none); Auditor nil records nothing.
	Creds          credentials.TransportCredentials
	Limiter        *auth.RateLimiter
	Authorizer     *auth.Authorizer
	Auditor        audit.Auditor
	Reflection     bool
	MaxRecvMsgSize int // 0: 1 MiB
	Transport      Transport
	// Unary and Stream run after authorization (the cluster's forwarding to a session's
	// owner); none when the node runs alone.
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
}

// Transport bounds what a connection may hold before and after it authenticates. Zero
// fields keep gRPC's defaults.
type Transport struct {
	HandshakeTimeout time.Duration // TCP accept to working HTTP/2, TLS included
	IdleTimeout      time.Duration // a connection without streams this long is closed
	MaxStreams       uint32        // HTTP/2 MAX_CONCURRENT_STREAMS per connection
	MaxHeaderBytes   uint32        // HTTP/2 MAX_HEADER_LIST_SIZE: larger header lists are reset unread
}

// Keepalive: a client may ping at most every keepaliveMinTime (more often is a ping
// flood and gets the connection closed); hushd pings a quiet connection after
// keepaliveTime and closes it when no answer comes within keepaliveTimeout, so a dead
// peer does not hold its streams.
const (
	keepaliveMinTime = 10 * time.Second
	keepaliveTime    = time.Minute
	keepaliveTimeout = 20 * time.Second
)

func (t Transport) options() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: t.IdleTimeout, Time: keepaliveTime, Timeout: keepaliveTimeout}),
	}
	if t.HandshakeTimeout > 0 {
		opts = append(opts, grpc.ConnectionTimeout(t.HandshakeTimeout))
	}
	if t.MaxStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(t.MaxStreams))
	}
	if t.MaxHeaderBytes > 0 {
		opts = append(opts, grpc.MaxHeaderListSize(t.MaxHeaderBytes))
	}
	return opts
}

// Server is the assembled gRPC server: hush's services, health and reflection, with
// recovery, logging and metrics interceptors on every call.
type Server struct {
	GRPC     *grpc.Server
	health   *health.Server
	stopping chan struct{} // closed by Shutdown: streams that never end by themselves end
	stopOnce sync.Once
}

// maxRecvMsgSize bounds a request. hush's requests are small; 1 MiB leaves room for labels.
const maxRecvMsgSize = 1 << 20

// NewServer assembles the server in one place.
func NewServer(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxRecvMsgSize == 0 {
		o.MaxRecvMsgSize = maxRecvMsgSize
	}
	if o.Authorizer == nil {
		o.Authorizer, _ = auth.NewAuthorizer(auth.Options{Mode: config.AuthNone})
	}
	if o.Auditor == nil {
		o.Auditor = audit.Nop
	}
	ic := &interceptor{log: o.Logger, m: o.Metrics}
	gwUnary, gwStream := auth.GatewayPeer()
	// Order, outermost first: the gateway's peer (a browser's call arrives over the
	// in-process connection and becomes the browser's own, see auth.GatewayPeer),
	// recovery/logging/metrics (sees every outcome, including refusals), rate limit
	// (before auth, so credential floods are limited), auth.
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(o.MaxRecvMsgSize),
		// Card digits: the codec zeroes a marshalled CapturedDigits once it is written, and
		// with no write buffer gRPC copies it nowhere on the way to the connection (the
		// shared 32 KiB write buffers would keep the plaintext until reused). TLS encrypts
		// in place. The cost is a write per frame, on the control plane only.
		grpc.ForceServerCodecV2(newWipingCodec()),
		grpc.WriteBufferSize(0),
		grpc.ChainUnaryInterceptor(append([]grpc.UnaryServerInterceptor{gwUnary, ic.unary, o.Limiter.Unary(), o.Authorizer.Unary()}, o.Unary...)...),
		grpc.ChainStreamInterceptor(append([]grpc.StreamServerInterceptor{gwStream, ic.stream, o.Limiter.Stream(), o.Authorizer.Stream()}, o.Stream...)...),
		// Network connections get o.Creds (nil: plaintext); the in-process one, the
		// gateway's, is marked so that GatewayPeer believes what it says of its browser.
		grpc.Creds(auth.GatewayCreds(o.Creds)),
	}
	opts = append(opts, o.Transport.options()...)
	g := grpc.NewServer(opts...)
	conv := converter{bind: o.MediaAddr, advertise: o.AdvertiseAddr, defaults: o.Defaults, recording: o.Recordings != nil}
	hushv1.RegisterSessionServiceServer(g, &SessionServer{reg: o.Registry, conv: conv, aud: o.Auditor, sip: o.OfferAnswer})
	hushv1.RegisterPaymentServiceServer(g, &PaymentServer{reg: o.Registry, aud: o.Auditor})
	hushv1.RegisterRecordingServiceServer(g, &RecordingServer{store: o.Recordings, files: recordingFiles(o), aud: o.Auditor})
	stopping := make(chan struct{})
	hushv1.RegisterAuditServiceServer(g, &AuditServer{log: o.AuditLog, file: o.AuditFile, aud: o.Auditor, stop: stopping})
	hushv1.RegisterAdminServiceServer(g, &AdminServer{drain: o.Drainer, defaultDeadline: o.DrainTimeout, aud: o.Auditor,
		diag: o.Diagnostics})

	h := health.NewServer()
	healthpb.RegisterHealthServer(g, h)
	if o.Reflection {
		reflection.Register(g)
	}
	s := &Server{GRPC: g, health: h, stopping: stopping}
	s.SetServing(true)
	return s
}

// SetServing sets the health of the session service: NOT_SERVING while draining, so load
// balancers send new calls elsewhere. The server as a whole ("") stays SERVING for reads.
func (s *Server) SetServing(ok bool) {
	st := healthpb.HealthCheckResponse_SERVING
	if !ok {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(hushv1.SessionService_ServiceDesc.ServiceName, st)
}

// ClusterHealthService is the health service name that reports the session directory:
// NOT_SERVING while it does not answer (local sessions go on: the node is degraded, not
// down).
const ClusterHealthService = "hush.v1.Cluster"

// SetStatus sets one health service name's status.
func (s *Server) SetStatus(service string, ok bool) {
	st := healthpb.HealthCheckResponse_SERVING
	if !ok {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus(service, st)
}

// NewPeerServer assembles the cluster's peer listener: the session service alone, for
// requests other nodes forward (o.Authorizer in peer mode judges the callers they name,
// o.Creds is the cluster's mTLS), with recovery, logging and metrics as on the client
// listener, and o.Unary/o.Stream after authorization. No rate limit: peers are the fleet.
func NewPeerServer(o Options) *grpc.Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxRecvMsgSize == 0 {
		o.MaxRecvMsgSize = maxRecvMsgSize
	}
	if o.Auditor == nil {
		o.Auditor = audit.Nop
	}
	ic := &interceptor{log: o.Logger, m: o.Metrics}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(o.MaxRecvMsgSize),
		grpc.ChainUnaryInterceptor(append([]grpc.UnaryServerInterceptor{ic.unary, o.Authorizer.Unary()}, o.Unary...)...),
		grpc.ChainStreamInterceptor(append([]grpc.StreamServerInterceptor{ic.stream, o.Authorizer.Stream()}, o.Stream...)...),
	}
	opts = append(opts, o.Transport.options()...)
	if o.Creds != nil {
		opts = append(opts, grpc.Creds(o.Creds))
	}
	g := grpc.NewServer(opts...)
	conv := converter{bind: o.MediaAddr, advertise: o.AdvertiseAddr, defaults: o.Defaults, recording: o.Recordings != nil}
	hushv1.RegisterSessionServiceServer(g, &SessionServer{reg: o.Registry, conv: conv, aud: o.Auditor, sip: o.OfferAnswer})
	return g
}

// HealthServer returns a gRPC server that serves only this server's health service, on a
// listener of its own: plaintext for probes that cannot do TLS (Kubernetes grpc probes),
// with no other method to reach, so it needs no authentication.
func (s *Server) HealthServer() *grpc.Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(4096), grpc.MaxConcurrentStreams(16))
	healthpb.RegisterHealthServer(g, s.health)
	return g
}

// Shutdown marks every service NOT_SERVING, for the last moments before exit, and ends
// the audit trail's followers (UNAVAILABLE: they resume elsewhere or later).
func (s *Server) Shutdown() {
	s.health.Shutdown()
	s.stopOnce.Do(func() { close(s.stopping) })
}

type interceptor struct {
	log *slog.Logger
	m   *metrics.Metrics
}

func (ic *interceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err = ic.recovered(info.FullMethod, p)
		}
		ic.done(info.FullMethod, start, err, req, resp)
	}()
	return handler(ctx, req)
}

func (ic *interceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	rs := &requestStream{ServerStream: ss}
	defer func() {
		if p := recover(); p != nil {
			err = ic.recovered(info.FullMethod, p)
		}
		ic.done(info.FullMethod, start, err, rs.first, nil)
	}()
	return handler(srv, rs)
}

// requestStream keeps a server stream's request (its first message) for the log line.
type requestStream struct {
	grpc.ServerStream
	first any
}

func (s *requestStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.first == nil {
		s.first = m
	}
	return err
}

// maxLoggedID bounds an id copied from a request into the log.
const maxLoggedID = 128

// requestAttrs are the ids of a call for its log line: the session it concerns (from the
// request, or the session a create made) and the caller's request id, so every control
// line can be found by either. Card-like numbers are scrubbed by the logger.
func requestAttrs(req, resp any) []any {
	var out []any
	add := func(key, v string) {
		if v == "" {
			return
		}
		if len(v) > maxLoggedID {
			v = v[:maxLoggedID] + "..."
		}
		out = append(out, key, v)
	}
	sid := ""
	if m, ok := req.(interface{ GetSessionId() string }); ok {
		sid = m.GetSessionId()
	}
	if m, ok := resp.(interface{ GetSessionId() string }); ok && sid == "" {
		sid = m.GetSessionId()
	}
	add("session_id", sid)
	if m, ok := req.(interface{ GetRequestId() string }); ok {
		add("request_id", m.GetRequestId())
	}
	if m, ok := req.(interface{ GetCallId() string }); ok {
		add("call_id", m.GetCallId())
	}
	return out
}

func (ic *interceptor) recovered(method string, p any) error {
	if ic.m != nil {
		ic.m.GRPCPanic()
	}
	// The panic value is not logged: it may hold request data.
	ic.log.Error("grpc handler panicked", "method", method, "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

func (ic *interceptor) done(method string, start time.Time, err error, req, resp any) {
	code := status.Code(err)
	if ic.m != nil {
		ic.m.GRPCRequest(method, code.String())
		if code == codes.InvalidArgument {
			ic.m.InvalidRequest(method)
		}
	}
	lvl := slog.LevelInfo
	if method == healthpb.Health_Check_FullMethodName || method == healthpb.Health_Watch_FullMethodName {
		lvl = slog.LevelDebug
	}
	if code == codes.Internal || code == codes.Unknown {
		lvl = slog.LevelError
	}
	attrs := append([]any{"method", method, "code", code.String(), "duration", time.Since(start).Round(time.Microsecond)},
		requestAttrs(req, resp)...)
	ic.log.Log(context.Background(), lvl, "grpc", attrs...)
}

// recordingFiles is o.RecordingFiles, or plain files found through o.Recordings.
func recordingFiles(o Options) RecordingFiles {
	if o.RecordingFiles == nil && o.Recordings != nil {
		return pathFiles{o.Recordings}
	}
	return o.RecordingFiles
}
