package auth

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }
func allowN(l *RateLimiter, k string, n int) (ok int) {
	for range n {
		if l.Allow(k) {
			ok++
		}
	}
	return ok
}

func TestRateLimiterBucket(t *testing.T) {
	clk := newClock()
	l := NewRateLimiter(10, 5, WithClock(clk.now))
	if got := allowN(l, "a", 8); got != 5 {
		t.Fatalf("burst: %d allowed, want 5", got)
	}
	if got := allowN(l, "b", 5); got != 5 {
		t.Fatalf("another client is limited by the first: %d", got)
	}
	clk.add(300 * time.Millisecond) // 3 tokens at 10/s
	if got := allowN(l, "a", 5); got != 3 {
		t.Fatalf("after 300ms: %d allowed, want 3", got)
	}
	clk.add(time.Hour) // refills to burst, not beyond
	if got := allowN(l, "a", 10); got != 5 {
		t.Fatalf("after an hour: %d allowed, want burst 5", got)
	}
	clk.add(-time.Minute) // a clock step back grants nothing
	if l.Allow("a") {
		t.Error("clock going back granted a token")
	}
	if NewRateLimiter(0, 5) != nil || !(*RateLimiter)(nil).Allow("x") {
		t.Error("rate 0 must disable the limiter")
	}
}

// The table stays bounded, evicting idle clients first.
func TestRateLimiterBounded(t *testing.T) {
	clk := newClock()
	l := NewRateLimiter(10, 2, WithClock(clk.now), WithMaxClients(100))
	for i := range 1000 {
		l.Allow(fmt.Sprint("busy-", i))
	}
	if l.Len() > 100 {
		t.Fatalf("table grew to %d", l.Len())
	}
	// An active client that was emptied stays limited when idle ones come.
	l2 := NewRateLimiter(1, 2, WithClock(clk.now), WithMaxClients(3))
	allowN(l2, "hot", 2)
	l2.Allow("idle-1")
	clk.add(10 * time.Second) // idle-1 refilled; hot too, so spend hot again
	allowN(l2, "hot", 3)
	l2.Allow("new-1")
	l2.Allow("new-2") // table full: idle-1 is evicted, hot is kept
	if l2.Allow("hot") {
		t.Error("evicting reset an active client's bucket")
	}
}

// Over the limit, calls get RESOURCE_EXHAUSTED through the interceptor, and
// health is never limited.
func TestRateLimitInterceptor(t *testing.T) {
	clk := newClock()
	l := NewRateLimiter(1, 2, WithClock(clk.now))
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5555}})
	h := func(context.Context, any) (any, error) { return "ok", nil }
	info := &grpc.UnaryServerInfo{FullMethod: hushv1.SessionService_CreateSession_FullMethodName}
	var codesSeen []codes.Code
	for range 3 {
		_, err := l.Unary()(ctx, nil, info, h)
		codesSeen = append(codesSeen, codeOf(err))
	}
	if codesSeen[0] != codes.OK || codesSeen[1] != codes.OK || codesSeen[2] != codes.ResourceExhausted {
		t.Fatalf("codes %v, want OK OK ResourceExhausted", codesSeen)
	}
	// Same IP, other port: same client.
	ctx2 := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 6666}})
	if _, err := l.Unary()(ctx2, nil, info, h); codeOf(err) != codes.ResourceExhausted {
		t.Errorf("another port of the same IP: %v", err)
	}
	health := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	if _, err := l.Unary()(ctx, nil, health, h); err != nil {
		t.Errorf("health limited: %v", err)
	}
	st := &grpc.StreamServerInfo{FullMethod: hushv1.SessionService_WatchSession_FullMethodName}
	if err := l.Stream()(nil, streamWithCtx{ctx: ctx}, st, func(any, grpc.ServerStream) error { return nil }); codeOf(err) != codes.ResourceExhausted {
		t.Errorf("stream over limit: %v", err)
	}
}

// End to end over TLS with the real chain: limit before auth, so bad
// tokens are limited too.
func TestRateLimitBeforeAuth(t *testing.T) {
	clk := newClock()
	s := startServer(t, config.AuthToken, false, NewRateLimiter(1, 3, WithClock(clk.now)))
	c := hushv1.NewSessionServiceClient(s.dial(t))
	var got []codes.Code
	for range 4 {
		_, err := c.CreateSession(callCtx(t, "Bearer wrong"), &hushv1.CreateSessionRequest{})
		got = append(got, codeOf(err))
	}
	want := []codes.Code{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated, codes.ResourceExhausted}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("codes %v, want %v", got, want)
		}
	}
}

type streamWithCtx struct {
	grpc.ServerStream
	ctx context.Context
}

func (s streamWithCtx) Context() context.Context { return s.ctx }

func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	return status.Code(err)
}
