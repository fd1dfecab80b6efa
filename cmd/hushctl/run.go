package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/version"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the call failed
	exitUsage = 2 // bad command line
)

const (
	defaultAddr = "127.0.0.1:50051"
	addrEnv     = "HUSHCTL_ADDR"
)

// clockKey carries a clock in run's context, for tests of doctor's clock check.
type clockKey struct{}

// errUsage marks command-line errors (exit 2 rather than 1).
var errUsage = errors.New("usage")

func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// app is one invocation: global options, outputs, and how to reach hushd.
type app struct {
	addr     string
	json     bool
	timeout  time.Duration
	sec      security
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	dialOpts []grpc.DialOption // extra options; tests dial an in-process server
	now      func() time.Time  // the clock doctor compares hushd's with; nil: time.Now
}

// registerGlobals adds the global flags to fs; every verb's flag set has
// them too, so they may come anywhere on the line.
func (a *app) registerGlobals(fs *flag.FlagSet) {
	fs.StringVar(&a.addr, "addr", a.addr, "hushd gRPC address `host:port` (env "+addrEnv+")")
	fs.BoolVar(&a.json, "json", a.json, "print protojson instead of text")
	fs.DurationVar(&a.timeout, "timeout", a.timeout,
		"deadline for each call (not for the streams of session watch, recording get and payment collect)")
	a.sec.register(fs)
}

const topUsage = `Usage: hushctl [GLOBAL FLAGS] COMMAND VERB [ARGS] [FLAGS]
       hushctl --version
       hushctl [GLOBAL FLAGS] health [--service S]
       hushctl [GLOBAL FLAGS] doctor [FLAGS]
       hushctl audit verify FILE
       hushctl token hash --subject S --role R [--agent-id A] < TOKEN
       hushctl token new
`

// group is a command naming one gRPC service, with its verbs.
type group struct {
	name  string
	title string // heading in the usage text
	verbs []verb
}

// groups lists the service commands in usage order.
func groups() []group {
	return []group{
		{name: "session", title: "Session verbs (role platform; agent for its own sessions)", verbs: verbs},
		{name: "recording", title: "Recording verbs (role qa or admin)", verbs: recordingVerbs},
		{name: "payment", title: "Payment verbs (role payment; PCI-scoped payment clients only)", verbs: paymentVerbs},
		{name: "audit", title: "Audit verbs (role audit, qa or admin)", verbs: auditVerbs},
	}
}

func (a *app) usage(w io.Writer) {
	var b strings.Builder
	b.WriteString(topUsage)
	for _, g := range groups() {
		fmt.Fprintf(&b, "\n%s:\n", g.title)
		for _, v := range g.verbs {
			fmt.Fprintf(&b, "  %-28s %s\n", strings.TrimSpace(g.name+" "+v.name+" "+v.args), v.help)
		}
	}
	fmt.Fprintf(&b, "\nHealth (no credentials needed):\n  %-28s %s\n", "health [--service S]", healthVerb.help)
	fmt.Fprintf(&b, "\nChecks (role admin for all of them):\n  %-28s %s\n", "doctor", doctorVerb.help)
	b.WriteString("\nOffline commands:\n")
	b.WriteString("  audit verify FILE            check an audit log's hash chain; exit 1 names the first broken line\n")
	b.WriteString("  token hash                   read a token on stdin, print its token-file line (hash only)\n")
	b.WriteString("  token new                    print a new random token\n")
	b.WriteString(offlineRecordingUsage)
	b.WriteString("\nGlobal flags:\n")
	fs := flag.NewFlagSet("hushctl", flag.ContinueOnError)
	a.registerGlobals(fs)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	b.WriteString("\nRun 'hushctl COMMAND VERB --help' for a verb's flags.\n")
	io.WriteString(w, b.String())
}

// run is hushctl's whole life; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer,
	lookupEnv func(string) (string, bool), dialOpts ...grpc.DialOption) int {
	a := &app{addr: defaultAddr, timeout: 10 * time.Second, stdin: stdin, stdout: stdout, stderr: stderr, dialOpts: dialOpts}
	if now, ok := ctx.Value(clockKey{}).(func() time.Time); ok {
		a.now = now // tests: a clock that is off
	}
	if v, ok := lookupEnv(addrEnv); ok && v != "" {
		a.addr = v
	}
	if v, ok := lookupEnv(tokenEnv); ok {
		a.sec.token = v
	}
	fs := flag.NewFlagSet("hushctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.registerGlobals(fs)
	showVersion := fs.Bool("version", false, "print the version and commit hushctl was built from")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(stdout)
			return exitOK
		}
		return a.fail(usageErrorf("%v", err))
	}
	rest := fs.Args()
	switch {
	case *showVersion:
		fmt.Fprintln(stdout, version.Get().String("hushctl"))
		return exitOK
	case len(rest) == 0:
		a.usage(stderr)
		return exitUsage
	case rest[0] == "help":
		a.usage(stdout)
		return exitOK
	case rest[0] == "audit" && (len(rest) == 1 || rest[1] == "verify"):
		return a.fail(a.audit(rest[1:]))
	case rest[0] == "token":
		return a.fail(a.tokenCmd(rest[1:]))
	case rest[0] == "recording" && len(rest) > 1 && offlineRecordingVerbs[rest[1]] != nil:
		return a.fail(offlineRecordingVerbs[rest[1]](a, rest[2:]))
	case rest[0] == "health":
		return a.fail(a.runVerb(ctx, "", healthVerb, rest[1:]))
	case rest[0] == "doctor":
		return a.fail(a.runVerb(ctx, "", doctorVerb, rest[1:]))
	}
	for _, g := range groups() {
		if g.name != rest[0] {
			continue
		}
		if len(rest) == 1 {
			return a.fail(usageErrorf("%s needs a verb", g.name))
		}
		for _, v := range g.verbs {
			if v.name == rest[1] {
				return a.fail(a.runVerb(ctx, g.name, v, rest[2:]))
			}
		}
		return a.fail(usageErrorf("%s: unknown verb %q", g.name, rest[1]))
	}
	return a.fail(usageErrorf("unknown command %q", rest[0]))
}

// fail prints err and maps it to an exit status.
func (a *app) fail(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errVerify), errors.Is(err, errDoctor):
		return exitFail
	case errors.Is(err, errUsage):
		fmt.Fprintf(a.stderr, "hushctl: %v (see hushctl --help)\n", err)
		return exitUsage
	}
	if s, ok := status.FromError(err); ok {
		fmt.Fprintf(a.stderr, "hushctl: %s: %s\n", s.Code(), s.Message())
	} else {
		fmt.Fprintf(a.stderr, "hushctl: %v\n", err)
	}
	return exitFail
}

// verb is one "COMMAND VERB" subcommand.
type verb struct {
	name, args, help string
	long             string // more for the verb's --help, if any
	npos             int    // positional arguments required
	// flags registers the verb's flags and returns its action.
	flags func(fs *flag.FlagSet) connAction
}

// connAction runs a verb over a connection to hushd.
type connAction = func(ctx context.Context, a *app, cc grpc.ClientConnInterface, pos []string) error

func (a *app) runVerb(ctx context.Context, group string, v verb, args []string) error {
	cmd := strings.TrimSpace(group + " " + v.name)
	fs := flag.NewFlagSet("hushctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.registerGlobals(fs)
	action := v.flags(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(a.stdout, "Usage: hushctl %s [FLAGS]\n\n%s\n", strings.TrimSpace(cmd+" "+v.args), v.help)
		if v.long != "" {
			fmt.Fprintf(a.stdout, "\n%s\n", strings.TrimSpace(v.long))
		}
		io.WriteString(a.stdout, "\nFlags:\n")
		fs.SetOutput(a.stdout)
		fs.PrintDefaults()
		return flag.ErrHelp
	}
	if err != nil {
		return usageErrorf("%s: %v", cmd, err)
	}
	if len(pos) != v.npos {
		return usageErrorf("%s takes %d argument(s) %s, got %d", cmd, v.npos, v.args, len(pos))
	}
	for _, p := range pos {
		if p == "" {
			return usageErrorf("%s: empty argument", cmd)
		}
	}
	creds, err := a.sec.dialOptions(a.addr)
	if err != nil {
		return err
	}
	cc, err := grpc.NewClient(a.addr, append(creds, a.dialOpts...)...)
	if err != nil {
		return fmt.Errorf("connect %s: %w", a.addr, err)
	}
	defer cc.Close()
	return action(ctx, a, cc, pos)
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments; everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 { // each pass consumes at least one argument
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse stops at the first positional, or after "--".
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, nil
}

// callCtx bounds one unary call by --timeout.
func (a *app) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, a.timeout)
}
