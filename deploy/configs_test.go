package deploy

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
)

// shippedConfigs are the hushd configurations deploy/ ships, with the environment each
// deployment adds.
var shippedConfigs = map[string][]string{
	"docker/hushd.yaml":          {"HUSH_MEDIA_ADVERTISE_ADDRESS=192.0.2.7"},
	"systemd/hushd.yaml":         nil,
	"kubernetes/base/hushd.yaml": {"HUSH_MEDIA_ADVERTISE_ADDRESS=192.0.2.7"},
}

// Each shipped configuration loads as hushd loads it (unknown keys and bad values refused)
// and is safe off loopback without any override: TLS, authentication, no insecure
// listener, a health-only listener for probes, JSON logs, state under /var/lib/hush.
func TestShippedConfigsAreValidAndSafe(t *testing.T) {
	for name, env := range shippedConfigs {
		t.Run(name, func(t *testing.T) {
			cfg := loadConfig(t, filepath.Join(root(t), "deploy", name), env)
			warns, err := auth.CheckListenSafety(cfg)
			if err != nil || len(warns) > 0 {
				t.Errorf("listen safety: %v %v", err, warns)
			}
			if !cfg.TLS.Enabled() || cfg.Auth.Mode == "none" || cfg.GRPC.Insecure || cfg.HTTP.Insecure {
				t.Errorf("TLS %v, auth %s, insecure grpc %v http %v", cfg.TLS.Enabled(), cfg.Auth.Mode, cfg.GRPC.Insecure, cfg.HTTP.Insecure)
			}
			if cfg.GRPC.HealthListen == "" {
				t.Error("grpc.health_listen is off: probes cannot reach health")
			}
			if cfg.Log.Format != "json" {
				t.Errorf("log.format %s, want json for a log collector", cfg.Log.Format)
			}
			if !cfg.Recording.Enabled || !strings.HasPrefix(cfg.Recording.Dir, "/var/lib/hush/") ||
				!strings.HasPrefix(cfg.Audit.File, "/var/lib/hush/") {
				t.Errorf("recording %v %s, audit %s: want both under /var/lib/hush", cfg.Recording.Enabled, cfg.Recording.Dir, cfg.Audit.File)
			}
		})
	}
}

// Where a deployment must say which address phones send RTP to, the shipped
// configuration refuses to start without it rather than advertise a wildcard.
func TestShippedConfigsNeedAnAdvertisedAddress(t *testing.T) {
	for name, env := range shippedConfigs {
		if env == nil {
			continue
		}
		_, err := config.Load([]string{"--config", filepath.Join(root(t), "deploy", name)}, nil, config.WithEnviron(nil))
		if err == nil || !strings.Contains(err.Error(), "media.advertise_address") {
			t.Errorf("%s without HUSH_MEDIA_ADVERTISE_ADDRESS: %v", name, err)
		}
	}
}
