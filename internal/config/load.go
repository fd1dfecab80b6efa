package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/hushmedia/hush/media/corpus"
)

// ConfigEnv names the environment variable that gives the config file when
// --config is not used.
const ConfigEnv = "HUSH_CONFIG"

// envPrefix starts every configuration variable; Load with WithEnviron refuses
// variables with it that name no key.
const envPrefix = "HUSH_"

// OtherEnv lists the HUSH_ variables that are not configuration keys but that hush's
// tools and tests read, so hushd accepts them in its environment (a test run may start
// hushd with them set). A test checks that the code reads no other.
var OtherEnv = []string{
	ConfigEnv,
	corpus.EnvDir,        // the speech corpus for tests and load runs
	corpus.EnvMusicDir,   // the music on hold masking is judged over
	"HUSH_RELAY_ENGINES", // media/relay tests: which I/O engines to run
	"HUSH_SCREENSHOTS",   // cmd/hushd browser tests: 1 rewrites docs/screenshots
}

// Option configures Load.
type Option func(*loadOptions)

type loadOptions struct {
	usage      io.Writer
	program    string
	register   []func(*flag.FlagSet)
	environ    []string
	environSet bool
}

// WithEnviron gives Load the whole environment ("NAME=value" entries, as
// os.Environ returns them; the last of a name wins). Load then reads HUSH_*
// keys from it instead of its lookupEnv argument, and refuses HUSH_*
// variables that name no key (ErrUnknownKey, with a "did you mean" hint), as
// it refuses unknown keys in the file: a mistyped variable would otherwise
// be silently ignored.
func WithEnviron(environ []string) Option {
	return func(o *loadOptions) { o.environ, o.environSet = environ, true }
}

// WithUsageOutput sets where --help prints usage (default os.Stderr).
func WithUsageOutput(w io.Writer) Option {
	return func(o *loadOptions) { o.usage = w }
}

// WithProgramName sets the program name shown in usage (default "hushd").
func WithProgramName(name string) Option {
	return func(o *loadOptions) { o.program = name }
}

// WithFlags lets the caller register its own flags (say
// --print-default-config) on the flag set Load parses; their values are set
// when Load returns, even with an error other than a usage error.
func WithFlags(register func(fs *flag.FlagSet)) Option {
	return func(o *loadOptions) { o.register = append(o.register, register) }
}

// setting is one value given on the command line, kept in order so that a
// repeated flag's last value wins.
type setting struct {
	key *key
	raw string
}

// keyFlag is the flag.Value of a key: it only records the raw text; the
// value is parsed when flags are applied, after the file and env, so that
// its errors name the key like every other error.
type keyFlag struct {
	key *key
	out *[]setting
}

func (f keyFlag) String() string { return "" }
func (f keyFlag) Set(s string) error {
	*f.out = append(*f.out, setting{key: f.key, raw: s})
	return nil
}

// IsBoolFlag lets a boolean key be given as a bare --flag, meaning true.
func (f keyFlag) IsBoolFlag() bool { return f.key != nil && f.key.kind == "bool" }

// Load builds the configuration from, lowest precedence first: the
// embedded default, the YAML file named by --config or HUSH_CONFIG, HUSH_*
// environment variables (read with lookupEnv; nil means none) and the flags
// in args (without the program name). It validates the result.
//
// --help or -h prints usage and returns flag.ErrHelp. Every other error
// wraps a sentinel of this package (or an fs error when the file cannot be
// read); value errors are *KeyError naming the key and where the bad value
// came from. All value problems are reported together.
func Load(args []string, lookupEnv func(string) (string, bool), opts ...Option) (*Config, error) {
	o := loadOptions{usage: os.Stderr, program: "hushd"}
	for _, opt := range opts {
		opt(&o)
	}
	var unknownEnv []error
	if o.environSet {
		env := make(map[string]string, len(o.environ))
		for _, kv := range o.environ {
			name, value, _ := strings.Cut(kv, "=")
			env[name] = value
		}
		lookupEnv = func(name string) (string, bool) { v, ok := env[name]; return v, ok }
		unknownEnv = checkEnvNames(env)
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}

	fs := flag.NewFlagSet(o.program, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; usage is printed only for --help
	fs.Usage = func() {}
	var fromFlags []setting
	for i := range keys {
		fs.Var(keyFlag{key: &keys[i], out: &fromFlags}, keys[i].flagName(), keys[i].help)
	}
	var file string
	fileSet := false
	fs.Func("config", "YAML configuration `FILE`", func(s string) error {
		file, fileSet = s, true
		return nil
	})
	for _, r := range o.register {
		r(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(o.usage, fs, o.program)
			return nil, flag.ErrHelp
		}
		return nil, fmt.Errorf("config: %w: %v (see --help)", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: %w: unexpected argument %q (see --help)", ErrUsage, fs.Arg(0))
	}

	c := Default()
	origin := make(map[string]string, len(keys))
	if !fileSet {
		file, _ = lookupEnv(ConfigEnv)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err) // *fs.PathError names the file
		}
		if err := decodeYAMLOrigin(c, data, file, origin); err != nil {
			return nil, err
		}
	}

	errs := unknownEnv
	for i := range keys {
		k := &keys[i]
		env := k.envName()
		raw, ok := lookupEnv(env)
		if !ok {
			continue
		}
		src := "env " + env
		if err := k.set(c, raw); err != nil {
			errs = append(errs, invalid(k.path, src, "%v", err))
			continue
		}
		origin[k.path] = src
	}
	for _, s := range fromFlags {
		src := "flag --" + s.key.flagName()
		if err := s.key.set(c, s.raw); err != nil {
			errs = append(errs, invalid(s.key.path, src, "%v", err))
			continue
		}
		origin[s.key.path] = src
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	for _, e := range c.validate() {
		e.Source = origin[e.Key]
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// writeUsage prints the flags, each with its env var, YAML key and default.
func writeUsage(w io.Writer, fs *flag.FlagSet, program string) {
	def := Default()
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [flags]\n\n", program)
	b.WriteString("Starts on the embedded default configuration. A YAML file (--config FILE or\n" +
		ConfigEnv + "), HUSH_* environment variables and flags override it, in that order\n" +
		"(default < file < env < flags). Durations: 100ms, 60s, 1m30s. Booleans: true, false.\n" +
		"An unknown key in the file or an unknown HUSH_ variable stops start-up.\n\n")
	b.WriteString("  --config FILE\n        YAML configuration file (env " + ConfigEnv + ")\n")
	for i := range keys {
		k := &keys[i]
		fmt.Fprintf(&b, "  --%s %s\n        %s\n        (env %s, file %s, default %q)\n",
			k.flagName(), k.kind, k.help, k.envName(), k.path, k.get(def))
	}
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || keyIndex[pathOfFlag(f.Name)] != nil {
			return
		}
		if first {
			b.WriteString("\nOther flags:\n")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s\n        %s\n", strings.TrimSpace(f.Name+" "+name), usage)
	})
	io.WriteString(w, b.String())
}

// flagIndex maps a flag name to its key's path.
var flagIndex = func() map[string]string {
	m := make(map[string]string, len(keys))
	for i := range keys {
		m[keys[i].flagName()] = keys[i].path
	}
	return m
}()

func pathOfFlag(name string) string { return flagIndex[name] }

// checkEnvNames refuses HUSH_ variables that are neither a key's nor in OtherEnv,
// in name order, each with the closest known name when it is a likely typo.
func checkEnvNames(env map[string]string) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !strings.HasPrefix(name, envPrefix) || knownEnv[name] {
			continue
		}
		errs = append(errs, &KeyError{Key: clip(name), Source: "environment", Err: ErrUnknownKey,
			Reason: "unknown variable: no configuration key has this name" + suggestEnv(name)})
	}
	return errs
}

// envNames lists every variable name hushd accepts with the HUSH_ prefix, in key table
// order, then OtherEnv; knownEnv is the same as a set.
var envNames = func() []string {
	out := make([]string, 0, len(keys)+len(OtherEnv))
	for i := range keys {
		out = append(out, keys[i].envName())
	}
	return append(out, OtherEnv...)
}()

var knownEnv = func() map[string]bool {
	m := make(map[string]bool, len(envNames))
	for _, n := range envNames {
		m[n] = true
	}
	return m
}()

// suggestEnv names the closest accepted variable when one is within two edits (the first
// in table order on a tie, as for file keys).
func suggestEnv(unknown string) string {
	best, bestDist := "", 3
	for _, n := range envNames {
		if d := editDistance(unknown, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return "; see hushd --help for the HUSH_* variables"
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}
