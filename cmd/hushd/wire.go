package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/metrics"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
	"github.com/hushmedia/hush/media/relay"
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

// setupRecording prepares the recordings directory, brings the recordings index up to date
// and repairs recordings a crash left open (where the index finds changes), and returns the recorder factory and the index
// QA reads (both nil when recording is off). The caller closes the index after the last
// recording has closed.
func setupRecording(ctx context.Context, cfg *config.Config, log *slog.Logger) (session.RecorderFactory, *index.Index, error) {
	if !cfg.Recording.Enabled {
		return nil, nil, nil
	}
	root := cfg.Recording.Dir
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, nil, fmt.Errorf("recording.dir: %w", err)
	}
	// Repair runs where the index finds a directory changed since hushd last stopped
	// cleanly: where a crash can have left recordings open (everywhere on a rebuild).
	repair := func(dir string) error {
		results, err := record.Repair(dir)
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
	idx, rep, err := index.Open(ctx, root, index.WithRepair(repair))
	if err != nil {
		return nil, nil, fmt.Errorf("recording.dir: index: %w", err)
	}
	if rep.Rebuilt || rep.Dirs > 0 {
		log.Info("recordings index updated from the sidecars", "rebuilt", rep.Rebuilt, "why", rep.Why,
			"directories", rep.Dirs, "indexed", rep.Indexed, "removed", rep.Removed, "unreadable", rep.Skipped,
			"took", rep.Duration.Round(time.Millisecond).String())
	}
	// The recording tap hands each frame over with its arrival time; the input delay
	// places what comes without one (and moves pauses by as much, so a pause covers
	// exactly what was said during it).
	return session.RecordFactory(root, idx, record.WithInputDelay(cfg.Recording.LookAhead)), idx, nil
}

// relayOptions resolves the metric label children once; every call shares them.
func relayOptions(m *metrics.Metrics, mc config.Media, engine relay.Engine) []relay.Option {
	opts := []relay.Option{relay.WithLatencySampling(mc.LatencySampleEvery), relay.WithRateLimit(mc.RateLimitPPS),
		relay.WithEngine(engine)}
	for _, dir := range []relay.Direction{relay.CustomerToAgent, relay.AgentToCustomer} {
		set := m.Direction(dir.String())
		dm := relay.DirectionMetrics{
			Packets: set.RTPPackets, Bytes: set.RTPBytes,
			RTCPPackets: set.RTCPPackets, RTCPBytes: set.RTCPBytes,
			Latency:        set.Latency,
			MaskedSamples:  set.MaskedSamples,
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
