package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hushmedia/hush/internal/loadgen"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// errSkip ends a run that cannot happen here (a tool is missing) without failing.
var errSkip = errors.New("skipped")

type options struct {
	target   string
	compare  bool
	baseline bool
	rounds   int
	calls    int
	duration time.Duration
	warmup   time.Duration
	sockets  int
	senders  int
	scale    string
	ramp     bool
	rampMax  int
	rampP99  time.Duration
	soak     time.Duration
	capture  time.Duration
	dtmf     time.Duration
	jsonPath string
	verbose  bool

	mask, maskDir string
	audio         string
	srtp          string
	masked        [2]bool
	lookAhead     time.Duration
	record, keep  bool
	hushdFlags    multiFlag
	hushdBFlags   multiFlag // -hushd-b-flag: a second hushd, target hushB
	recCount      int       // WAVs the last started hushd wrote (-record)
	recBytes      int64     // their size

	hushdBin, hushdAddr, hushdArgs, hushdHTTP string
	hushdPID                                  int
	rtpengineBin, rtpengineNG, rtpeArgs       string
	rtpenginePID                              int

	ng               bool
	churn, churnConc int

	rtpeMask         bool
	hog              int
	hogAfter, hogFor time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("hushload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hushload [flags]\n\nLoad generator for hush: N calls of G.711 at 20 ms both ways; reports loss, latency, jitter, CPU and memory.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.target, "target", "hush", "relay under test: hush, rtpengine or direct (no relay: the generator's floor)")
	fs.BoolVar(&o.compare, "compare", false, "run hush and rtpengine under the same load in this invocation and print ratios")
	fs.BoolVar(&o.baseline, "baseline", true, "with -compare: also run the load with no relay (direct), the generator's floor")
	fs.IntVar(&o.rounds, "rounds", 1, "repeat the run this many times, targets alternating; the summary shows medians")
	fs.IntVar(&o.calls, "calls", 100, "concurrent calls")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "media time per run, warm-up included")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "media time before the measurement window")
	fs.IntVar(&o.sockets, "sockets", 4, "generator sockets per side (calls share them)")
	fs.IntVar(&o.senders, "senders", 2, "sender goroutines pacing all streams")
	fs.StringVar(&o.scale, "scale", "", "comma-separated call counts for a scaling curve, e.g. 100,250,500,1000")
	fs.BoolVar(&o.ramp, "ramp", false, "find the largest call count with no loss and p99 within -ramp-p99")
	fs.IntVar(&o.rampMax, "ramp-max", 2000, "largest call count the ramp tries")
	fs.DurationVar(&o.rampP99, "ramp-p99", 5*time.Millisecond, "ramp: p99 limit of a clean run on the latency the relay adds (beyond the look-ahead when masking)")
	fs.DurationVar(&o.soak, "soak", 0, "soak run of this length (e.g. 10m): RSS sampled every 10s, growth reported")
	fs.DurationVar(&o.capture, "capture-every", 0, "hush: toggle secure capture on one call after another this often (0 = off)")
	fs.DurationVar(&o.dtmf, "dtmf-every", 0, "send a 100 ms DTMF burst on one call after another this often (0 = off); tone packets count, without latency")
	fs.StringVar(&o.jsonPath, "json", "", "write the results as JSON to this file")
	fs.BoolVar(&o.verbose, "v", false, "progress and relay logs on stderr")
	fs.StringVar(&o.hushdBin, "hushd-bin", "", "hushd binary to start (default: hushd beside hushload, then $PATH)")
	fs.StringVar(&o.hushdAddr, "hushd-addr", "", "use a running hushd at this gRPC address instead of starting one")
	fs.StringVar(&o.hushdHTTP, "hushd-http", "", "with -hushd-addr: its HTTP address, to read its drop counters from /metrics")
	fs.IntVar(&o.hushdPID, "hushd-pid", 0, "with -hushd-addr: its process id, for CPU and memory")
	fs.StringVar(&o.hushdArgs, "hushd-args", "", "extra flags for the started hushd (space-separated)")
	fs.Var(&o.hushdFlags, "hushd-flag", "one extra flag for the started hushd, e.g. --media-engine=portable (repeatable; added after -hushd-args)")
	fs.Var(&o.hushdBFlags, "hushd-b-flag", "also run target "+hushB+": hushd with this flag added after the -hushd-flag ones, alternating with hush in every round, to compare two configurations under the same load (repeatable)")
	fs.StringVar(&o.audio, "audio", loadgen.AudioBurst, "what the payload sounds like: burst (the measurement header as is: 3 ms of loud noise per packet), quiet (header coded into line-noise-level codes, -66 dBm0 at most) or speech (that, then 8 ms of the Asterisk prompt corpus per packet)")
	fs.StringVar(&o.srtp, "srtp", "", "SDES-SRTP on both legs of every call with this suite (e.g. AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM): hush gets the keys in CreateSession (or negotiates them over -ng), rtpengine in a=crypto; the generator encrypts and decrypts")
	fs.StringVar(&o.mask, "mask", "none", "hush: mask every call's DTMF with this mode: none, silence, tone or comfort-noise (session policy)")
	fs.StringVar(&o.maskDir, "mask-dir", "both", "with -mask: the directions masked: customer (customer->agent), agent (agent->customer) or both")
	fs.DurationVar(&o.lookAhead, "look-ahead", 60*time.Millisecond, "with -mask: the look-ahead set in the policy; latency of a masked direction is reported beyond it")
	fs.BoolVar(&o.record, "record", false, "hush: start hushd with recording on, into a temporary directory, and record every call")
	fs.BoolVar(&o.keep, "keep-recordings", false, "with -record: keep the recordings (their directory is printed)")
	fs.StringVar(&o.rtpengineBin, "rtpengine-bin", "", "rtpengine binary to start (default: rtpengine in $PATH; Debian package rtpengine-daemon)")
	fs.StringVar(&o.rtpengineNG, "rtpengine-ng", "", "use a running rtpengine's ng port (ip:port) instead of starting one")
	fs.IntVar(&o.rtpenginePID, "rtpengine-pid", 0, "with -rtpengine-ng: its process id")
	fs.StringVar(&o.rtpeArgs, "rtpengine-args", "", "extra flags for the started rtpengine (space-separated)")
	fs.BoolVar(&o.ng, "ng", false, "hush: set calls up over hushd's ng listener (offer, answer, delete, as Kamailio does) instead of gRPC")
	fs.IntVar(&o.churn, "churn", 0, "set up and tear down this many further calls during the window, while the -calls stream; reports setup latency")
	fs.IntVar(&o.churnConc, "churn-concurrency", 4, "with -churn: calls set up at once")
	fs.BoolVar(&o.rtpeMask, "rtpengine-mask", true, "with -compare and -mask: also run rtpengine on its own masking path (target rtpengine-mask: block DTMF with DTMF-security, in-band detection and a delay buffer of -look-ahead on the masked directions)")
	fs.IntVar(&o.hog, "hog", 0, "run a competing CPU load of this many busy threads (a process in a session of its own, same nice level) during part of every run's window; latency while it ran is reported apart")
	fs.DurationVar(&o.hogAfter, "hog-after", 0, "with -hog: start it this long into the measurement window")
	fs.DurationVar(&o.hogFor, "hog-for", 0, "with -hog: run it this long (0 = to the end of the window)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.soak > 0 {
		o.duration = o.soak
	}
	switch o.target {
	case "hush", "rtpengine", rtpengineMask, "direct":
	default:
		return nil, fmt.Errorf("-target %q: want hush, rtpengine, rtpengine-mask or direct", o.target)
	}
	if len(o.hushdBFlags) > 0 && o.hushdAddr != "" {
		return nil, errors.New("-hushd-b-flag starts its own hushd; it cannot be used with -hushd-addr")
	}
	if o.rounds < 1 {
		return nil, errors.New("-rounds must be >= 1")
	}
	if _, ok := loadgen.MaskModes[o.mask]; !ok {
		return nil, fmt.Errorf("-mask %q: want none, silence, tone or comfort-noise", o.mask)
	}
	switch o.maskDir {
	case "customer":
		o.masked = [2]bool{true, false}
	case "agent":
		o.masked = [2]bool{false, true}
	case "both":
		o.masked = [2]bool{true, true}
	default:
		return nil, fmt.Errorf("-mask-dir %q: want customer, agent or both", o.maskDir)
	}
	if o.mask == "none" {
		o.masked = [2]bool{}
	}
	if o.lookAhead < 40*time.Millisecond || o.lookAhead > 200*time.Millisecond {
		return nil, errors.New("-look-ahead must be within 40ms..200ms (hushd's masking.look_ahead range)")
	}
	if o.record && o.hushdAddr != "" {
		return nil, errors.New("-record starts its own hushd; it cannot be used with -hushd-addr")
	}
	if o.ng && o.hushdAddr != "" {
		return nil, errors.New("-ng starts its own hushd with its ng listener; it cannot be used with -hushd-addr")
	}
	if o.hog < 0 || o.hog > 64 || o.hogAfter < 0 || o.hogFor < 0 {
		return nil, errors.New("need 0 <= -hog <= 64 and -hog-after, -hog-for >= 0")
	}
	if o.hog > 0 && o.hogAfter >= o.duration-o.warmup {
		return nil, errors.New("-hog-after must fall within the measurement window (-duration minus -warmup)")
	}
	if o.churn < 0 || o.churnConc < 1 {
		return nil, errors.New("need -churn >= 0 and -churn-concurrency >= 1")
	}
	if o.calls < 1 || o.warmup < 0 || o.warmup >= o.duration {
		return nil, errors.New("need -calls >= 1 and 0 <= -warmup < -duration")
	}
	return o, nil
}

// report is the JSON output.
type report struct {
	Command    string            `json:"command"`
	Start      time.Time         `json:"start"`
	CPUs       int               `json:"cpus"`
	GoVersion  string            `json:"go_version"`
	Results    []*loadgen.Result `json:"results"`
	Ratios     []ratio           `json:"ratios,omitempty"`
	Ramp       []rampResult      `json:"ramp,omitempty"`
	Soak       *soakResult       `json:"soak,omitempty"`
	Skipped    string            `json:"skipped,omitempty"`
	Generators string            `json:"generator_note"`
}

// ratio is hush's figures divided by rtpengine's at one call count.
type ratio struct {
	Calls      int     `json:"calls"`
	CPUPerMpkt float64 `json:"cpu_per_mpkt_hush_over_rtpengine"`
	// LatencyP99 uses hush's p99 beyond the look-ahead when hush masked (-mask).
	LatencyP99    float64 `json:"latency_p99_hush_over_rtpengine"`
	MemPerSession float64 `json:"mem_per_idle_session_hush_over_rtpengine"`
}

type rampResult struct {
	Target   string `json:"target"`
	MaxClean int    `json:"max_clean_calls"`
	FirstBad int    `json:"first_unclean_calls,omitempty"`
	Why      string `json:"first_unclean_reason,omitempty"`
}

type soakResult struct {
	Target    string  `json:"target"`
	RSSStart  int64   `json:"rss_start"`
	RSSEnd    int64   `json:"rss_end"`
	RSSMax    int64   `json:"rss_max"`
	GrowthPct float64 `json:"growth_pct"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep := &report{Command: "hushload " + strings.Join(args, " "), Start: time.Now().UTC(),
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Generators: "generator CPU is this process (getrusage); relay CPU from /proc/PID/stat"}
	var logw io.Writer = io.Discard
	if o.verbose {
		logw = stderr
	}

	names := []string{o.target}
	if o.compare {
		// direct (no relay) is the floor under both: the generator's and the kernel's own
		// latency and jitter, measured in the same invocation.
		names = []string{"hush", "rtpengine"}
		if o.rtpeMask && o.masked != [2]bool{} {
			names = append(names, rtpengineMask)
		}
		if o.baseline {
			names = append(names, "direct")
		}
	}
	if len(o.hushdBFlags) > 0 {
		i := slices.Index(names, "hush")
		if i < 0 {
			return errors.New("-hushd-b-flag compares with hush: use -target hush or -compare")
		}
		names = slices.Insert(names, i+1, hushB)
	}
	var targets []target
	for _, n := range names {
		if err := o.available(n); err != nil {
			if errors.Is(err, errSkip) && o.compare {
				rep.Skipped = err.Error()
				fmt.Fprintf(stdout, "comparison skipped: %v\n", err)
				continue
			}
			return err
		}
		targets = append(targets, target{name: n, logw: logw})
	}

	cfg := loadgen.Config{Calls: o.calls, Duration: o.duration, Warmup: o.warmup, Sockets: o.sockets,
		Senders: o.senders, CaptureEvery: o.capture, DTMFEvery: o.dtmf, Audio: o.audio,
		Churn: o.churn, ChurnConcurrency: o.churnConc}
	if cfg.SRTP, err = loadgen.ParseSRTPSuite(o.srtp); err != nil {
		return err
	}
	if o.verbose {
		cfg.Log = stderr
	}
	if o.hog > 0 {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("-hog runs this executable as the hog: %w", err)
		}
		cfg.Hog = &loadgen.Hog{Threads: o.hog, After: o.hogAfter, For: o.hogFor, Bin: self}
	}
	switch {
	case o.ramp:
		err = o.runRamp(ctx, targets, cfg, rep, stdout)
	case o.scale != "":
		err = o.runScale(ctx, targets, cfg, rep, stdout)
	default:
		if o.soak > 0 {
			cfg.RSSEvery = 10 * time.Second
		}
		err = o.runOnce(ctx, targets, cfg, rep, stdout)
	}
	if o.jsonPath != "" {
		if werr := writeJSON(o.jsonPath, rep); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// hushB is the target -hushd-b-flag adds: hushd with those flags.
const hushB = "hush-b"

func isHush(name string) bool { return name == "hush" || name == hushB }

// target is a relay under test by name. Every run gets a fresh relay process when
// hushload starts it, so no run inherits another's memory, ports or sessions (memory per
// session is only meaningful against a fresh process).
type target struct {
	name string
	logw io.Writer
}

// runOn opens the target, runs cfg against it and ends what it started. A relay that
// died during the run fails it, with where its log was kept.
func (o *options) runOn(ctx context.Context, tg target, cfg loadgen.Config) (*loadgen.Result, error) {
	t, stop, err := o.open(ctx, tg.name, tg.logw)
	if err != nil {
		return nil, err
	}
	if (isHush(tg.name) || tg.name == rtpengineMask) && o.masked != [2]bool{} {
		cfg.Masked, cfg.LookAhead = o.masked, o.lookAhead
	}
	r, err := loadgen.Run(ctx, t, cfg)
	serr := stop() // recordings are complete once hushd has ended
	if r != nil {
		r.Target = tg.name // hushB is hushd too
	}
	if r != nil && isHush(tg.name) && o.record {
		r.Recordings, r.RecordingBytes = o.lastRecordings()
	}
	if serr != nil {
		return r, fmt.Errorf("%s: %w", tg.name, serr)
	}
	return r, err
}

// available checks that a target can be opened, without starting it.
func (o *options) available(name string) error {
	switch {
	case isHush(name) && o.hushdAddr == "":
		if _, err := findBinary(o.hushdBin, "hushd", true); err != nil {
			return fmt.Errorf("hushd: %w (build it with `make build` or pass -hushd-bin)", err)
		}
	case (name == "rtpengine" || name == rtpengineMask) && o.rtpengineNG == "":
		if _, err := findBinary(o.rtpengineBin, "rtpengine", false); err != nil {
			return fmt.Errorf("%w: rtpengine not found (install Debian package rtpengine-daemon, or pass -rtpengine-bin): %v", errSkip, err)
		}
	}
	return nil
}

// open prepares a target: connects to a running relay or starts one. stop ends what it
// started, once (later calls return nil), and reports a started hushd that died.
func (o *options) open(ctx context.Context, name string, logw io.Writer) (loadgen.Target, func() error, error) {
	nop := func() error { return nil }
	switch name {
	case "direct":
		return loadgen.Direct{}, nop, nil
	case "hush", hushB:
		if o.hushdAddr != "" {
			h, err := loadgen.NewHush(o.hushdAddr, o.hushdPID)
			if err != nil {
				return nil, nil, err
			}
			h.SetMetricsAddr(o.hushdHTTP)
			if err := o.setPolicy(h); err != nil {
				_ = h.Close()
				return nil, nil, err
			}
			return h, func() error { return h.Close() }, nil
		}
		bin, err := findBinary(o.hushdBin, "hushd", true)
		if err != nil {
			return nil, nil, fmt.Errorf("hushd: %w (build it with `make build` or pass -hushd-bin)", err)
		}
		// Media ports below the ephemeral range (32768-60999), so the generator's own
		// sockets never take a relay port; 4 ports per session.
		extra := append(strings.Fields(o.hushdArgs), o.hushdFlags...)
		if name == hushB {
			extra = append(extra, o.hushdBFlags...)
		}
		recDir := ""
		if o.record {
			if recDir, err = os.MkdirTemp("", "hushload-rec-"); err != nil {
				return nil, nil, err
			}
			extra = append(extra, "--recording-enabled=true", "--recording-dir", recDir)
		}
		if o.ng {
			// No rate limit: the churn sends thousands of requests a second from one source.
			extra = append(extra, "--ng-enabled", "--ng-listen", "127.0.0.1:0", "--ng-rate-limit", "0")
			if o.masked != [2]bool{} {
				// ng sets no look-ahead per call: hushd's default is the one asked for.
				extra = append(extra, "--masking-look-ahead", o.lookAhead.String())
			}
		}
		cleanup := func() {
			if recDir != "" && !o.keep {
				_ = os.RemoveAll(recDir)
			}
		}
		p, err := loadgen.StartHushd(ctx, bin, 10000, 19999, extra, logw)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		h, err := loadgen.NewHush(p.Addr, p.PID())
		if err != nil {
			_ = p.Stop()
			cleanup()
			return nil, nil, err
		}
		h.SetMetricsAddr(p.HTTP)
		h.SetEngine(p.Engine)
		if err := o.setPolicy(h); err != nil {
			_ = h.Close()
			_ = p.Stop()
			cleanup()
			return nil, nil, err
		}
		var tgt loadgen.Target = h
		if o.ng {
			ngAddr, err := netip.ParseAddrPort(p.NG)
			if err != nil {
				_ = h.Close()
				_ = p.Stop()
				cleanup()
				return nil, nil, fmt.Errorf("hushd's ng listener: %q: %v", p.NG, err)
			}
			ngh := loadgen.NewHushNG(ngAddr, h)
			ngh.SetPolicy(o.mask, o.masked, o.record)
			tgt = ngh
		}
		done := false
		return tgt, func() error {
			if done {
				return nil
			}
			done = true
			_ = h.Close()
			err := p.Stop()
			if recDir != "" {
				o.recCount, o.recBytes, _ = loadgen.CountRecordings(recDir)
				if o.keep {
					fmt.Fprintf(logw, "recordings kept in %s\n", recDir)
				}
			}
			cleanup()
			return err
		}, nil
	case "rtpengine", rtpengineMask:
		if o.rtpengineNG != "" {
			ap, err := netip.ParseAddrPort(o.rtpengineNG)
			if err != nil {
				return nil, nil, fmt.Errorf("-rtpengine-ng: %v", err)
			}
			return o.rtpengineTarget(name, ap, o.rtpenginePID), nop, nil
		}
		bin, err := findBinary(o.rtpengineBin, "rtpengine", false)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: rtpengine not found (install Debian package rtpengine-daemon, or pass -rtpengine-bin): %v", errSkip, err)
		}
		ng, err := loadgen.FreeUDPPort()
		if err != nil {
			return nil, nil, err
		}
		p, err := loadgen.StartRtpengine(ctx, bin, ng, 20000, 29999, strings.Fields(o.rtpeArgs), logw)
		if err != nil {
			return nil, nil, err
		}
		return o.rtpengineTarget(name, netip.MustParseAddrPort(p.Addr), p.PID()), func() error { _ = p.Stop(); return nil }, nil
	}
	return nil, nil, fmt.Errorf("unknown target %q", name)
}

// rtpengineMask is the target name of rtpengine on its own masking path: the directions
// hush masks go through "block DTMF" with a delay buffer of hush's look-ahead.
const rtpengineMask = "rtpengine-mask"

// rtpengineTarget drives the rtpengine at ng; name rtpengineMask blocks DTMF as -mask says.
func (o *options) rtpengineTarget(name string, ng netip.AddrPort, pid int) *loadgen.Rtpengine {
	r := loadgen.NewNG(name, ng, pid)
	if name == rtpengineMask {
		mode := "silence"
		if o.mask == "tone" {
			mode = "tone"
		}
		r.SetBlockDTMF(loadgen.BlockDTMF{Mode: mode, Delay: o.lookAhead, Dirs: o.masked})
	}
	return r
}

// setPolicy gives hush sessions the masking and recording policy of -mask and -record.
func (o *options) setPolicy(h *loadgen.Hush) error {
	if o.masked == [2]bool{} && !o.record {
		return nil
	}
	p, err := loadgen.MaskPolicy(o.mask, o.masked, o.lookAhead, o.record)
	if err != nil {
		return err
	}
	h.SetPolicy(p)
	return nil
}

// lastRecordings is what the last hushd stopped had recorded.
func (o *options) lastRecordings() (int, int64) { return o.recCount, o.recBytes }

// findBinary returns explicit if set, else name beside this executable (when beside),
// else name in $PATH.
func findBinary(explicit, name string, beside bool) (string, error) {
	if explicit != "" {
		return exec.LookPath(explicit)
	}
	if beside {
		if self, err := os.Executable(); err == nil {
			p := filepath.Join(filepath.Dir(self), name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	return exec.LookPath(name)
}

// roundOrder is the order round (from 1) runs n targets in: as given in odd rounds,
// reversed in even ones. A run is not independent of the one before it (the host still
// writes back and deletes the last run's recordings, for one), so in a fixed order the
// target that always runs second pays for it; alternating the order pairs it off.
func roundOrder(n, round int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
		if round%2 == 0 {
			order[i] = n - 1 - i
		}
	}
	return order
}

func (o *options) runOnce(ctx context.Context, targets []target, cfg loadgen.Config, rep *report, stdout io.Writer) error {
	for round := 1; round <= o.rounds; round++ {
		at := make([]*loadgen.Result, len(targets))
		for _, i := range roundOrder(len(targets), round) {
			r, err := o.runOn(ctx, targets[i], cfg)
			if err != nil {
				return err
			}
			r.Round = round
			at[i] = r
		}
		rep.Results = append(rep.Results, at...)
		if o.rounds > 1 {
			fmt.Fprintf(stdout, "\n== round %d\n", round)
		}
		if err := loadgen.WriteTable(stdout, at...); err != nil {
			return err
		}
		for _, r := range at {
			if r.ChurnError != "" {
				fmt.Fprintf(stdout, "%s: first churn failure: %s\n", r.Target, r.ChurnError)
			}
		}
	}
	addRatios(rep, rep.Results)
	if o.rounds > 1 {
		writeMedians(stdout, rep)
	}
	if o.rounds > 1 || o.hog > 0 {
		writeRounds(stdout, rep.Results)
	}
	if o.soak > 0 && len(rep.Results) > 0 {
		rep.Soak = soakOf(rep.Results[0])
		s := rep.Soak
		fmt.Fprintf(stdout, "\nsoak %s: RSS %.1f MiB at the start of the window, %.1f MiB at the end (max %.1f), growth %.1f%%\n",
			s.Target, mib(s.RSSStart), mib(s.RSSEnd), mib(s.RSSMax), s.GrowthPct)
	}
	return nil
}

// writeMedians prints, per target, the median over rounds of the main figures, and the
// median of the per-round hush/rtpengine ratios: on a noisy machine the ratio measured
// within one round is the figure to trust.
func writeMedians(w io.Writer, rep *report) {
	byTarget := map[string][]*loadgen.Result{}
	var order []string
	for _, r := range rep.Results {
		if byTarget[r.Target] == nil {
			order = append(order, r.Target)
		}
		byTarget[r.Target] = append(byTarget[r.Target], r)
	}
	fmt.Fprintf(w, "\n== medians over %d rounds\n", len(byTarget[order[0]]))
	fmt.Fprintf(w, "%-14s %10s %12s %12s %12s %14s %14s %16s %12s\n", "target", "lost", "p50 µs", "p99 µs", "p99.9 µs", "CPU-s/Mpkt", "KiB/session", "beyond-L p99 µs", "RSS MiB")
	for _, t := range order {
		rs := byTarget[t]
		med := func(f func(*loadgen.Result) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return median(v)
		}
		fmt.Fprintf(w, "%-14s %10.0f %12.1f %12.1f %12.1f %14.2f %14.1f %16.1f %12.1f\n", t,
			med(func(r *loadgen.Result) float64 { return float64(r.Lost) }),
			med(func(r *loadgen.Result) float64 { return r.LatencyP50 }),
			med(func(r *loadgen.Result) float64 { return r.LatencyP99 }),
			med(func(r *loadgen.Result) float64 { return r.LatencyP999 }),
			med(func(r *loadgen.Result) float64 { return r.TargetCPUPerM }),
			med(func(r *loadgen.Result) float64 { return r.MemPerIdle / 1024 }),
			med(func(r *loadgen.Result) float64 { return r.BeyondP99 }),
			med(func(r *loadgen.Result) float64 { return mib(r.RSSActive) }))
	}
	if len(rep.Ratios) > 0 {
		cpu := make([]float64, len(rep.Ratios))
		p99 := make([]float64, len(rep.Ratios))
		for i, x := range rep.Ratios {
			cpu[i], p99[i] = x.CPUPerMpkt, x.LatencyP99
		}
		fmt.Fprintf(w, "hush/rtpengine, median of per-round ratios: CPU per packet %.2f, latency p99 %.2f\n", median(cpu), median(p99))
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func soakOf(r *loadgen.Result) *soakResult {
	s := &soakResult{Target: r.Target}
	if len(r.RSSSamples) == 0 {
		return s
	}
	s.RSSStart, s.RSSEnd = r.RSSSamples[0].RSS, r.RSSSamples[len(r.RSSSamples)-1].RSS
	for _, x := range r.RSSSamples {
		s.RSSMax = max(s.RSSMax, x.RSS)
	}
	if s.RSSStart > 0 {
		s.GrowthPct = 100 * float64(s.RSSEnd-s.RSSStart) / float64(s.RSSStart)
	}
	return s
}

// addRatios adds hush-over-rtpengine ratios for each call count that has both.
func addRatios(rep *report, rs []*loadgen.Result) {
	for _, h := range rs {
		if h.Target != "hush" {
			continue
		}
		for _, e := range rs {
			if e.Target != "rtpengine" || e.Calls != h.Calls || e.Round != h.Round {
				continue
			}
			// A masked hush is judged by what it adds beyond the look-ahead it was asked for.
			hp99 := h.LatencyP99
			if h.BeyondSamples > 0 {
				hp99 = h.BeyondP99
			}
			rep.Ratios = append(rep.Ratios, ratio{Calls: h.Calls, CPUPerMpkt: div(h.TargetCPUPerM, e.TargetCPUPerM),
				LatencyP99: div(hp99, e.LatencyP99), MemPerSession: div(h.MemPerIdle, e.MemPerIdle)})
		}
	}
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func parseScale(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-scale: bad call count %q", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func (o *options) runScale(ctx context.Context, targets []target, cfg loadgen.Config, rep *report, stdout io.Writer) error {
	ns, err := parseScale(o.scale)
	if err != nil {
		return err
	}
	for _, n := range ns {
		cfg.Calls = n
		var at []*loadgen.Result
		for _, t := range targets {
			r, err := o.runOn(ctx, t, cfg)
			if err != nil {
				return err
			}
			at = append(at, r)
		}
		rep.Results = append(rep.Results, at...)
		fmt.Fprintf(stdout, "\n== %d calls\n", n)
		if err := loadgen.WriteTable(stdout, at...); err != nil {
			return err
		}
	}
	addRatios(rep, rep.Results)
	fmt.Fprintf(stdout, "\n== scaling: CPU-s per million packets (lost packets, latency p99 µs)\n")
	for _, n := range ns {
		fmt.Fprintf(stdout, "%6d calls", n)
		for _, r := range rep.Results {
			if r.Calls == n {
				fmt.Fprintf(stdout, "   %s %6.2f (%d, %.0f)", r.Target, r.TargetCPUPerM, r.Lost, r.LatencyP99)
			}
		}
		for _, x := range rep.Ratios {
			if x.Calls == n {
				fmt.Fprintf(stdout, "   hush/rtpengine CPU %.2f", x.CPUPerMpkt)
			}
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// runRamp doubles the call count from -calls until a run is not clean (loss, or p99 above
// -ramp-p99) or -ramp-max, then bisects between the last clean and the first unclean
// count to within 5%.
func (o *options) runRamp(ctx context.Context, targets []target, cfg loadgen.Config, rep *report, stdout io.Writer) error {
	for _, t := range targets {
		rr := rampResult{Target: t.name}
		try := func(n int) (bool, error) {
			cfg.Calls = n
			r, err := o.runOn(ctx, t, cfg)
			if err != nil {
				return false, err
			}
			rep.Results = append(rep.Results, r)
			clean := r.Clean(o.rampP99)
			// p99 is the latency the relay added: beyond the look-ahead when masking.
			fmt.Fprintf(stdout, "ramp %s %5d calls: lost %d, p99 %.0f µs, relay %.3f cores, generator %.3f cores -> %s\n",
				t.name, n, r.Lost, r.AddedP99(), r.TargetCores, r.GenCores, map[bool]string{true: "clean", false: "NOT clean"}[clean])
			if !clean {
				rr.FirstBad = n
				rr.Why = fmt.Sprintf("lost %d, p99 %.0f µs, %d before the look-ahead", r.Lost, r.AddedP99(), r.Early)
			}
			return clean, nil
		}
		lo, hi := 0, 0
		for n := o.calls; ; n *= 2 {
			n = min(n, o.rampMax)
			ok, err := try(n)
			if err != nil {
				return err
			}
			if !ok {
				hi = n
				break
			}
			lo = n
			if n == o.rampMax {
				break
			}
		}
		for hi > 0 && hi-lo > max(1, hi/20) {
			mid := (lo + hi) / 2
			ok, err := try(mid)
			if err != nil {
				return err
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		rr.MaxClean = lo
		if hi > 0 {
			rr.FirstBad = hi
		}
		rep.Ramp = append(rep.Ramp, rr)
		fmt.Fprintf(stdout, "ramp %s: largest clean call count %d (limit tried %d)\n", t.name, lo, o.rampMax)
	}
	return nil
}

// writeRounds prints one line per run, round by round (even rounds ran their targets in
// reverse order, roundOrder): the load average around it, loss,
// the whole latency and, for a masked target, latency beyond its look-ahead, over the
// window and over the part of it a hog ran (-hog). A busy host shows in the load average
// and in the tails; comparisons hold within a round, never across rounds. "rx lag" is how
// long the generator itself took to read what had arrived (not in the latency), and "sched
// max" the longest a relay goroutine waited runnable (hushd; a bucket bound).
func writeRounds(w io.Writer, rs []*loadgen.Result) {
	fmt.Fprintf(w, "\n== per run (µs; \"beyond L\": latency beyond the look-ahead of masked directions; \"hog\": packets received while the hog ran)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\ttarget\tload avg\tlost\twin lost\tp50\tp99\tp99.9\tmax\tbeyond L p99\tp99.9\tmax\thog s\thog lost\thog p99\tmax\thog beyond L p99\tp99.9\tmax\trx lag p99\tsched max\t")
	f := func(v float64, ok bool) string {
		if !ok {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	for _, r := range rs {
		bl, hog := r.BeyondSamples > 0, r.HogSamples > 0
		fmt.Fprintf(tw, "%d\t%s\t%.1f-%.1f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			max(r.Round, 1), r.Target, r.LoadAvgStart, r.LoadAvg, r.Lost, r.LostWindow,
			f(r.LatencyP50, true), f(r.LatencyP99, true), f(r.LatencyP999, true), f(r.LatencyMax, true),
			f(r.BeyondP99, bl), f(r.BeyondP999, bl), f(r.BeyondMax, bl),
			f(r.HogSeconds, hog), f(float64(r.HogLost), hog), f(r.HogP99, hog), f(r.HogMax, hog),
			f(r.HogBeyondP99, hog && bl), f(r.HogBeyondP999, hog && bl), f(r.HogBeyondMax, hog && bl),
			f(r.RxLagP99, r.RxLagMax > 0), f(schedMax(r), r.Runtime != nil))
	}
	_ = tw.Flush()
}

// schedMax is the longest a relay goroutine waited runnable in the window, in µs.
func schedMax(r *loadgen.Result) float64 {
	if r.Runtime == nil {
		return 0
	}
	return r.Runtime.SchedMax * 1e6
}
