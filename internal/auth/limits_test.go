package auth

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// grpc.max_message_size, wired as grpc.MaxRecvMsgSize, answers an oversize
// request with RESOURCE_EXHAUSTED before any interceptor or handler runs,
// and the server keeps serving.
func TestOversizeMessage(t *testing.T) {
	limit := config.Default().GRPC.MaxMessageSize
	a, _ := NewAuthorizer(Options{Mode: config.AuthNone})
	g := grpc.NewServer(grpc.MaxRecvMsgSize(limit), grpc.UnaryInterceptor(a.Unary()))
	fake := &fakeSessions{}
	hushv1.RegisterSessionServiceServer(g, fake)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = g.Serve(ln); close(done) }()
	t.Cleanup(func() { g.Stop(); <-done })
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := hushv1.NewSessionServiceClient(cc)
	big := &hushv1.CreateSessionRequest{Labels: map[string]string{"x": strings.Repeat("a", limit)}}
	_, err = c.CreateSession(callCtx(t, ""), big)
	wantCode(t, err, codes.ResourceExhausted)
	if fake.calls() != 0 {
		t.Error("oversize request reached the handler")
	}
	if _, err := c.CreateSession(callCtx(t, ""), &hushv1.CreateSessionRequest{}); err != nil {
		t.Fatalf("server stopped serving after an oversize request: %v", err)
	}
}

func BenchmarkAuthorizeToken(b *testing.B) {
	a, _ := NewAuthorizer(Options{Mode: config.AuthToken, Tokens: testStore(), Owner: testOwners})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", bearerOf("agent17")))
	info := &grpc.UnaryServerInfo{FullMethod: hushv1.SessionService_PauseRecording_FullMethodName}
	req := &hushv1.PauseRecordingRequest{SessionId: "s-a17"}
	h := func(context.Context, any) (any, error) { return nil, nil }
	ic := a.Unary()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ic(ctx, req, info, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTokens(b *testing.B) {
	var sb strings.Builder
	for name, e := range testTokens {
		e.SHA256 = HashToken(tokenOf(name))
		sb.WriteString(`{"sha256":"` + e.SHA256 + `","subject":"` + e.Subject + `","role":"` + string(e.Role) + `"`)
		if e.AgentID != "" {
			sb.WriteString(`,"agent_id":"` + e.AgentID + `"`)
		}
		sb.WriteString("}\n")
	}
	data := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTokens(strings.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	l := NewRateLimiter(1_000_000, 1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow("ip:192.0.2.1")
	}
}
