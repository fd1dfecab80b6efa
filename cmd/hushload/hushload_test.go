package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/loadgen"
)

// TestMain lets the test binary be the hog process of a run with -hog, as hushload is.
func TestMain(m *testing.M) {
	beHog()
	os.Exit(m.Run())
}

// TestDirectRunWithHog: -hog runs the competing load in part of the window and the
// per-run lines report the latency while it ran.
func TestDirectRunWithHog(t *testing.T) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"-target", "direct", "-calls", "2", "-duration", "1s", "-warmup", "100ms",
		"-hog", "1", "-hog-after", "200ms", "-hog-for", "300ms"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "during hog: latency p99") || !strings.Contains(out, "== per run") ||
		!strings.Contains(out, "hog p99") {
		t.Fatalf("table:\n%s", out)
	}
}

// TestDirectRunWritesTableAndJSON: a short run against no relay prints the table and writes
// JSON that carries the figures.
func TestDirectRunWritesTableAndJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"-target", "direct", "-calls", "2", "-duration", "600ms", "-warmup", "100ms", "-json", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "latency p99") || !strings.Contains(stdout.String(), "direct/2") {
		t.Fatalf("table:\n%s", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Sent != 2*2*30 || rep.Results[0].Lost != 0 || rep.CPUs < 1 {
		t.Fatalf("%s", b)
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &stderr, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, args := range [][]string{
		{"-target", "nope"}, {"-calls", "0"}, {"-warmup", "5s", "-duration", "5s"}, {"extra"},
		{"-target", "direct", "-scale", "10,x", "-duration", "100ms", "-warmup", "0s"},
		{"-mask", "loud"}, {"-mask", "tone", "-mask-dir", "left"}, {"-mask", "tone", "-look-ahead", "10ms"},
		{"-record", "-hushd-addr", "127.0.0.1:1"},
		{"-hushd-b-flag", "--media-workers=2", "-hushd-addr", "127.0.0.1:1"},
		{"-target", "direct", "-hushd-b-flag", "--media-workers=2", "-calls", "1", "-duration", "1s", "-warmup", "0s"},
		{"-hog", "-1"}, {"-hog", "65"}, {"-hog", "1", "-hog-for", "-1s"},
		{"-hog", "1", "-duration", "5s", "-warmup", "1s", "-hog-after", "4s"},
	} {
		if err := run(context.Background(), args, &stderr, &stderr); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	// -compare without rtpengine skips the comparison with a message naming the package.
	var stdout bytes.Buffer
	o := &options{rtpengineBin: "/nonexistent/rtpengine"}
	if _, _, err := o.open(context.Background(), "rtpengine", &stdout); !errors.Is(err, errSkip) ||
		!strings.Contains(err.Error(), "rtpengine-daemon") {
		t.Fatalf("missing rtpengine: %v", err)
	}
}

// TestMaskFlags: -mask and -mask-dir pick the masked directions, -hushd-flag repeats, and
// a masked hush is judged by its latency beyond the look-ahead.
func TestMaskFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"-mask", "tone", "-mask-dir", "agent", "-look-ahead", "80ms", "-record",
		"-hushd-flag=--media-engine=epoll", "-hushd-flag", "--log-level=debug"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.masked != [2]bool{false, true} || o.lookAhead != 80*time.Millisecond || !o.record ||
		len(o.hushdFlags) != 2 || o.hushdFlags[0] != "--media-engine=epoll" {
		t.Fatalf("%+v", o)
	}
	if o, err = parseFlags([]string{"-mask", "none", "-mask-dir", "both"}, &stderr); err != nil || o.masked != [2]bool{} {
		t.Fatalf("-mask none: %+v %v", o, err)
	}
	rep := &report{}
	addRatios(rep, []*loadgen.Result{
		{Target: "hush", Calls: 1, LatencyP99: 61000, BeyondSamples: 10, BeyondP99: 500},
		{Target: "rtpengine", Calls: 1, LatencyP99: 1000},
	})
	if len(rep.Ratios) != 1 || rep.Ratios[0].LatencyP99 != 0.5 {
		t.Fatalf("%+v", rep.Ratios)
	}
}

// TestRtpengineMaskTarget: the rtpengine-mask target is rtpengine on its own masking
// path, reported under its own name; plain rtpengine is not.
func TestRtpengineMaskTarget(t *testing.T) {
	o, err := parseFlags([]string{"-target", "rtpengine-mask", "-mask", "tone", "-mask-dir", "customer"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ng := netip.MustParseAddrPort("127.0.0.1:1")
	if n := o.rtpengineTarget(rtpengineMask, ng, 0).Name(); n != "rtpengine-mask" {
		t.Fatalf("name %q", n)
	}
	if n := o.rtpengineTarget("rtpengine", ng, 0).Name(); n != "rtpengine" {
		t.Fatalf("name %q", n)
	}
}

func TestScaleParse(t *testing.T) {
	ns, err := parseScale("100, 250,500")
	if err != nil || len(ns) != 3 || ns[1] != 250 {
		t.Fatalf("%v %v", ns, err)
	}
	for _, bad := range []string{"", "0", "1,,2", "-5"} {
		if _, err := parseScale(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMedianAndRatiosPairRounds(t *testing.T) {
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 || median(nil) != 0 {
		t.Fatal("median")
	}
	rep := &report{}
	rs := []*loadgen.Result{
		{Target: "hush", Calls: 10, Round: 1, TargetCPUPerM: 10},
		{Target: "rtpengine", Calls: 10, Round: 1, TargetCPUPerM: 20},
		{Target: "hush", Calls: 10, Round: 2, TargetCPUPerM: 30},
		{Target: "rtpengine", Calls: 10, Round: 2, TargetCPUPerM: 10},
		{Target: "direct", Calls: 10, Round: 2},
	}
	addRatios(rep, rs)
	if len(rep.Ratios) != 2 || rep.Ratios[0].CPUPerMpkt != 0.5 || rep.Ratios[1].CPUPerMpkt != 3 {
		t.Fatalf("%+v", rep.Ratios)
	}
	rep.Results = rs
	var out bytes.Buffer
	writeMedians(&out, rep)
	if !strings.Contains(out.String(), "CPU per packet 1.75") {
		t.Fatalf("%s", out.String())
	}
}

// TestHushdBFlag: -hushd-b-flag runs a second hushd (target hush-b) with the flag, beside
// hush in the same round, and both report the Go runtime's figures from /metrics.
func TestHushdBFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hushd; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hushd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hushmedia/hush/cmd/hushd").CombinedOutput(); err != nil {
		t.Fatalf("go build hushd: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-hushd-bin", bin, "-calls", "2", "-duration", "1500ms", "-warmup", "200ms",
		"-hushd-b-flag", "--media-background-nice=0", "-json", js}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results []loadgen.Result `json:"results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Target)
		if r.Runtime == nil || r.Runtime.GOGC <= 0 {
			t.Errorf("%s: no runtime figures: %+v", r.Target, r.Runtime)
		}
	}
	if !slices.Equal(got, []string{"hush", "hush-b"}) {
		t.Fatalf("targets %v, want hush and hush-b\n%s", got, stdout.String())
	}
}

// TestRoundOrder: odd rounds run the targets as given, even rounds in reverse, so no
// target always follows another.
func TestRoundOrder(t *testing.T) {
	if got := roundOrder(3, 1); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("round 1: %v", got)
	}
	if got := roundOrder(3, 2); !slices.Equal(got, []int{2, 1, 0}) {
		t.Errorf("round 2: %v", got)
	}
	if got := roundOrder(1, 2); !slices.Equal(got, []int{0}) {
		t.Errorf("one target: %v", got)
	}
}
