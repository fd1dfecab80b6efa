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

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
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
}

// registerGlobals adds the global flags to fs; every verb's flag set has
// them too, so they may come anywhere on the line.
func (a *app) registerGlobals(fs *flag.FlagSet) {
	fs.StringVar(&a.addr, "addr", a.addr, "hushd gRPC address `host:port` (env "+addrEnv+")")
	fs.BoolVar(&a.json, "json", a.json, "print protojson instead of text")
	fs.DurationVar(&a.timeout, "timeout", a.timeout, "deadline for each call (not for watch)")
	a.sec.register(fs)
}

const topUsage = `Usage: hushctl [GLOBAL FLAGS] session VERB [ARGS] [FLAGS]
       hushctl audit verify FILE
       hushctl token hash --subject S --role R [--agent-id A] < TOKEN
       hushctl token new

Session verbs:
`

func (a *app) usage(w io.Writer) {
	var b strings.Builder
	b.WriteString(topUsage)
	for _, v := range verbs {
		fmt.Fprintf(&b, "  session %-17s %s\n", strings.TrimSpace(v.name+" "+v.args), v.help)
	}
	b.WriteString("\nOffline commands:\n")
	b.WriteString("  audit verify FILE         check an audit log's hash chain; exit 1 names the first broken line\n")
	b.WriteString("  token hash                read a token on stdin, print its token-file line (hash only)\n")
	b.WriteString("  token new                 print a new random token\n")
	b.WriteString("\nGlobal flags:\n")
	fs := flag.NewFlagSet("hushctl", flag.ContinueOnError)
	a.registerGlobals(fs)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	b.WriteString("\nRun 'hushctl session VERB --help' for a verb's flags.\n")
	io.WriteString(w, b.String())
}

// run is hushctl's whole life; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer,
	lookupEnv func(string) (string, bool), dialOpts ...grpc.DialOption) int {
	a := &app{addr: defaultAddr, timeout: 10 * time.Second, stdin: stdin, stdout: stdout, stderr: stderr, dialOpts: dialOpts}
	if v, ok := lookupEnv(addrEnv); ok && v != "" {
		a.addr = v
	}
	if v, ok := lookupEnv(tokenEnv); ok {
		a.sec.token = v
	}
	fs := flag.NewFlagSet("hushctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.registerGlobals(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(stdout)
			return exitOK
		}
		return a.fail(usageErrorf("%v", err))
	}
	rest := fs.Args()
	switch {
	case len(rest) == 0:
		a.usage(stderr)
		return exitUsage
	case rest[0] == "help":
		a.usage(stdout)
		return exitOK
	case rest[0] == "audit":
		return a.fail(a.audit(rest[1:]))
	case rest[0] == "token":
		return a.fail(a.tokenCmd(rest[1:]))
	case rest[0] != "session":
		return a.fail(usageErrorf("unknown command %q", rest[0]))
	case len(rest) == 1:
		return a.fail(usageErrorf("session needs a verb"))
	}
	for _, v := range verbs {
		if v.name == rest[1] {
			return a.fail(a.runVerb(ctx, v, rest[2:]))
		}
	}
	return a.fail(usageErrorf("unknown verb %q", rest[1]))
}

// fail prints err and maps it to an exit status.
func (a *app) fail(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errVerify):
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

// verb is one "session VERB" subcommand.
type verb struct {
	name, args, help string
	npos             int // positional arguments required
	// flags registers the verb's flags and returns its action.
	flags func(fs *flag.FlagSet) func(ctx context.Context, a *app, c hushv1.SessionServiceClient, pos []string) error
}

func (a *app) runVerb(ctx context.Context, v verb, args []string) error {
	fs := flag.NewFlagSet("hushctl session "+v.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.registerGlobals(fs)
	action := v.flags(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(a.stdout, "Usage: hushctl session %s [FLAGS]\n\n%s\n\nFlags:\n",
			strings.TrimSpace(v.name+" "+v.args), v.help)
		fs.SetOutput(a.stdout)
		fs.PrintDefaults()
		return flag.ErrHelp
	}
	if err != nil {
		return usageErrorf("session %s: %v", v.name, err)
	}
	if len(pos) != v.npos {
		return usageErrorf("session %s takes %d argument(s) %s, got %d", v.name, v.npos, v.args, len(pos))
	}
	for _, p := range pos {
		if p == "" {
			return usageErrorf("session %s: empty argument", v.name)
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
	return action(ctx, a, hushv1.NewSessionServiceClient(cc), pos)
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
