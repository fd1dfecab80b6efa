package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/metrics"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/record"
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

// setupRecording prepares the recordings directory, repairs recordings a crash left open,
// and returns the recorder factory (nil when recording is off) and the directory QA reads.
func setupRecording(cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (session.RecorderFactory, string, error) {
	if !cfg.Recording.Enabled {
		return nil, "", nil
	}
	dir := cfg.Recording.Dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("recording.dir: %w", err)
	}
	results, err := record.Repair(dir)
	if err != nil {
		return nil, "", fmt.Errorf("recording.dir: repair: %w", err)
	}
	for _, r := range results {
		if r.Err != nil {
			log.Error("recording could not be repaired", "recording_id", r.RecordingID, "err", r.Err)
			continue
		}
		log.Warn("recording left open by a crash was repaired", "recording_id", r.RecordingID,
			"status", string(r.Status), "samples", r.FileSamples)
	}
	// The recording tap delivers audio L_rec behind live; the recorder moves pauses by
	// as much, so a pause covers exactly what was said during it.
	return session.RecordFactory(dir, record.WithInputDelay(cfg.Recording.LookAhead)), dir, nil
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
