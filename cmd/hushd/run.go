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
	"path/filepath"
	"regexp"
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
	"github.com/hushmedia/hush/internal/version"
	"github.com/hushmedia/hush/media/background"
	"github.com/hushmedia/hush/media/pan"
	"github.com/hushmedia/hush/media/relay"
	"github.com/hushmedia/hush/media/udpio"
)

// ready reports the bound listener addresses once hushd serves (tests listen on port 0).
type ready struct {
	GRPC, HTTP string
	Health     string // grpc.health_listen's address; "" when off
	Peer       string // cluster.listen's address; "" when alone
	NG         string // "" when ng.enabled is false
}

// run is hushd's whole life: configure, serve until ctx is done, drain, exit. It returns
// nil after a clean drain. environ is the environment ("NAME=value", as os.Environ).
// backgroundThreads run the recording writers' work (media.background_nice): two, so one
// held up in a slow write does not hold up the rest.
const backgroundThreads = 2

// latencyRuntimeMetrics are the runtime/metrics, beyond the collector's defaults, that
// show whether the Go runtime holds packets up: stop-the-world pauses, GC CPU (assist
// is what allocating goroutines, the media workers among them, pay), how long goroutines
// wait runnable, and the GC settings in force.
var latencyRuntimeMetrics = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(
	`^/(sched/pauses/total/(gc|other)|sched/latencies|cpu/classes/gc/.*|gc/cycles/total|gc/gogc|gc/gomemlimit):`)}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer, readyc chan<- ready) error {
	var printDefault, printReference, printVersion bool
	cfg, err := config.Load(args, nil, config.WithEnviron(environ), config.WithUsageOutput(stderr), config.WithFlags(func(fs *flag.FlagSet) {
		fs.BoolVar(&printDefault, "print-default-config", false, "print the embedded default configuration and exit")
		fs.BoolVar(&printReference, "print-config-reference", false, "print the configuration reference (markdown) and exit")
		fs.BoolVar(&printVersion, "version", false, "print the version and commit hushd was built from and exit")
	}))
	build := version.Get()
	if printVersion && (err == nil || !errors.Is(err, flag.ErrHelp)) {
		_, werr := fmt.Fprintln(stdout, build.String("hushd"))
		return werr
	}
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
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(latencyRuntimeMetrics)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

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
	if serverTLS != nil {
		logTrust(log, serverTLS.Trust())
	}
	var tokens *auth.TokenStore
	if cfg.Auth.Tokens() && cfg.Auth.TokenFile != "" {
		if tokens, err = auth.LoadTokens(cfg.Auth.TokenFile); err != nil {
			return err
		}
	}
	// The recordings directory must be usable before anything is created (the audit log
	// first): a bad recording.dir stops start-up having changed nothing.
	if err := checkRecordingDir(cfg); err != nil {
		return err
	}
	oidcVerifier, err := newOIDC(ctx, cfg.Auth.OIDC, log)
	if err != nil {
		return err
	}
	var auditLog *audit.Log
	if cfg.Audit.File != "" {
		if auditLog, err = audit.Open(cfg.Audit.File); err != nil {
			return err
		}
		defer auditLog.Close()
		seq, head := auditLog.Head()
		if seq == 0 {
			head = "none" // the chain's all-zero start, which the card-number scrubber would blank
		}
		log.Info("audit log open", "file", cfg.Audit.File, "records", seq, "head", head)
	} else {
		log.Warn("audit log is off (audit.file is empty)")
	}
	auditFailed := m.AuditFailures()
	auditor := audit.NewRecorder(auditLog, func(err error) {
		auditFailed()
		log.Error("audit record not written", "err", err)
	})

	alloc, err := relay.NewPortAllocator(cfg.Media.BindIP(), cfg.Media.PortMin, cfg.Media.PortMax)
	if err != nil {
		return fmt.Errorf("media ports: %w", err)
	}
	engine, err := udpio.New(cfg.Media.Engine, udpio.Options{Workers: cfg.Media.Workers,
		Priority: cfg.Media.RealtimePriority, BusyPoll: cfg.Media.BusyPoll})
	if err != nil {
		return fmt.Errorf("media engine: %w", err)
	}
	defer engine.Close() // deferred first, so it runs after the sessions' calls closed
	log.Info("media engine", "engine", engine.Name(), "realtime_priority", cfg.Media.RealtimePriority,
		"busy_poll", cfg.Media.BusyPoll)
	m.Engine(engine.Name())
	m.MediaPorts(alloc.Capacity(), alloc.InUse)
	defaults, captureMask := policyDefaults(cfg)
	// The recording writers' work runs on threads of its own at a lower priority than the
	// media workers. The pool lives as long as the process: recorders use it until the
	// last session has closed.
	bg, err := background.New(backgroundThreads, cfg.Media.BackgroundNice)
	if err != nil {
		log.Warn("recording writers run at hushd's own priority", "err", err)
	}
	recStore, err := setupRecording(ctx, cfg, log, auditor, bg)
	if err != nil {
		return err
	}
	recorder, recIndex := recStore.factory, recStore.index
	var recordings api.RecordingStore
	var recordingFiles api.RecordingFiles
	if recIndex != nil {
		recordings, recordingFiles = recIndex, recStore.files
		m.RecordingUploadBacklog(func() float64 { return float64(recStore.files.Backlog()) })
		// Deferred before the sessions' end: closes after the last recording did.
		defer func() {
			if err := recIndex.Close(); err != nil {
				log.Error("recordings index close", "err", err)
			}
		}()
	}
	defaults.Recording.Retention = cfg.Recording.Retention
	defaults.Recording.Off = recorder == nil
	fl, err := setupFleet(cfg, log, m)
	if err != nil {
		return err
	}
	var changed func(session.Change)
	nodeName := ""
	if fl != nil {
		defer fl.peerLn.Close()
		changed, nodeName = fl.node.Changed, fl.name
	}
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
		SetupTimeout:   cfg.Media.SetupTimeout,
		Logger:         log,
		Node:           nodeName,
		Monitor:        monitorConfig(cfg.Monitor),
		Hooks: session.Hooks{
			Created:          func() { m.SessionsCreated.Inc(); m.SessionsActive.Inc() },
			Restored:         m.SessionsActive.Inc,
			Ended:            func(r session.EndReason) { m.SessionEnded(r.String()); m.SessionsActive.Dec() },
			CreateFailed:     m.CreateFailed,
			RecordingFailed:  m.RecordingFailed,
			RecordingLate:    m.RecordingLate,
			CaptureAbandoned: m.CaptureAbandoned,
			Changed:          changed,
			Suspected:        m.AgentSuspicious,
			Suspicion:        auditSuspicion(auditor),
		},
	})
	auditor.Session = sessions.Names
	m.DigitsLost(func() float64 { return float64(sessions.DigitsLost.Load()) })
	m.CaptureAbandonReasons(session.AbandonReasons)
	m.SuspicionReasons(session.SuspicionReasons)
	m.SuspicionsUnaudited(func() float64 { return float64(sessions.SuspicionsLost.Load()) })
	m.RecordingStates(recordingStateNames, func() []int { c := sessions.RecordingCounts(); return c[:] })

	ao := auth.Options{Mode: cfg.Auth.Mode, Tokens: tokens, OIDC: oidcVerifier, Owner: sessions,
		OnDenied: auditor.Denied, OnRevoked: auditor.Revoked, MaxStreamsPerClient: cfg.Auth.MaxStreamsPerClient}
	if serverTLS != nil {
		ao.Certs = serverTLS
	}
	peerAO := ao // the peer listener binds agents by this node's own sessions
	if fl != nil {
		ao.Owner = fl.router // the edge binds agents wherever their session runs
	}
	authz, err := auth.NewAuthorizer(ao)
	if err != nil {
		return err
	}
	var creds credentials.TransportCredentials
	if serverTLS != nil {
		creds = credentials.NewTLS(serverTLS.GRPC())
	}

	offerAnswer := newOfferAnswer(sipDeps{cfg: cfg, log: log, sessions: sessions, media: media})
	d := &drainer{reg: sessions, log: log, fleet: fl}
	apiOpts := api.Options{
		Creds: creds, Limiter: auth.NewRateLimiter(cfg.Auth.RateLimit, cfg.Auth.RateBurst),
		Authorizer: authz, Auditor: auditor, Reflection: cfg.Auth.Reflection,
		MaxRecvMsgSize: cfg.GRPC.MaxMessageSize,
		Transport: api.Transport{HandshakeTimeout: cfg.GRPC.HandshakeTimeout, IdleTimeout: cfg.GRPC.IdleTimeout,
			MaxStreams: uint32(cfg.GRPC.MaxStreamsPerConnection), MaxHeaderBytes: uint32(cfg.GRPC.MaxHeaderBytes)},
		Registry: sessions, Metrics: m, Logger: log,
		MediaAddr: cfg.Media.BindIP(), AdvertiseAddr: cfg.Media.AdvertiseIP(),
		Defaults: defaults, Drainer: d, DrainTimeout: cfg.Session.DrainTimeout,
		Recordings: recordings, RecordingFiles: recordingFiles, AuditFile: cfg.Audit.File, AuditLog: auditLog,
		OfferAnswer: offerAnswer,
		Diagnostics: &diagnostics{cfg: cfg, engine: engine.Name(), alloc: alloc, sessions: sessions, audit: auditLog},
	}
	if fl != nil {
		apiOpts.Unary = append(apiOpts.Unary, fl.router.Unary())
		apiOpts.Stream = append(apiOpts.Stream, fl.router.Stream())
	}
	srv := api.NewServer(apiOpts)
	d.srv = srv
	if fl != nil {
		if _, err := fl.peerServer(apiOpts, peerAO); err != nil {
			return err
		}
		srv.SetStatus(api.ClusterHealthService, false)
		fl.health = func(ok bool) { srv.SetStatus(api.ClusterHealthService, ok) }
		fl.node.Start(sessions)
		defer fl.close()
	}

	grpcLine, httpLine, err := fdLines(cfg, log)
	if err != nil {
		return err
	}
	conns := m.Connections()
	grpcLn, err := net.Listen("tcp", cfg.GRPC.Listen)
	if err != nil {
		return fmt.Errorf("grpc.listen: %w", err)
	}
	grpcLn = limitListener(grpcLn, "grpc", cfg.GRPC.MaxConnections, cfg.GRPC.MaxConnectionsPerIP, grpcLine, conns)
	httpLn, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		grpcLn.Close()
		return fmt.Errorf("http.listen: %w", err)
	}
	httpLn = limitListener(httpLn, "http", cfg.HTTP.MaxConnections, cfg.HTTP.MaxConnectionsPerIP, httpLine, conns)
	ngConn, err := listenNG(cfg.NG)
	if err != nil {
		grpcLn.Close()
		httpLn.Close()
		return err
	}
	if serverTLS != nil {
		httpLn = tls.NewListener(httpLn, serverTLS.HTTP())
	}
	var metricsHandler http.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if !cfg.HTTP.MetricsOpen {
		metricsHandler = authz.HTTP(metricsHandler, auth.MetricsRoles...)
	}
	// The browser door: the gateway and the pages call the gRPC server over an
	// in-process connection, through every interceptor a network call crosses.
	inproc := auth.NewInProcess()
	browser, err := newBrowserDoor(cfg, inproc, log)
	if err != nil {
		grpcLn.Close()
		httpLn.Close()
		return err
	}
	defer browser.Close()
	mux := httpMux(metricsHandler, sessions, fl)
	// Runtime profiles: the admin role only, through the authorizer /metrics uses.
	mux.Handle("GET /debug/pprof/", authz.HTTP(pprofHandler(), auth.RoleAdmin))
	browser.mount(mux)
	httpSrv := newHTTPServer(mux, cfg.HTTP)
	var healthLn net.Listener
	if cfg.GRPC.HealthListen != "" {
		if healthLn, err = net.Listen("tcp", cfg.GRPC.HealthListen); err != nil {
			grpcLn.Close()
			httpLn.Close()
			return fmt.Errorf("grpc.health_listen: %w", err)
		}
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(4)
	go func() { defer wg.Done(); sessions.Run(runCtx) }()
	if recStore.files != nil {
		wg.Add(1)
		go func() { defer wg.Done(); runRecordingStorage(runCtx, recStore.files, log) }()
	}
	go func() { defer wg.Done(); errc <- srv.GRPC.Serve(grpcLn) }()
	go func() { defer wg.Done(); _ = srv.GRPC.Serve(inproc) }()
	go func() {
		defer wg.Done()
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	rd := ready{GRPC: grpcLn.Addr().String(), HTTP: httpLn.Addr().String()}
	if fl != nil {
		wg.Add(1)
		go func() { defer wg.Done(); _ = fl.peer.Serve(fl.peerLn) }()
		rd.Peer = fl.peerLn.Addr().String()
		log.Info("cluster node", "node", fl.name, "peer", rd.Peer, "redis", cfg.Cluster.RedisAddr,
			"media", cfg.Media.AdvertiseIP(), "peer_tls", fl.peerTLS != nil, "lease", cfg.Cluster.Lease)
	}
	var healthSrv interface{ Stop() }
	if healthLn != nil {
		hs := srv.HealthServer()
		healthSrv, rd.Health = hs, healthLn.Addr().String()
		wg.Add(1)
		go func() { defer wg.Done(); _ = hs.Serve(healthLn) }()
	}
	rd.NG = serveNG(runCtx, &wg, sipDeps{cfg: cfg, log: log, sessions: sessions, media: media, reg: reg,
		auditor: auditor}, offerAnswer, ngConn)
	log.Info("hushd serving", "grpc", rd.GRPC, "http", rd.HTTP, "health", rd.Health, "ng", rd.NG,
		"media", fmt.Sprintf("%s:%d-%d", cfg.Media.Address, cfg.Media.PortMin, cfg.Media.PortMax),
		"tls", tlsState(cfg), "auth", cfg.Auth.Mode, "recordings", where(recordingDir(cfg)), "audit", where(cfg.Audit.File),
		"version", build.Short())
	if cfg.Auth.Mode == config.AuthNone {
		log.Warn("authentication is off (auth.mode: none): anyone who can reach " + grpcLn.Addr().String() +
			" may call every RPC; set auth.mode before exposing hushd")
	}
	if readyc != nil {
		readyc <- rd
	}

	// SIGHUP re-reads the credentials (token file, certificate, client CAs, CRLs, cluster
	// CA and CRLs); a bad
	// file keeps the old set. Then every open stream is judged again.
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
				reloadCredentials(log, tokens, serverTLS, authz, fl)
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

	// Drain: refuse new sessions, let active ones run up to the deadline (or hand them
	// over, in a cluster with cluster.drain_handoff), then end them.
	d.drainNow(cfg.Session.DrainTimeout, cfg.Cluster.DrainHandoff)
	srv.Shutdown()
	if healthSrv != nil {
		healthSrv.Stop() // readiness probes have seen SessionService NOT_SERVING since the drain began
	}
	stopGRPC(srv, 5*time.Second)
	fl.close() // after the drain: the directory gets the sessions' ends
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = httpSrv.Shutdown(shutCtx)
	cancel()
	cancelRun()
	wg.Wait()
	log.Info("hushd stopped")
	return serveErr
}

// recordingStateNames label hush_sessions_recording, in session.RecordingState order.
var recordingStateNames = []string{session.RecordingStopped.String(), session.RecordingActive.String(),
	session.RecordingPaused.String(), session.RecordingFailed.String()}

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
	opts := &slog.HandlerOptions{Level: c.SlogLevel(), ReplaceAttr: logAttr}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// scrubAttr removes card-like numbers (pan.Scrub) from every text hushd logs: the message
// and string, error and Stringer values, where ids and reasons a caller supplied end up.
func scrubAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.SourceKey) {
		return a
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); pan.Contains(s) {
			a.Value = slog.StringValue(pan.Scrub(s))
		}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		default:
			return a
		}
		if pan.Contains(s) {
			a.Value = slog.StringValue(pan.Scrub(s))
		}
	}
	return a
}

// logAttr applies both: durations as text, card-like numbers scrubbed.
func logAttr(groups []string, a slog.Attr) slog.Attr {
	return scrubAttr(groups, durationText(groups, a))
}

// durationText writes durations as Go duration strings ("1.5s") in every format; slog's
// JSON handler would write nanoseconds, which no reader of a log expects.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// tlsState names the transport security of the listeners for the start-up line.
func tlsState(cfg *config.Config) string {
	switch {
	case cfg.TLS.CertFile == "":
		return "off"
	case cfg.TLS.ClientCAFile != "":
		return "mtls"
	}
	return "on"
}

// recordingDir is where recordings go, or "" when recording is off.
func recordingDir(cfg *config.Config) string {
	if !cfg.Recording.Enabled {
		return ""
	}
	return cfg.Recording.Dir
}

// where is a file or directory as an absolute path for the start-up line, or "off".
func where(path string) string {
	if path == "" {
		return "off"
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func httpMux(metrics http.Handler, sessions *session.Registry, fl *fleet) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if sessions.Draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "draining")
			return
		}
		if fl != nil && !fl.node.Healthy() {
			// Degraded, not down: this node's calls go on and its own sessions answer;
			// pulling it from the load balancer would only end calls.
			fmt.Fprintln(w, "degraded: session directory unreachable")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// drainer runs one drain at a time, from SIGTERM or the Admin API.
type drainer struct {
	reg      *session.Registry
	srv      *api.Server
	log      *slog.Logger
	fleet    *fleet // nil when alone
	done     chan struct{}
	deadline time.Duration // of the drain running
	handoff  bool          // sessions are being handed to other nodes
	ctx      context.Context
	mu       sync.Mutex
}

// Drain starts a drain in the background (Admin API) and returns the sessions active when
// draining began. Repeating it returns the same; asking for another deadline while a
// drain runs is refused, since it would not be honoured.
func (d *drainer) Drain(deadline time.Duration) (int, error) {
	if _, err := d.start(deadline, false); err != nil {
		return 0, err
	}
	return d.reg.StartDrain(), nil
}

// DrainHandoff is Drain that hands the sessions to other nodes of the cluster.
func (d *drainer) DrainHandoff(deadline time.Duration) (int, error) {
	if d.fleet == nil {
		return 0, fmt.Errorf("handoff needs a cluster (cluster.redis_addr)")
	}
	if _, err := d.start(deadline, true); err != nil {
		return 0, err
	}
	return d.reg.StartDrain(), nil
}

func (d *drainer) start(deadline time.Duration, handoff bool) (chan struct{}, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done != nil {
		if deadline != d.deadline {
			return d.done, fmt.Errorf("a drain with deadline %s has already started; its deadline cannot be changed", d.deadline)
		}
		if handoff {
			d.handOffLocked()
		}
		return d.done, nil
	}
	d.reg.StartDrain()
	d.done, d.deadline = make(chan struct{}), deadline
	d.srv.SetServing(false)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	d.ctx = ctx
	if d.fleet != nil {
		d.fleet.node.SetDraining()
	}
	if handoff {
		d.handOffLocked()
	}
	go func() {
		defer cancel()
		n := d.reg.Drain(ctx)
		d.log.Info("drain finished", "sessions_at_start", n)
		close(d.done)
	}()
	return d.done, nil
}

// handOffLocked starts handing the sessions over, once per drain.
func (d *drainer) handOffLocked() {
	if d.handoff || d.fleet == nil {
		return
	}
	d.handoff = true
	go func() {
		n, err := d.fleet.node.Handoff(d.ctx)
		d.log.Info("sessions handed over to other nodes", "sessions", n, "err", err)
	}()
}

// drainNow drains (or joins a drain already running) and waits for it.
func (d *drainer) drainNow(deadline time.Duration, handoff bool) {
	done, _ := d.start(deadline, handoff && d.fleet != nil) // a drain already running is joined, whatever its deadline
	<-done
}
