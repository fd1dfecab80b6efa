package auth

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// maxClients bounds the limiter's table; when it is full, idle clients are
// evicted first.
const maxClients = 10000

// RateLimiter is a token bucket per client. It runs before authentication
// (so a flood of bad credentials is limited too), so a client is what the
// transport proves: the verified certificate's CN, else the peer IP.
type RateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time
	max   int

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// LimiterOption configures a RateLimiter.
type LimiterOption func(*RateLimiter)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) LimiterOption { return func(l *RateLimiter) { l.now = now } }

// WithMaxClients bounds the number of clients tracked.
func WithMaxClients(n int) LimiterOption { return func(l *RateLimiter) { l.max = max(n, 1) } }

// NewRateLimiter allows rate requests per second per client with bursts of
// burst. rate <= 0 returns nil, which allows everything.
func NewRateLimiter(rate, burst int, opts ...LimiterOption) *RateLimiter {
	if rate <= 0 {
		return nil
	}
	l := &RateLimiter{rate: float64(rate), burst: float64(max(burst, 1)), now: time.Now,
		max: maxClients, clients: map[string]*bucket{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Allow takes one token from client's bucket.
func (l *RateLimiter) Allow(client string) bool {
	if l == nil {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.clients[client] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict drops clients whose bucket has refilled (they are idle: a new
// bucket would be the same). If none is idle, it drops one arbitrary
// client, which at worst grants that client a fresh burst.
func (l *RateLimiter) evict(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.clients {
		if now.Sub(b.last) >= full {
			delete(l.clients, k)
		}
	}
	for k := range l.clients {
		if len(l.clients) < l.max {
			break
		}
		delete(l.clients, k)
	}
}

// Len is the number of clients tracked.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// errRateLimited is what a limited client gets.
var errRateLimited = status.Error(codes.ResourceExhausted, "rate limit exceeded; retry later")

// Unary returns the unary interceptor; health checks are not limited.
func (l *RateLimiter) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !exempt(info.FullMethod) && !l.Allow(clientKey(ctx)) {
			return nil, errRateLimited
		}
		return h(ctx, req)
	}
}

// Stream returns the stream interceptor: opening a stream costs one token.
func (l *RateLimiter) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if !exempt(info.FullMethod) && !l.Allow(clientKey(ss.Context())) {
			return errRateLimited
		}
		return h(srv, ss)
	}
}

// clientKey names the client for rate limiting.
func clientKey(ctx context.Context) string {
	if c := verifiedCert(ctx); c != nil {
		return "cert:" + c.Subject.CommonName
	}
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return "addr:" + p.Addr.String()
	}
	return "ip:" + host
}
