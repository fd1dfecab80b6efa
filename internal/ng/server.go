package ng

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/session"
)

// maxDatagram is the largest UDP payload; a request cannot be larger.
const maxDatagram = 65535

// slowRequest is when a request's handling is logged as slow.
const slowRequest = 500 * time.Millisecond

// Metrics counts what the server does. Every method is called once per datagram at most;
// cmd/hushd backs it with Prometheus counters (internal/metrics).
type Metrics interface {
	// Request counts an answered request by command ("unknown" for others) and result
	// ("ok", "pong", "error", "load limit").
	Request(command, result string)
	// Error counts an error reply by reason (see Reasons).
	Error(reason string)
	// Dropped counts a datagram not answered: "not_allowed" (source outside ng.allow_from),
	// "rate_limited", "malformed" (no cookie to answer to), "pending" (a retransmission of
	// a request still being handled).
	Dropped(why string)
	// Retransmit counts a request answered from the reply cache.
	Retransmit()
}

type nopMetrics struct{}

func (nopMetrics) Request(string, string) {}
func (nopMetrics) Error(string)           {}
func (nopMetrics) Dropped(string)         {}
func (nopMetrics) Retransmit()            {}

// Config sets up a Server.
type Config struct {
	Engine   *offeranswer.Engine
	Registry *session.Registry
	// Allow lists the source prefixes that may send requests; empty allows every source
	// (hushd allows that only on a loopback listener, or with ng.insecure).
	Allow []netip.Prefix
	// Limiter limits requests per source address; nil: no limit.
	Limiter *auth.RateLimiter
	// Auditor records what ng requests change (nil: nothing).
	Auditor audit.Auditor
	Metrics Metrics
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Workers is how many requests are handled at once; default 4 or GOMAXPROCS, the larger.
	Workers int
	// CacheTTL is how long replies are kept for retransmissions; default 30 s (Kamailio
	// retransmits for up to 5 s by default).
	CacheTTL time.Duration
}

// Server answers ng requests on a UDP socket.
type Server struct {
	cfg   Config
	log   *slog.Logger
	cache *replyCache
	start time.Time
	cmds  commandCounts
}

// NewServer creates a Server.
func NewServer(cfg Config) *Server {
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(4, runtime.GOMAXPROCS(0))
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	return &Server{cfg: cfg, log: cfg.Logger, cache: newReplyCache(cfg.CacheTTL, 32<<20), start: cfg.Now()}
}

// Serve answers requests on conn until ctx is done or conn is closed; it closes conn when
// ctx ends. Requests are handled by Workers goroutines reading the same socket.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, s.cfg.Workers)
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.worker(conn)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return <-errc
}

func (s *Server) worker(conn net.PacketConn) error {
	buf := make([]byte, maxDatagram)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		from := ua.AddrPort()
		if reply := s.Handle(from, buf[:n]); reply != nil {
			if _, err := conn.WriteTo(reply, addr); err != nil {
				s.log.Debug("ng reply not sent", "to", from, "err", err)
			}
		}
	}
}

// allowed reports whether a source may send requests.
func (s *Server) allowed(from netip.Addr) bool {
	if len(s.cfg.Allow) == 0 {
		return true
	}
	from = from.Unmap()
	for _, p := range s.cfg.Allow {
		if p.Contains(from) {
			return true
		}
	}
	return false
}

// Handle answers one datagram from a source: the reply to send, or nil to send nothing
// (a source not allowed, over its rate, a datagram without a cookie, or a retransmission
// of a request still being handled).
func (s *Server) Handle(from netip.AddrPort, b []byte) []byte {
	if !s.allowed(from.Addr()) {
		s.cfg.Metrics.Dropped("not_allowed")
		return nil
	}
	// Over the limit nothing is sent back: replies to a flood from forged sources would
	// reflect it at their owners. The client retransmits when its limit has refilled.
	if !s.cfg.Limiter.Allow(from.Addr().Unmap().String()) {
		s.cfg.Metrics.Dropped("rate_limited")
		return nil
	}
	cookie, dict, err := ParseMessage(b)
	if cookie == "" {
		s.cfg.Metrics.Dropped("malformed")
		return nil
	}
	now := s.cfg.Now()
	key := cacheKey{from: from, cookie: cookie}
	if reply, seen := s.cache.begin(key, now); seen {
		s.log.Debug("ng retransmission", "from", from, "cookie", cookie, "pending", reply == nil)
		if reply == nil {
			s.cfg.Metrics.Dropped("pending")
			return nil
		}
		s.cfg.Metrics.Retransmit()
		return reply
	}
	var out map[string]any
	command := "unknown"
	if err == nil {
		req := newRequest(dict, from)
		command = req.command
		out, err = s.dispatch(req)
		// A proxy retransmits after a second: a request slower than that shows up as
		// retransmissions and, past the proxy's last retry, as a failed call.
		if took := s.cfg.Now().Sub(now); took > slowRequest {
			s.log.Warn("ng request slow", "from", from, "command", req.command, "took", took)
		}
	}
	if err != nil {
		reason := reasonOf(err)
		s.cfg.Metrics.Error(reason)
		s.log.Info("ng request refused", "from", from, "command", command, "reason", reason, "err", err)
		out = map[string]any{"result": "error", "error-reason": err.Error()}
	}
	result, _ := out["result"].(string)
	s.cfg.Metrics.Request(command, result)
	s.log.Debug("ng request", "from", from, "cookie", cookie, "command", command, "result", result)
	reply, encErr := AppendMessage(nil, cookie, out)
	if encErr != nil || len(reply) > maxDatagram-28 {
		// A reply too large for a datagram (a query of a huge call): say so instead.
		s.cfg.Metrics.Error(ReasonInternal)
		reply, _ = AppendMessage(nil, cookie, map[string]any{"result": "error", "error-reason": "reply too large for a datagram"})
	}
	s.cache.finish(key, reply, now)
	return reply
}
