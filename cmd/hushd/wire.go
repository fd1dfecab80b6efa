package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/metrics"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/background"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
	"github.com/hushmedia/hush/media/record/seal"
	"github.com/hushmedia/hush/media/record/store"
	"github.com/hushmedia/hush/media/relay"
	"github.com/hushmedia/hush/media/udpio"
)

var maskModes = map[string]session.MaskMode{
	"off": session.MaskOff, "silence": session.MaskSilence,
	"comfort-noise": session.MaskComfortNoise, "tone": session.MaskTone,
}

// policyDefaults turns the configuration into the policy sessions start with and the
// masking secure capture uses when policy leaves the agent's ear unmasked.
func policyDefaults(cfg *config.Config) (session.Policy, session.MaskPolicy) {
	mp := func(mode string) session.MaskPolicy {
		return session.MaskPolicy{Mode: maskModes[mode], LookAhead: cfg.Masking.LookAhead, ToneHz: cfg.Masking.ToneHz}
	}
	return session.Policy{
		CustomerToAgent: mp(cfg.Masking.CustomerToAgent),
		AgentToCustomer: mp(cfg.Masking.AgentToCustomer),
		StrictSource:    cfg.Media.StrictSource,
		IdleTimeout:     cfg.Media.IdleTimeout,
	}, mp(cfg.Masking.CaptureMode)
}

// checkRecordingDir makes sure hushd can write recordings where recording.dir says, before
// hushd creates anything: the directory is made if missing and a file is created in it and
// removed. Without it a read-only or misspelt directory surfaced only at the first call.
func checkRecordingDir(cfg *config.Config) error {
	if !cfg.Recording.Enabled {
		return nil
	}
	dir := cfg.Recording.Dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("recording.dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".hushd-write-check-*")
	if err != nil {
		return fmt.Errorf("recording.dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("recording.dir %s: %w", dir, err)
	}
	return nil
}

// recordingStorage is what setupRecording returns: the recorder factory, the index QA
// reads, and the manager of finished recordings (retention, erasure, object store), all
// nil when recording is off. The caller closes the index after the last recording has
// closed, and runs the manager's loops.
type recordingStorage struct {
	factory session.RecorderFactory
	index   *index.Index
	files   *store.Manager
}

// setupRecording prepares the recordings directory and the keys that seal recordings at
// rest, brings the recordings index up to date and repairs recordings a crash left open
// (where the index finds changes).
func setupRecording(ctx context.Context, cfg *config.Config, log *slog.Logger, aud audit.Auditor, bg *background.Pool) (recordingStorage, error) {
	if !cfg.Recording.Enabled {
		return recordingStorage{}, nil
	}
	root := cfg.Recording.Dir
	if err := os.MkdirAll(root, 0o750); err != nil {
		return recordingStorage{}, fmt.Errorf("recording.dir: %w", err)
	}
	ropts, err := recordingKeys(cfg, log)
	if err != nil {
		return recordingStorage{}, err
	}
	// Repair runs where the index finds a directory changed since hushd last stopped
	// cleanly: where a crash can have left recordings open (everywhere on a rebuild).
	repair := func(dir string) error {
		results, err := record.Repair(dir, ropts...)
		if err != nil {
			return fmt.Errorf("repair: %w", err)
		}
		for _, r := range results {
			if r.Err != nil {
				log.Error("recording could not be repaired", "recording_id", r.RecordingID, "err", r.Err)
				continue
			}
			log.Warn("recording left open by a crash was repaired", "recording_id", r.RecordingID,
				"status", string(r.Status), "samples", r.FileSamples)
		}
		return nil
	}
	idx, rep, err := index.Open(ctx, root, index.WithRepair(repair), index.WithRecordOptions(ropts...))
	if err != nil {
		return recordingStorage{}, fmt.Errorf("recording.dir: index: %w", err)
	}
	if rep.Rebuilt || rep.Dirs > 0 {
		log.Info("recordings index updated from the sidecars", "rebuilt", rep.Rebuilt, "why", rep.Why,
			"directories", rep.Dirs, "indexed", rep.Indexed, "removed", rep.Removed, "unreadable", rep.Skipped,
			"took", rep.Duration.Round(time.Millisecond).String())
	}
	objects, err := objectStore(cfg)
	if err != nil {
		idx.Close()
		return recordingStorage{}, err
	}
	files := store.New(store.Options{Root: root, Index: idx, Record: ropts, Objects: objects,
		OnDelete: func(e store.Erased) {
			_ = aud.Record(context.Background(), audit.ActionRecordingExpire, "", "", "OK",
				fmt.Sprintf("recording_id=%s retention ended; removed from disk (object store: %t) and index", e.RecordingID, e.Objects))
		},
		Events: store.UploadEvents{
			Failed: func(id string, err error, retryIn time.Duration, backlog int) {
				log.Warn("recording upload failed; it waits on disk", "recording_id", id, "err", err,
					"retry_in", retryIn, "backlog", backlog)
			},
			Uploaded: func(id string, backlog int) {
				log.Info("recording moved to the object store", "recording_id", id, "backlog", backlog)
			},
		}})
	// The recording tap hands each frame over with its arrival time; the input delay
	// places what comes without one (and moves pauses by as much, so a pause covers
	// exactly what was said during it).
	opts := append([]record.Option{record.WithInputDelay(cfg.Recording.LookAhead), record.WithPool(bg)}, ropts...)
	if cfg.Recording.Format == "ulaw" {
		opts = append(opts, record.WithFormat(record.FormatULaw))
	}
	return recordingStorage{
		factory: session.RecordFactory(root, finishing{idx, files}, opts...),
		index:   idx, files: files,
	}, nil
}

// finishing is the recorders' index: it keeps the index current and hands each finished
// recording to the manager (for the object store).
type finishing struct {
	idx   *index.Index
	files *store.Manager
}

func (f finishing) Put(dir string, sc *record.Sidecar) error {
	err := f.idx.Put(dir, sc)
	f.files.Finished(sc)
	return err
}

// recordingKeys loads the key-encryption keys (creating the key file with one new key
// when recording.encrypt is on and it is missing) and returns the record options that
// seal new recordings (or only open sealed ones, when encryption is off).
func recordingKeys(cfg *config.Config, log *slog.Logger) ([]record.Option, error) {
	path := cfg.Recording.KeyFile
	if !cfg.Recording.Encrypt {
		log.Warn("recordings are written unencrypted (recording.encrypt: false): only a disk encrypted " +
			"underneath protects them at rest")
	}
	if path == "" {
		return nil, nil
	}
	kr, err := seal.LoadKeyFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && cfg.Recording.Encrypt:
		id, gerr := seal.GenerateKeyFile(path)
		if gerr != nil {
			return nil, fmt.Errorf("recording.key_file: create %s: %w", path, gerr)
		}
		log.Warn("created a new recording key-encryption key: back this file up and keep it apart from the "+
			"recordings; without it no recording opens", "key_file", where(path), "key_id", id)
		if kr, err = seal.LoadKeyFile(path); err != nil {
			return nil, fmt.Errorf("recording.key_file: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
		return nil, nil // plain recordings and no key: nothing sealed to open
	case err != nil:
		return nil, fmt.Errorf("recording.key_file: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("recording.key_file is readable by other users: chmod 600 it", "key_file", where(path),
			"mode", st.Mode().Perm().String())
	}
	if cfg.Recording.Encrypt {
		log.Info("recordings are encrypted at rest", "key_file", where(path), "key_id", kr.Current())
		return []record.Option{record.WithSealing(kr)}, nil
	}
	return []record.Option{record.WithKeyring(kr)}, nil
}

// objectStore is the S3-compatible store recordings move to, or nil (local disk only).
func objectStore(cfg *config.Config) (store.Objects, error) {
	rc := cfg.Recording
	if rc.StoreEndpoint == "" {
		return nil, nil
	}
	b, err := os.ReadFile(rc.StoreCredentialsFile)
	if err != nil {
		return nil, fmt.Errorf("recording.store_credentials_file: %w", err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 2 {
		return nil, fmt.Errorf("recording.store_credentials_file: want the access key id and the secret key, one a line")
	}
	s3, err := store.NewS3(store.S3Options{Endpoint: rc.StoreEndpoint, Bucket: rc.StoreBucket, Region: rc.StoreRegion,
		Secure: rc.StoreTLS, AccessKey: lines[0], SecretKey: lines[1]})
	if err != nil {
		return nil, fmt.Errorf("recording.store_endpoint: %w", err)
	}
	return s3, nil
}

// runRecordingStorage runs the manager's loops until ctx is done: uploads to the object
// store, and the retention sweep (at start, then hourly).
func runRecordingStorage(ctx context.Context, files *store.Manager, log *slog.Logger) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); files.RunUploads(ctx, time.Second, time.Minute) }()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if out, err := files.Sweep(ctx); err != nil {
			log.Warn("retention sweep incomplete; the rest is retried at the next", "deleted", len(out), "err", err)
		} else if len(out) > 0 {
			log.Info("recordings deleted at the end of their retention", "deleted", len(out))
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		}
	}
}

// relayOptions resolves the metric label children once; every call shares them.
func relayOptions(m *metrics.Metrics, mc config.Media, engine udpio.Engine) []relay.Option {
	opts := []relay.Option{relay.WithLatencySampling(mc.LatencySampleEvery), relay.WithRateLimit(mc.RateLimitPPS),
		relay.WithMaxQueueDelay(mc.MaxQueueDelay), relay.WithEngine(engine)}
	for _, dir := range []relay.Direction{relay.CustomerToAgent, relay.AgentToCustomer} {
		set := m.Direction(dir.String())
		dm := relay.DirectionMetrics{
			Packets: set.RTPPackets, Bytes: set.RTPBytes,
			RTCPPackets: set.RTCPPackets, RTCPBytes: set.RTCPBytes,
			Latency:        set.Latency,
			MaskedSamples:  set.MaskedSamples,
			NotchedSamples: set.NotchedSamples,
			DigitsCaptured: set.DigitsCaptured,
			LateMasks:      set.LateMasks,
		}
		for r := relay.DropReason(1); r < relay.NumDropReasons; r++ {
			dm.Drops[r] = m.Drop(dir.String(), r.String())
		}
		for r := range relay.NumLatchRejects {
			dm.LatchRejects[r] = m.LatchRejected(dir.From().String(), r.String())
		}
		opts = append(opts, relay.WithMetrics(dir, dm))
	}
	return opts
}

// monitorConfig turns the configuration into agent-activity monitoring's thresholds.
func monitorConfig(c config.Monitor) session.MonitorConfig {
	return session.MonitorConfig{Enabled: c.Enabled, MaxPause: c.MaxPause, PaymentWindow: c.PaymentWindow,
		PausesPerHour: c.PausesPerHour}
}

// auditSuspicion writes each flag of agent-activity monitoring to the audit trail, as
// hushd's own record naming the session, call, agent and request it concerns.
func auditSuspicion(a *audit.Recorder) func(session.Suspicion) {
	return func(s session.Suspicion) {
		detail := s.Reason + ": " + s.Detail
		if s.Actor != "" {
			detail += " (by " + s.Actor + ")"
		}
		_ = a.System(audit.Record{Action: audit.ActionSuspicious, SessionID: s.SessionID, CallID: s.CallID,
			AgentID: s.AgentID, RequestID: s.RequestID, Outcome: "OK", Detail: detail})
	}
}
