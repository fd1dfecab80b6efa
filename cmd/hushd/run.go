package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"google.golang.org/grpc/credentials"

	"github.com/hushmedia/hush/internal/api"
	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/metrics"
	"github.com/hushmedia/hush/internal/ng"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/relay"
)

// ready reports the bound listener addresses once hushd serves (tests listen on port 0).
type ready struct {
	GRPC, HTTP string
	NG         string // "" when ng.enabled is false
}

// run is hushd's whole life: configure, serve until ctx is done, drain, exit. It returns
// nil after a clean drain.
func run(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer, readyc chan<- ready) error {
	var printDefault, printReference bool
	cfg, err := config.Load(args, env, config.WithUsageOutput(stderr), config.WithFlags(func(fs *flag.FlagSet) {
		fs.BoolVar(&printDefault, "print-default-config", false, "print the embedded default configuration and exit")
		fs.BoolVar(&printReference, "print-config-reference", false, "print the configuration reference (markdown) and exit")
	}))
	if (printDefault || printReference) && (err == nil || !errors.Is(err, flag.ErrHelp)) {
		out := config.DefaultYAML()
		if printReference {
			out = []byte(config.Reference())
		}
		_, werr := stdout.Write(out)
		return werr
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)

	// Security: refuse unsafe listeners, load TLS, tokens and the audit log.
	warns, err := auth.CheckListenSafety(cfg)
	if err != nil {
		return err
	}
	ngWarns, err := ng.CheckListen(cfg.NG)
	if err != nil {
		return err
	}
	for _, w := range append(warns, ngWarns...) {
		log.Warn("insecure listener: " + w)
	}
	serverTLS, err := auth.NewServerTLS(cfg.TLS, cfg.Auth.Mode)
	if err != nil {
		return err
	}
	var tokens *auth.TokenStore
	if cfg.Auth.Tokens() {
		if tokens, err = auth.LoadTokens(cfg.Auth.TokenFile); err != nil {
			return err
		}
	}
	var auditLog *audit.Log
	if cfg.Audit.File != "" {
		if auditLog, err = audit.Open(cfg.Audit.File); err != nil {
			return err
		}
		defer auditLog.Close()
		seq, head := auditLog.Head()
		log.Info("audit log open", "file", cfg.Audit.File, "records", seq, "head", head)
	} else {
		log.Warn("audit log is off (audit.file is empty)")
	}
	auditor := audit.NewRecorder(auditLog, func(err error) { log.Error("audit record not written", "err", err) })

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	alloc, err := relay.NewPortAllocator(cfg.Media.BindIP(), cfg.Media.PortMin, cfg.Media.PortMax)
	if err != nil {
		return fmt.Errorf("media ports: %w", err)
	}
	engine, err := relay.NewEngine(cfg.Media.Engine, relay.EngineOptions{})
	if err != nil {
		return fmt.Errorf("media engine: %w", err)
	}
	defer engine.Close() // deferred first, so it runs after the sessions' calls closed
	log.Info("media engine", "engine", engine.Name())
	defaults, captureMask := policyDefaults(cfg)
	recorder, recDir, err := setupRecording(cfg, log, m)
	if err != nil {
		return err
	}
	defaults.Recording.Off = recorder == nil
	media := session.RelayFactory(alloc,
		session.RelayConfig{RecordDelay: cfg.Recording.LookAhead, LockSSRC: cfg.Media.LockSSRC},
		relayOptions(m, cfg.Media, engine)...)
	sessions := session.NewRegistry(session.Config{
		Media:          media,
		Defaults:       defaults,
		CaptureMask:    captureMask,
		CaptureTrigger: cfg.Masking.CaptureTrigger,
		Recorder:       recorder,
		MaxSessions:    cfg.Session.MaxSessions,
		Logger:         log,
		Hooks: session.Hooks{
			Created:         func() { m.SessionsCreated.Inc(); m.SessionsActive.Inc() },
			Ended:           func(r session.EndReason) { m.SessionEnded(r.String()); m.SessionsActive.Dec() },
			CreateFailed:    m.CreateFailed,
			RecordingFailed: m.RecordingFailed,
		},
	})
	m.DigitsLost(func() float64 { return float64(sessions.DigitsLost.Load()) })

	authz, err := auth.NewAuthorizer(auth.Options{Mode: cfg.Auth.Mode, Tokens: tokens, Owner: sessions,
		OnDenied: auditor.Denied})
	if err != nil {
		return err
	}
	var creds credentials.TransportCredentials
	if serverTLS != nil {
		creds = credentials.NewTLS(serverTLS.GRPC())
	}

	offerAnswer := newOfferAnswer(sipDeps{cfg: cfg, log: log, sessions: sessions, media: media})
	d := &drainer{reg: sessions, log: log}
	srv := api.NewServer(api.Options{
		Creds: creds, Limiter: auth.NewRateLimiter(cfg.Auth.RateLimit, cfg.Auth.RateBurst),
		Authorizer: authz, Auditor: auditor, Reflection: cfg.Auth.Reflection,
		MaxRecvMsgSize: cfg.GRPC.MaxMessageSize,
		Registry:       sessions, Metrics: m, Logger: log,
		MediaAddr: cfg.Media.BindIP(), AdvertiseAddr: cfg.Media.AdvertiseIP(),
		Defaults: defaults, Drainer: d, DrainTimeout: cfg.Session.DrainTimeout,
		RecordingDir: recDir, OfferAnswer: offerAnswer,
	})
	d.srv = srv

	grpcLn, err := net.Listen("tcp", cfg.GRPC.Listen)
	if err != nil {
		return fmt.Errorf("grpc.listen: %w", err)
	}
	httpLn, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		grpcLn.Close()
		return fmt.Errorf("http.listen: %w", err)
	}
	ngConn, err := listenNG(cfg.NG)
	if err != nil {
		grpcLn.Close()
		httpLn.Close()
		return err
	}
	if serverTLS != nil {
		httpLn = tls.NewListener(httpLn, serverTLS.HTTP())
	}
	httpSrv := &http.Server{Handler: httpMux(reg, sessions), ReadHeaderTimeout: 5 * time.Second}

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(3)
	go func() { defer wg.Done(); sessions.Run(runCtx) }()
	go func() { defer wg.Done(); errc <- srv.GRPC.Serve(grpcLn) }()
	go func() {
		defer wg.Done()
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	ngAddr := serveNG(runCtx, &wg, sipDeps{cfg: cfg, log: log, sessions: sessions, media: media, reg: reg,
		auditor: auditor}, offerAnswer, ngConn)
	log.Info("hushd serving", "grpc", grpcLn.Addr().String(), "http", httpLn.Addr().String(), "ng", ngAddr,
		"media", fmt.Sprintf("%s:%d-%d", cfg.Media.Address, cfg.Media.PortMin, cfg.Media.PortMax))
	if readyc != nil {
		readyc <- ready{GRPC: grpcLn.Addr().String(), HTTP: httpLn.Addr().String(), NG: ngAddr}
	}

	// SIGHUP re-reads the token file and the TLS certificate; a bad file keeps the old one.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				if tokens != nil {
					if err := tokens.Reload(); err != nil {
						log.Error("token reload failed; keeping the old tokens", "err", err)
					} else {
						log.Info("tokens reloaded", "count", tokens.Len())
					}
				}
				if serverTLS != nil {
					if err := serverTLS.Reload(); err != nil {
						log.Error("certificate reload failed; keeping the old one", "err", err)
					} else {
						log.Info("certificate reloaded")
					}
				}
			}
		}
	}()

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining sessions", "active", sessions.Len(), "deadline", cfg.Session.DrainTimeout)
	case serveErr = <-errc:
		log.Error("server failed; shutting down", "err", serveErr)
	}

	// Drain: refuse new sessions, let active ones run up to the deadline, then end them.
	d.drainNow(cfg.Session.DrainTimeout)
	srv.Shutdown()
	stopGRPC(srv, 5*time.Second)
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = httpSrv.Shutdown(shutCtx)
	cancel()
	cancelRun()
	wg.Wait()
	log.Info("hushd stopped")
	return serveErr
}

// stopGRPC stops gracefully (watch streams have ended with their sessions), forcing after
// a bound so a stuck client cannot hold the exit.
func stopGRPC(srv *api.Server, bound time.Duration) {
	done := make(chan struct{})
	go func() { srv.GRPC.GracefulStop(); close(done) }()
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		srv.GRPC.Stop()
		<-done
	}
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func httpMux(reg *prometheus.Registry, sessions *session.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if sessions.Draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "draining")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// drainer runs one drain at a time, from SIGTERM or the Admin API.
type drainer struct {
	reg  *session.Registry
	srv  *api.Server
	log  *slog.Logger
	done chan struct{}
	mu   sync.Mutex
}

// Drain starts a drain in the background (Admin API) and returns the active count.
func (d *drainer) Drain(deadline time.Duration) int {
	n := d.reg.StartDrain()
	d.start(deadline)
	return n
}

func (d *drainer) start(deadline time.Duration) chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done == nil {
		d.done = make(chan struct{})
		d.srv.SetServing(false)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			n := d.reg.Drain(ctx)
			d.log.Info("drain finished", "sessions_at_start", n)
			close(d.done)
		}()
	}
	return d.done
}

// drainNow drains (or joins a drain already running) and waits for it.
func (d *drainer) drainNow(deadline time.Duration) {
	<-d.start(deadline)
}
