package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/connlimit"
	"github.com/hushmedia/hush/internal/metrics"
)

// minControlFDs is the fewest descriptors the control plane may be left with.
const minControlFDs = 64

// HTTP server timeouts: TLS handshake and headers, the whole request, the response, and
// an idle keep-alive connection. /metrics and /healthz are small and local.
const (
	httpHeaderTimeout = 5 * time.Second
	httpReadTimeout   = 10 * time.Second
	httpWriteTimeout  = 30 * time.Second
	httpIdleTimeout   = 60 * time.Second
)

// fdLines raises the soft descriptor limit to the hard one and returns the descriptor
// numbers at which gRPC and HTTP connections are refused (0: no line), so that
// media.fd_reserve descriptors stay free for calls. HTTP (health checks, /metrics, at
// most http.max_connections) may use the upper half of the reserve: a gRPC flood must
// not make the probes fail, or an orchestrator would restart hushd and end every call.
func fdLines(cfg *config.Config, log *slog.Logger) (grpcLine, httpLine int, err error) {
	soft, hard, err := connlimit.RaiseFileLimit()
	if err != nil || soft == 0 {
		log.Warn("file descriptor limit unknown; media.fd_reserve is not enforced", "err", err)
		return 0, 0, nil
	}
	log.Info("file descriptors", "soft_limit", soft, "hard_limit", hard, "reserve", cfg.Media.FDReserve)
	if cfg.Media.FDReserve == 0 {
		return 0, 0, nil
	}
	line := soft - cfg.Media.FDReserve
	if line < minControlFDs {
		return 0, 0, fmt.Errorf("media.fd_reserve %d leaves %d of the %d file descriptors allowed (RLIMIT_NOFILE) for the control plane, fewer than %d: raise the limit (ulimit -n, LimitNOFILE=) or lower media.fd_reserve",
			cfg.Media.FDReserve, max(line, 0), soft, minControlFDs)
	}
	return line, line + cfg.Media.FDReserve/2, nil
}

// limitListener puts the connection caps of one listener ("grpc" or "http") on ln.
func limitListener(ln net.Listener, name string, max, perIP, line int, cm *metrics.ConnMetrics) net.Listener {
	open := cm.Open(name)
	return connlimit.New(ln, connlimit.Options{Max: max, PerIP: perIP, FDLine: line,
		OnOpen:    func(d int) { open.Add(float64(d)) },
		OnRefused: func(reason string) { cm.Refused(name, reason).Inc() },
	})
}

// newHTTPServer is the /metrics and /healthz server, with every timeout set: a client
// that sends nothing, or trickles, is closed.
func newHTTPServer(h http.Handler, c config.HTTP) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: httpHeaderTimeout, ReadTimeout: httpReadTimeout,
		WriteTimeout: httpWriteTimeout, IdleTimeout: httpIdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes}
}
