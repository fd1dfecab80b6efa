package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A mistyped HUSH_ variable is refused like a mistyped YAML key, with a hint; the keys'
// variables and the non-key ones hush's tools read are accepted.
func TestLoadUnknownEnv(t *testing.T) {
	ok := []string{"PATH=/usr/bin", "HUSH_LOG_LEVEL=debug", "HUSH_CONFIG=", "HUSH_SPEECH_DIR=/tmp/x",
		"HUSH_RELAY_ENGINES=portable", "HUSHCTL_ADDR=127.0.0.1:1", "hush_lower=1"}
	c, err := Load(nil, nil, WithEnviron(ok))
	if err != nil {
		t.Fatalf("accepted environment refused: %v", err)
	}
	if c.Log.Level != "debug" {
		t.Fatalf("HUSH_LOG_LEVEL from the environment not applied: %q", c.Log.Level)
	}
	for _, tc := range []struct {
		env  []string
		want []string
	}{
		{[]string{"HUSH_MEDIA_PORT_MNI=30000"},
			[]string{"config: HUSH_MEDIA_PORT_MNI (environment): unknown variable", "(did you mean HUSH_MEDIA_PORT_MIN?)"}},
		{[]string{"HUSH_LOGLEVEL=debug"}, []string{"HUSH_LOGLEVEL", "did you mean HUSH_LOG_LEVEL?"}},
		{[]string{"HUSH_CONFG=/etc/hush.yaml"}, []string{"HUSH_CONFG", "did you mean HUSH_CONFIG?"}},
		{[]string{"HUSH_WHATEVER=1"}, []string{"HUSH_WHATEVER", "see hushd --help"}},
		// Reported together with value errors, never the values themselves.
		{[]string{"HUSH_MEDIA_PORT_MNI=4111111111111111", "HUSH_MEDIA_IDLE_TIMEOUT=soon"},
			[]string{"HUSH_MEDIA_PORT_MNI", "media.idle_timeout (env HUSH_MEDIA_IDLE_TIMEOUT)"}},
	} {
		_, err := Load(nil, nil, WithEnviron(tc.env))
		if !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%v: %v, want ErrUnknownKey", tc.env, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not say %q", tc.env, err, w)
			}
		}
		if strings.Contains(err.Error(), "4111111111111111") {
			t.Errorf("%v: the error echoes a value", tc.env)
		}
	}
	// Flags still win over the environment given this way.
	c, err = Load([]string{"--log-level=warn"}, nil, WithEnviron([]string{"HUSH_LOG_LEVEL=debug"}))
	if err != nil || c.Log.Level != "warn" {
		t.Fatalf("flag over environ: %v %v", c, err)
	}
}

// Every HUSH_ variable the repository reads, sets or documents is a key's or in OtherEnv,
// so hushd never refuses a variable that hush's own tools, tests or CI use.
func TestOtherEnvComplete(t *testing.T) {
	root := filepath.Join("..", "..")
	literal := regexp.MustCompile(`\bHUSH_[A-Z0-9_]*[A-Z0-9]\b`)
	// In test files only what is read or set counts: tests may hold typos on purpose.
	read := regexp.MustCompile(`(?:Getenv|LookupEnv|Setenv)\("(HUSH_[A-Z0-9_]+)"`)
	seen := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && strings.HasPrefix(name, ".") && name != ".ci" || name == "testdata" || name == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(name)
		if ext != ".go" && ext != ".md" && ext != ".yaml" && ext != ".yml" && name != "Makefile" && name != "run" && name != "Dockerfile" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(name, "_test.go") {
			for _, m := range read.FindAllStringSubmatch(string(b), -1) {
				seen[m[1]] = path
			}
			return nil
		}
		for _, m := range literal.FindAllString(string(b), -1) {
			seen[m] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 20 { // the README alone names dozens

		t.Fatalf("found only %d HUSH_ names; is the walk in the repository root?", len(seen))
	}
	for n, where := range seen {
		if !knownEnv[n] {
			t.Errorf("%s (in %s) is neither a configuration key's variable nor in config.OtherEnv: hushd would refuse it", n, where)
		}
	}
}
