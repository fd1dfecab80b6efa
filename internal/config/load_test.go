package config

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hush.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadNoArgsIsDefault(t *testing.T) {
	c, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *c != *Default() {
		t.Errorf("Load() = %+v, want the default", c)
	}
}

// Precedence, lowest first: default < file < env < flags.
func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, "log: {level: debug, format: json}\nsession: {max_sessions: 5, drain_timeout: 5s}\nmedia: {port_min: 31000}\n")
	envs := env(map[string]string{
		"HUSH_SESSION_MAX_SESSIONS":  "6",
		"HUSH_SESSION_DRAIN_TIMEOUT": "6s",
		"HUSH_LOG_FORMAT":            "text",
	})
	c, err := Load([]string{"--config", file, "--session-max-sessions=7"}, envs)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"default only", c.GRPC.Listen, "127.0.0.1:50051"},
		{"file over default", c.Log.Level, "debug"},
		{"file over default (int)", c.Media.PortMin, 31000},
		{"env over file", c.Log.Format, "text"},
		{"env over file (duration)", c.Session.DrainTimeout, 6 * time.Second},
		{"flag over env and file", c.Session.MaxSessions, 7},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestLoadConfigFromEnv(t *testing.T) {
	file := writeFile(t, "log: {level: error}\n")
	c, err := Load(nil, env(map[string]string{ConfigEnv: file}))
	if err != nil || c.Log.Level != "error" {
		t.Fatalf("HUSH_CONFIG: %v %+v", err, c)
	}
	// --config wins over HUSH_CONFIG; --config= (empty) reads no file.
	other := writeFile(t, "log: {level: warn}\n")
	c, err = Load([]string{"--config=" + other}, env(map[string]string{ConfigEnv: file}))
	if err != nil || c.Log.Level != "warn" {
		t.Fatalf("--config over HUSH_CONFIG: %v %+v", err, c)
	}
	c, err = Load([]string{"--config="}, env(map[string]string{ConfigEnv: file}))
	if err != nil || c.Log.Level != "info" {
		t.Fatalf("--config=: %v %+v", err, c)
	}
}

// The last of a repeated flag wins; a bare boolean flag means true.
func TestLoadFlagForms(t *testing.T) {
	c, err := Load([]string{"-log-level", "warn", "--log-level=error", "--recording-enabled=false", "--recording-enabled",
		"--media-strict-source=false", "--media-idle-timeout", "250ms"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "error" || !c.Recording.Enabled || c.Media.StrictSource || c.Media.IdleTimeout != 250*time.Millisecond {
		t.Errorf("got %+v", c)
	}
}

// A wildcard bind with an advertised address, set only through env.
func TestLoadWildcardAdvertise(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"HUSH_MEDIA_ADDRESS": "0.0.0.0", "HUSH_MEDIA_ADVERTISE_ADDRESS": "192.0.2.10"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Media.BindIP().String() != "0.0.0.0" || c.Media.AdvertiseIP().String() != "192.0.2.10" {
		t.Errorf("bind %v advertise %v", c.Media.BindIP(), c.Media.AdvertiseIP())
	}
}

func TestLoadBad(t *testing.T) {
	good := writeFile(t, "log: {level: debug}\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // content of a --config file, if not empty
		err  error
		want []string
	}{
		{"bad env int", nil, map[string]string{"HUSH_MEDIA_PORT_MIN": "lots"}, "", ErrInvalid,
			[]string{`config: media.port_min (env HUSH_MEDIA_PORT_MIN): not an integer: "lots"`}},
		{"bad env bool", nil, map[string]string{"HUSH_MEDIA_STRICT_SOURCE": "1"}, "", ErrInvalid,
			[]string{"media.strict_source (env HUSH_MEDIA_STRICT_SOURCE)"}},
		{"bad env duration", nil, map[string]string{"HUSH_MEDIA_IDLE_TIMEOUT": "60"}, "", ErrInvalid,
			[]string{"media.idle_timeout (env HUSH_MEDIA_IDLE_TIMEOUT): not a duration"}},
		{"env value out of range", nil, map[string]string{"HUSH_MEDIA_PORT_MIN": "70000"}, "", ErrInvalid,
			[]string{"config: media.port_min (env HUSH_MEDIA_PORT_MIN): must be in 1024..65535, got 70000"}},
		{"bad flag value", []string{"--media-port-min=x"}, nil, "", ErrInvalid,
			[]string{`media.port_min (flag --media-port-min): not an integer: "x"`}},
		{"flag out of range", []string{"--media-port-min", "70000"}, nil, "", ErrInvalid,
			[]string{"config: media.port_min (flag --media-port-min): must be in 1024..65535, got 70000"}},
		{"flag and env both bad", []string{"--log-level=x"}, map[string]string{"HUSH_LOG_FORMAT": "xml"}, "", ErrInvalid,
			[]string{"log.level (flag --log-level)", "log.format (env HUSH_LOG_FORMAT)"}},
		{"file value out of range", nil, nil, "media:\n  port_min: 70000\n", ErrInvalid,
			[]string{"media.port_min (", "hush.yaml:2): must be in 1024..65535"}},
		{"file unknown key", nil, nil, "grpc:\n  listn: x\n", ErrUnknownKey,
			[]string{"grpc.listn (", "hush.yaml:2): unknown key (did you mean grpc.listen?)"}},
		{"file bad YAML", nil, nil, "grpc: [", ErrSyntax, []string{"hush.yaml: invalid YAML"}},
		{"cross rule over file and flag", []string{"--media-port-max=30000"}, nil, "media: {port_min: 32000}\n", ErrInvalid,
			[]string{"media.port_max (flag --media-port-max): must be greater than media.port_min (32000), got 30000"}},
		{"unknown flag", []string{"--media-port-mim=5"}, nil, "", ErrUsage, []string{"media-port-mim", "see --help"}},
		{"flag without value", []string{"--log-level"}, nil, "", ErrUsage, []string{"log-level"}},
		{"stray argument", []string{"--config", good, "serve"}, nil, "", ErrUsage, []string{`unexpected argument "serve"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			c, err := Load(args, env(tt.env))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %q does not wrap %v", err, tt.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load([]string{"--config", missing}, nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var out bytes.Buffer
		var printDefault bool
		_, err := Load([]string{arg}, nil, WithUsageOutput(&out), WithProgramName("hushd-test"),
			WithFlags(func(fs *flag.FlagSet) {
				fs.BoolVar(&printDefault, "print-default-config", false, "print the default config file and exit")
			}))
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s: err %v, want flag.ErrHelp", arg, err)
		}
		u := out.String()
		for _, want := range []string{"Usage: hushd-test [flags]", "--config FILE", ConfigEnv,
			"Other flags:", "--print-default-config\n"} {
			if !strings.Contains(u, want) {
				t.Errorf("usage lacks %q:\n%s", want, u)
			}
		}
		for i := range keys {
			k := &keys[i]
			for _, want := range []string{"--" + k.flagName() + " " + k.kind, k.envName(), k.help, "file " + k.path} {
				if !strings.Contains(u, want) {
					t.Errorf("usage lacks %q", want)
				}
			}
		}
	}
}

func TestLoadExtraFlags(t *testing.T) {
	var printDefault bool
	c, err := Load([]string{"--print-default-config", "--log-level=debug"}, nil,
		WithFlags(func(fs *flag.FlagSet) { fs.BoolVar(&printDefault, "print-default-config", false, "") }))
	if err != nil || !printDefault || c.Log.Level != "debug" {
		t.Fatalf("extra flag: %v %v %+v", err, printDefault, c)
	}
}

// The env lookup is consulted only for known names (and HUSH_CONFIG).
func TestLoadEnvNames(t *testing.T) {
	var asked []string
	_, err := Load(nil, func(k string) (string, bool) { asked = append(asked, k); return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != len(keys)+1 {
		t.Errorf("looked up %d names, want %d: %v", len(asked), len(keys)+1, asked)
	}
	for _, a := range asked {
		if !strings.HasPrefix(a, "HUSH_") {
			t.Errorf("looked up %q", a)
		}
	}
}
