package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/relay/relaytest"
)

// TestRunDirect: the calibration target (no relay) loses nothing, and the figures hang
// together: every packet counted, latency measured in the window, jitter computed.
func TestRunDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, Direct{}, Config{Calls: 3, Duration: time.Second, Warmup: 200 * time.Millisecond,
		Sockets: 2, IdleSettle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wantSent := uint64(3 * 2 * (time.Second / period))
	if res.Sent != wantSent || res.Received != wantSent || res.Lost != 0 || res.CallsWithLoss != 0 {
		t.Fatalf("sent %d received %d lost %d (want %d each)", res.Sent, res.Received, res.Lost, wantSent)
	}
	if res.Foreign != 0 || res.Misrouted != 0 || res.Rewritten != 0 || res.Reordered != 0 {
		t.Fatalf("foreign %d misrouted %d rewritten %d reordered %d", res.Foreign, res.Misrouted, res.Rewritten, res.Reordered)
	}
	if res.LatencySamples == 0 || res.LatencySamples >= res.Received || res.LatencyP50 <= 0 ||
		res.LatencyP50 > res.LatencyP99 || res.LatencyP99 > res.LatencyP999 || res.LatencyP999 > res.LatencyMax {
		t.Fatalf("latency samples %d p50 %v p99 %v p999 %v max %v", res.LatencySamples,
			res.LatencyP50, res.LatencyP99, res.LatencyP999, res.LatencyMax)
	}
	if res.WindowPackets == 0 || res.WindowPackets > res.Received || res.GenCPU <= 0 {
		t.Fatalf("window packets %d generator CPU %v", res.WindowPackets, res.GenCPU)
	}
	if res.TargetCPU != 0 || res.RSSIdle != 0 {
		t.Fatalf("direct has no process, got CPU %v RSS %d", res.TargetCPU, res.RSSIdle)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, res, res); err != nil || !strings.Contains(buf.String(), "latency p99") {
		t.Fatalf("table: %v\n%s", err, buf.String())
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
}

func TestRunBadConfig(t *testing.T) {
	for _, c := range []Config{{}, {Calls: 1}, {Calls: 1, Duration: time.Second, Warmup: time.Second}} {
		if _, err := Run(context.Background(), Direct{}, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// buildHushd compiles cmd/hushd into a temporary directory (or takes $HUSHLOAD_HUSHD).
func buildHushd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs hushd; skipped with -short")
	}
	if bin := os.Getenv("HUSHLOAD_HUSHD"); bin != "" { // a prebuilt binary
		return bin
	}
	bin := filepath.Join(t.TempDir(), "hushd")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/hushmedia/hush/cmd/hushd")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hushd: %v\n%s", err, out)
	}
	return bin
}

// TestRunHushd is the short load run of `make test`: 5 calls for 3 s through a real hushd
// process lose nothing, latency is sane, and CPU and memory are measured.
func TestRunHushd(t *testing.T) {
	bin := buildHushd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var log bytes.Buffer
	// Log flags that would hide the line StartHushd waits for: it must still start.
	lo, hi := relaytest.Ports(t, 100)
	p, err := StartHushd(ctx, bin, lo, hi, []string{"--log-level=warn", "--log-format=json"}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer func() {
		if err := p.Stop(); err != nil {
			t.Errorf("hushd exit: %v\n%s", err, log.String())
		}
	}()
	h, err := NewHush(p.Addr, p.PID())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetMetricsAddr(p.HTTP)
	if d, err := h.Drops(ctx); err != nil || d == nil {
		t.Fatalf("reading hushd's drop counters from %q: %v %v", p.HTTP, d, err)
	}
	if n, err := h.RecordingLate(ctx); err != nil || n != 0 {
		t.Fatalf("reading hushd's late recording packets from %q: %v %v", p.HTTP, n, err)
	}
	// Loss must be 0 in every run. The latency bound is generous, but a loaded shared box
	// can stall any process for a moment; a stall is not hushd's doing, so a p99 over the
	// bound gets one more run, which must pass.
	var res *Result
	for attempt := 1; ; attempt++ {
		var err error
		res, err = Run(ctx, h, Config{Calls: 5, Duration: 3 * time.Second, Warmup: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		var tab bytes.Buffer
		_ = WriteTable(&tab, res)
		t.Logf("run %d:\n%s", attempt, tab.String())
		if res.Lost != 0 || res.Received != res.Sent || res.Sent != 5*2*150 {
			t.Fatalf("sent %d received %d lost %d", res.Sent, res.Received, res.Lost)
		}
		if res.Foreign+res.Misrouted+res.Rewritten != 0 {
			t.Fatalf("foreign %d misrouted %d rewritten %d", res.Foreign, res.Misrouted, res.Rewritten)
		}
		if res.LatencyP50 <= 0 || res.LatencyP50 > 5000 {
			t.Fatalf("latency p50 %vµs", res.LatencyP50)
		}
		if res.LatencyP99 > 0 && res.LatencyP99 < 5000 {
			break
		}
		if attempt == 2 {
			t.Fatalf("latency p99 %vµs in two runs", res.LatencyP99)
		}
	}
	// A second run against the same hushd: new sessions, nothing lost (call and request ids
	// must not repeat: CreateSession is idempotent by request id).
	again, err := Run(ctx, h, Config{Calls: 3, Duration: time.Second, Warmup: 200 * time.Millisecond})
	if err != nil || again.Lost != 0 || again.Sent != 3*2*50 {
		t.Fatalf("second run: %v, lost %+v", err, again)
	}
	if res.TargetCPU < 0 || res.GenCPU <= 0 || res.RSSIdle <= 0 || res.RSSActive <= 0 || res.RSSBefore <= 0 {
		t.Fatalf("CPU target %v generator %v, RSS before %d idle %d active %d", res.TargetCPU, res.GenCPU,
			res.RSSBefore, res.RSSIdle, res.RSSActive)
	}
	if _, err := ReadProc(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

// TestRunHushdMaskedRecorded: every call masked both ways (tone) and recorded. Nothing is
// lost, the masked directions are delayed by the configured look-ahead (p50 within
// [L, L+20 ms]: the bound is generous, the point is that the delay is there and is L), the
// payload survives masking byte for byte (no DTMF in it), and every call left a WAV.
func TestRunHushdMaskedRecorded(t *testing.T) {
	bin := buildHushd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	var log bytes.Buffer
	lo, hi := relaytest.Ports(t, 100)
	p, err := StartHushd(ctx, bin, lo, hi, []string{"--recording-enabled=true", "--recording-dir", dir}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = p.Stop()
		}
	}()
	if p.Engine == "" {
		t.Error("hushd's media engine not read from its log")
	}
	h, err := NewHush(p.Addr, p.PID())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetEngine(p.Engine)
	const look = 60 * time.Millisecond
	both := [2]bool{true, true}
	pol, err := MaskPolicy("tone", both, look, true)
	if err != nil {
		t.Fatal(err)
	}
	h.SetPolicy(pol)
	const calls = 5
	// Line noise (AudioQuiet): the masked path must hand it on untouched. The default
	// burst (3 ms of loud noise a packet) is not audio any masker promises to leave whole:
	// its notch takes the DTMF bands out of a packet or two in a hundred of it.
	res, err := Run(ctx, h, Config{Calls: calls, Duration: 3 * time.Second, Warmup: 500 * time.Millisecond,
		Masked: both, LookAhead: look, Audio: AudioQuiet})
	if err != nil {
		t.Fatal(err)
	}
	var tab bytes.Buffer
	_ = WriteTable(&tab, res)
	t.Logf("\n%s", tab.String())
	if res.Lost != 0 || res.Received != res.Sent || res.Sent != calls*2*150 {
		t.Fatalf("sent %d received %d lost %d", res.Sent, res.Received, res.Lost)
	}
	if res.Foreign+res.Misrouted != 0 {
		t.Fatalf("foreign %d misrouted %d", res.Foreign, res.Misrouted)
	}
	// No DTMF is sent: a payload changes only where the notch took the DTMF bands out of
	// the burst's noise, each such packet at least one sample of hush_notched_seconds_total.
	notched := notchedSeconds(t, p.HTTP)
	if float64(res.Rewritten) > notched*8000+0.5 {
		t.Fatalf("payload rewritten in %d packets, %.0f samples notched", res.Rewritten, notched*8000)
	}
	t.Logf("payload rewritten in %d packets, %.0f samples notched", res.Rewritten, notched*8000)
	if res.Engine != p.Engine || res.LookAhead != us(look) || len(res.Directions) != 2 {
		t.Fatalf("engine %q look-ahead %v directions %+v", res.Engine, res.LookAhead, res.Directions)
	}
	for _, d := range res.Directions {
		// Beyond-L figures: p50 in [0, 20 ms] means latency p50 in [L, L+20 ms].
		if !d.Masked || d.Samples == 0 || d.P50 > 20000 || d.Early*100 > d.Samples {
			t.Errorf("%s: %+v", d.Direction, d)
		}
	}
	if res.LatencyP50 < us(look) || res.LatencyP50 > us(look+20*time.Millisecond) {
		t.Errorf("latency p50 %vµs, want within [L, L+20ms], L = %v", res.LatencyP50, look)
	}
	// Recordings are finalised when their sessions end (Run deletes them) and at latest
	// when hushd stops.
	stopped = true
	if err := p.Stop(); err != nil {
		t.Errorf("hushd exit: %v\n%s", err, log.String())
	}
	n, size, err := CountRecordings(dir)
	if err != nil || n != calls {
		t.Fatalf("recordings: %d WAVs with audio, %d bytes, %v (want %d)", n, size, err, calls)
	}
}

func TestMaskPolicy(t *testing.T) {
	p, err := MaskPolicy("silence", [2]bool{true, false}, 40*time.Millisecond, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetCustomerToAgent().GetMode().String() != "MASK_MODE_SILENCE" ||
		p.GetCustomerToAgent().GetLookAhead().AsDuration() != 40*time.Millisecond ||
		p.GetAgentToCustomer().GetMode().String() != "MASK_MODE_OFF" ||
		p.GetRecording().String() != "RECORDING_MODE_ON" {
		t.Fatalf("policy %v", p)
	}
	if _, err := MaskPolicy("loud", [2]bool{true, true}, 0, false); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad mode: %v", err)
	}
	if _, err := Run(context.Background(), Direct{}, Config{Calls: 1, Duration: time.Second, LookAhead: time.Millisecond}); !errors.Is(err, ErrConfig) {
		t.Fatalf("look-ahead without a masked direction: %v", err)
	}
}

// notchedSeconds is hushd's hush_notched_seconds_total, both directions.
func notchedSeconds(t *testing.T, addr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for line := range strings.SplitSeq(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "hush_notched_seconds_total{"); ok {
			if _, val, ok := strings.Cut(rest, "} "); ok {
				v, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
				sum += v
			}
		}
	}
	return sum
}
