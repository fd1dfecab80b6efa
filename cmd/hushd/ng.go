package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/metrics"
	"github.com/hushmedia/hush/internal/ng"
	"github.com/hushmedia/hush/internal/offeranswer"
	"github.com/hushmedia/hush/internal/session"
)

// sipDeps is what the SIP integration (offer/answer engine, ng listener) shares with the
// rest of hushd.
type sipDeps struct {
	cfg      *config.Config
	log      *slog.Logger
	sessions *session.Registry
	media    session.MediaFactory // extra m= lines relayed plain get their relay from it
	reg      prometheus.Registerer
	auditor  audit.Auditor
}

// newOfferAnswer builds the engine both the ng listener and gRPC Offer/Answer use.
func newOfferAnswer(d sipDeps) *offeranswer.Engine {
	return offeranswer.New(offeranswer.Config{
		Registry: d.sessions, Plain: d.media, Addr: d.cfg.Media.AdvertiseIP(),
		CustomerAnswers: d.cfg.NG.Customer == "answerer", OfferTimeout: d.cfg.NG.OfferTimeout,
		Logger: d.log,
	})
}

// listenNG opens the ng socket when ng.enabled (nil when off).
func listenNG(c config.NG) (net.PacketConn, error) {
	if !c.Enabled {
		return nil, nil
	}
	conn, err := net.ListenPacket("udp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("ng.listen: %w", err)
	}
	return conn, nil
}

// serveNG serves the ng listener (when conn is not nil) and the engine's sweep of ended
// sessions until ctx ends; it returns the listener's address ("" when off).
func serveNG(ctx context.Context, wg *sync.WaitGroup, d sipDeps, engine *offeranswer.Engine, conn net.PacketConn) string {
	wg.Add(1)
	go func() { defer wg.Done(); engine.Run(ctx, time.Second) }()
	if conn == nil {
		return ""
	}
	srv := ng.NewServer(ng.Config{
		Engine: engine, Registry: d.sessions, Allow: d.cfg.NG.AllowPrefixes(),
		Limiter: auth.NewRateLimiter(d.cfg.NG.RateLimit, d.cfg.NG.RateBurst),
		Auditor: d.auditor, Metrics: metrics.NewNG(d.reg, ng.Reasons()), Logger: d.log,
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, conn); err != nil {
			d.log.Error("ng listener failed", "err", err)
		}
	}()
	return conn.LocalAddr().String()
}
