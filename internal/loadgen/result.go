package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one run's figures. Durations are in microseconds, memory in bytes, CPU in
// seconds, so the JSON reads without units.
type Result struct {
	Target       string  `json:"target"`
	Round        int     `json:"round,omitempty"` // set by the caller when it repeats runs
	Calls        int     `json:"calls"`
	Duration     float64 `json:"duration_s"`
	Window       float64 `json:"window_s"`
	SetupSeconds float64 `json:"setup_s"`

	Sent     uint64 `json:"packets_sent"`
	Received uint64 `json:"packets_received"`
	Lost     uint64 `json:"packets_lost"`
	// LostWindow is the packets sent in the measurement window that never arrived (Lost
	// also counts the warm-up's); HogLost those sent while the hog was to run.
	LostWindow    uint64  `json:"packets_lost_window"`
	HogLost       uint64  `json:"hog_packets_lost,omitempty"`
	LossRatio     float64 `json:"loss_ratio"`
	CallsWithLoss int     `json:"calls_with_loss"`
	Reordered     uint64  `json:"packets_reordered"`
	// Rewritten counts packets received whose payload did not carry the load header
	// (masked audio): counted as received, left out of latency.
	Rewritten   uint64 `json:"packets_rewritten"`
	TonePackets uint64 `json:"packets_dtmf"`
	Foreign     uint64 `json:"packets_foreign"`
	// SRTPFailed counts received SRTP packets that did not authenticate (Config.SRTP).
	SRTPFailed      uint64 `json:"packets_srtp_failed,omitempty"`
	Misrouted       uint64 `json:"packets_misrouted"`
	SendErrors      uint64 `json:"send_errors"`
	UDPRcvbufErrors uint64 `json:"udp_rcvbuf_errors_system"`
	// RelayDrops are the relay's own drop counters during the run, by reason (hush).
	RelayDrops map[string]float64 `json:"relay_drops,omitempty"`
	// RecordingLate is how many audio packets the relay's recordings got after their place
	// in the file was written (silence there), over the run's calls (hush -record).
	RecordingLate float64 `json:"recording_late_packets,omitempty"`
	// LoadAvg is the machine's 1-minute load average at the end of the window: other
	// processes compete with relay and generator, and a busy box shows in the tails.
	LoadAvg float64 `json:"loadavg_1m"`
	// LoadAvgStart is the same at the start of the window.
	LoadAvgStart float64 `json:"loadavg_1m_start"`
	// Hog*: a competing CPU load (Config.Hog) of HogThreads busy threads ran for
	// HogSeconds of the window; the latency of the packets received meanwhile, whole
	// (HogP*) and, over the masked directions, beyond the look-ahead (HogBeyond*).
	HogThreads    int     `json:"hog_threads,omitempty"`
	HogSeconds    float64 `json:"hog_s,omitempty"`
	HogSamples    uint64  `json:"hog_latency_samples,omitempty"`
	HogP50        float64 `json:"hog_latency_p50_us,omitempty"`
	HogP99        float64 `json:"hog_latency_p99_us,omitempty"`
	HogP999       float64 `json:"hog_latency_p999_us,omitempty"`
	HogMax        float64 `json:"hog_latency_max_us,omitempty"`
	HogBeyondP50  float64 `json:"hog_beyond_look_ahead_p50_us,omitempty"`
	HogBeyondP99  float64 `json:"hog_beyond_look_ahead_p99_us,omitempty"`
	HogBeyondP999 float64 `json:"hog_beyond_look_ahead_p999_us,omitempty"`
	HogBeyondMax  float64 `json:"hog_beyond_look_ahead_max_us,omitempty"`
	// RxLag*: how long received datagrams waited in the generator's sockets before it
	// read them. Latency is taken at the kernel's receive time, so this wait (the
	// generator's own, on a busy host) is not in it; 0 where the kernel gives no time.
	RxLagP99 float64 `json:"rx_lag_p99_us,omitempty"`
	RxLagMax float64 `json:"rx_lag_max_us,omitempty"`
	// Runtime is the Go runtime's figures of the relay over the window (hushd's /metrics):
	// GC pauses, GC assist time, scheduling latency. Nil for other relays.
	Runtime *RuntimeStats `json:"runtime,omitempty"`

	LatencySamples uint64  `json:"latency_samples"`
	LatencyP50     float64 `json:"latency_p50_us"`
	LatencyP99     float64 `json:"latency_p99_us"`
	LatencyP999    float64 `json:"latency_p999_us"`
	LatencyMax     float64 `json:"latency_max_us"`
	// LookAhead is the delay masked directions were configured with; Directions splits
	// latency by direction, and Beyond* are latency minus the look-ahead over the masked
	// directions only: what the relay adds beyond the delay it was asked for.
	LookAhead     float64            `json:"look_ahead_us,omitempty"`
	Directions    []DirectionLatency `json:"directions,omitempty"`
	BeyondSamples uint64             `json:"beyond_look_ahead_samples,omitempty"`
	BeyondP50     float64            `json:"beyond_look_ahead_p50_us,omitempty"`
	BeyondP99     float64            `json:"beyond_look_ahead_p99_us,omitempty"`
	BeyondP999    float64            `json:"beyond_look_ahead_p999_us,omitempty"`
	BeyondMax     float64            `json:"beyond_look_ahead_max_us,omitempty"`
	// Early counts masked-direction packets that arrived more than 1 ms sooner than the
	// look-ahead: the relay did not delay them as configured. Beyond* count them as 0.
	Early uint64 `json:"packets_before_look_ahead,omitempty"`
	// Engine is the relay's I/O engine when it says (hushd's "media engine" log line).
	Engine string `json:"engine,omitempty"`
	// Audio is what the payload sounded like (Config.Audio).
	Audio string `json:"audio,omitempty"`
	// SRTP is the suite of both legs' SDES-SRTP (Config.SRTP); empty: plain RTP.
	SRTP string `json:"srtp,omitempty"`
	// Recordings and RecordingBytes count the WAV files the relay wrote (hush -record).
	Recordings     int   `json:"recordings,omitempty"`
	RecordingBytes int64 `json:"recording_bytes,omitempty"`

	// RFC 3550 jitter, mean over streams (and the worst stream for the added one).
	JitterRx       float64 `json:"jitter_rx_us"`
	JitterTx       float64 `json:"jitter_tx_us"`
	JitterAdded    float64 `json:"jitter_added_us"`
	JitterAddedMax float64 `json:"jitter_added_max_us"`

	WindowPackets uint64      `json:"window_packets_forwarded"`
	TargetCPU     float64     `json:"target_cpu_s"`
	TargetCPUPerM float64     `json:"target_cpu_s_per_mpkt"`
	TargetCores   float64     `json:"target_cores"`
	GenCPU        float64     `json:"generator_cpu_s"`
	GenCPUPerM    float64     `json:"generator_cpu_s_per_mpkt"`
	GenCores      float64     `json:"generator_cores"`
	RSSBefore     int64       `json:"target_rss_before"`
	RSSIdle       int64       `json:"target_rss_idle"`
	RSSActive     int64       `json:"target_rss_active"`
	MemPerIdle    float64     `json:"mem_per_idle_session"`
	MemPerActive  float64     `json:"mem_per_active_call"`
	RSSSamples    []RSSSample `json:"rss_samples,omitempty"`
	// WorstStreams are the streams that lost most, up to 10, to tell a relay losing whole
	// calls (set-up) from one losing bursts (overload).
	WorstStreams   []StreamLoss `json:"worst_streams,omitempty"`
	CaptureToggles uint64       `json:"capture_toggles,omitempty"`
	CaptureErrors  uint64       `json:"capture_errors,omitempty"`

	// Control is how the calls were set up: "grpc" (hush's API), "ng" (rtpengine's
	// protocol, to rtpengine or to hush).
	Control string `json:"control,omitempty"`
	// Churn*: calls set up and torn down during the window while the others streamed
	// (Config.Churn); setup is the whole offer+answer (or CreateSession), per call.
	ChurnCalls       int     `json:"churn_calls,omitempty"`
	ChurnFailed      int     `json:"churn_failed,omitempty"`
	ChurnError       string  `json:"churn_first_error,omitempty"`
	ChurnSeconds     float64 `json:"churn_s,omitempty"`
	ChurnSetupP50    float64 `json:"churn_setup_p50_us,omitempty"`
	ChurnSetupP99    float64 `json:"churn_setup_p99_us,omitempty"`
	ChurnSetupMax    float64 `json:"churn_setup_max_us,omitempty"`
	ChurnTeardownP99 float64 `json:"churn_teardown_p99_us,omitempty"`
}

// DirectionLatency is one direction's latency in the window. For a masked direction the
// figures are latency minus the look-ahead (clamped at 0; Early counts those more than
// 1 ms below it).
type DirectionLatency struct {
	Direction string  `json:"direction"`
	Masked    bool    `json:"masked"`
	Samples   uint64  `json:"samples"`
	P50       float64 `json:"p50_us"`
	P99       float64 `json:"p99_us"`
	P999      float64 `json:"p999_us"`
	Max       float64 `json:"max_us"`
	Early     uint64  `json:"early,omitempty"`
}

// StreamLoss is one stream's loss.
type StreamLoss struct {
	Call      int    `json:"call"`
	Direction string `json:"direction"` // "customer->agent" or "agent->customer"
	Lost      uint64 `json:"lost"`
	// FirstMissing is the first sequence number missing at a jump forward, -1 if the
	// stream only lost packets at its end.
	FirstMissing int64  `json:"first_missing"`
	Gaps         uint32 `json:"gaps"`
	LastSeq      uint32 `json:"last_seq_received"`
}

// RSSSample is the target's RSS at a time in the window.
type RSSSample struct {
	At  float64 `json:"at_s"`
	RSS int64   `json:"rss"`
}

var directionNames = [2]string{"customer->agent", "agent->customer"}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// lostOf is how many of sent never arrived; duplicates can make received the larger.
func lostOf(sent, received uint64) uint64 {
	if received >= sent {
		return 0
	}
	return sent - received
}

func (r *Result) fill(m *media, cfg Config, before, idle ProcSample, w0, w1 window, sent uint64) {
	r.Sent = sent
	var lat, beyond, hogLat, hogBeyond Histogram
	var dirs [2]Histogram
	var early [2]uint64
	for _, rc := range m.recv {
		lat.Merge(&rc.lat)
		hogLat.Merge(&rc.hogLat)
		dirs[rc.side].Merge(&rc.beyond)
		early[rc.side] += rc.early
		if m.lookAhead[rc.side] > 0 {
			beyond.Merge(&rc.beyond)
			hogBeyond.Merge(&rc.hogBeyond)
		}
		r.Foreign += rc.foreign
		r.SRTPFailed += rc.srtpBad
		r.Misrouted += rc.misrouted
		r.Rewritten += rc.rewritten
		r.TonePackets += rc.tones
	}
	perStream := uint64(m.periods)
	if sent != perStream*uint64(m.nStreams) {
		perStream = 0 // aborted: per-call loss is unknown
	}
	var jit [3]float64
	var jitN int
	lossy := map[int]bool{}
	for s := range m.rx {
		st := &m.rx[s]
		r.Received += st.received
		r.Reordered += st.reordered
		if perStream > 0 && st.received < perStream {
			lossy[s/2] = true
			r.WorstStreams = append(r.WorstStreams, StreamLoss{Call: s / 2,
				Direction: directionNames[s&1],
				Lost:      perStream - st.received, FirstMissing: int64(st.firstGap) - 1, Gaps: st.gaps, LastSeq: st.maxSeq})
		}
		if st.jitterOK {
			jitN++
			for j := range jit {
				jit[j] += float64(st.jitter[j]) / 16
			}
			r.JitterAddedMax = max(r.JitterAddedMax, float64(st.jitter[2])/16/1e3)
		}
	}
	if r.Received < r.Sent {
		r.Lost = r.Sent - r.Received
	}
	if perStream > 0 {
		var inWin, inHog uint64
		for s := range m.rx {
			inWin += m.rx[s].inWindow
			inHog += m.rx[s].inHog
		}
		n := uint64(m.nStreams)
		r.LostWindow = lostOf(n*(perStream-uint64(m.winSeq)), inWin)
		r.HogLost = lostOf(n*uint64(m.hogSeq[1]-m.hogSeq[0]), inHog)
	}
	if r.Sent > 0 {
		r.LossRatio = float64(r.Lost) / float64(r.Sent)
	}
	r.CallsWithLoss = len(lossy)
	slices.SortFunc(r.WorstStreams, func(a, b StreamLoss) int { return cmp.Compare(b.Lost, a.Lost) })
	r.WorstStreams = r.WorstStreams[:min(len(r.WorstStreams), 10)]
	if jitN > 0 {
		r.JitterRx, r.JitterTx, r.JitterAdded = jit[0]/float64(jitN)/1e3, jit[1]/float64(jitN)/1e3, jit[2]/float64(jitN)/1e3
	}
	r.LatencySamples = lat.Count()
	r.LatencyP50, r.LatencyP99 = us(lat.Quantile(0.5)), us(lat.Quantile(0.99))
	r.LatencyP999, r.LatencyMax = us(lat.Quantile(0.999)), us(lat.Max())
	r.LookAhead = us(cfg.LookAhead)
	for d := range dirs {
		h := &dirs[d]
		masked := m.lookAhead[d] > 0
		r.Directions = append(r.Directions, DirectionLatency{Direction: directionNames[d], Masked: masked,
			Samples: h.Count(), P50: us(h.Quantile(0.5)), P99: us(h.Quantile(0.99)),
			P999: us(h.Quantile(0.999)), Max: us(h.Max()), Early: early[d]})
		if masked {
			r.Early += early[d]
		}
	}
	if beyond.Count() > 0 {
		r.BeyondSamples = beyond.Count()
		r.BeyondP50, r.BeyondP99 = us(beyond.Quantile(0.5)), us(beyond.Quantile(0.99))
		r.BeyondP999, r.BeyondMax = us(beyond.Quantile(0.999)), us(beyond.Max())
	}

	var lag Histogram
	for _, rc := range m.recv {
		lag.Merge(&rc.rxLag)
	}
	if lag.Count() > 0 {
		r.RxLagP99, r.RxLagMax = us(lag.Quantile(0.99)), us(lag.Max())
	}

	if n := hogLat.Count(); n > 0 {
		r.HogSamples = n
		r.HogP50, r.HogP99 = us(hogLat.Quantile(0.5)), us(hogLat.Quantile(0.99))
		r.HogP999, r.HogMax = us(hogLat.Quantile(0.999)), us(hogLat.Max())
	}
	if hogBeyond.Count() > 0 {
		r.HogBeyondP50, r.HogBeyondP99 = us(hogBeyond.Quantile(0.5)), us(hogBeyond.Quantile(0.99))
		r.HogBeyondP999, r.HogBeyondMax = us(hogBeyond.Quantile(0.999)), us(hogBeyond.Max())
	}

	r.WindowPackets = w1.pkts - w0.pkts
	wall := w1.at.Sub(w0.at).Seconds()
	r.Window = wall
	r.TargetCPU = (w1.proc.CPU - w0.proc.CPU).Seconds()
	r.GenCPU = (w1.self - w0.self).Seconds()
	if r.WindowPackets > 0 {
		r.TargetCPUPerM = r.TargetCPU / float64(r.WindowPackets) * 1e6
		r.GenCPUPerM = r.GenCPU / float64(r.WindowPackets) * 1e6
	}
	if wall > 0 {
		r.TargetCores, r.GenCores = r.TargetCPU/wall, r.GenCPU/wall
	}
	r.RSSBefore, r.RSSIdle, r.RSSActive = before.RSS, idle.RSS, w1.proc.RSS
	if cfg.Calls > 0 && before.RSS > 0 {
		r.MemPerIdle = float64(idle.RSS-before.RSS) / float64(cfg.Calls)
		r.MemPerActive = float64(w1.proc.RSS-before.RSS) / float64(cfg.Calls)
	}
}

// Clean reports whether the run lost nothing and kept the latency it added (AddedP99)
// within limit; a packet that came before its look-ahead makes a masked run unclean.
func (r *Result) Clean(p99Limit time.Duration) bool {
	return r.Lost == 0 && r.Received >= r.Sent && r.Early == 0 && r.AddedP99() <= us(p99Limit)
}

// AddedP99 is the p99 latency the relay added, in µs: the whole latency in a run with
// nothing masked; in a masked run the p99 beyond the look-ahead of the masked directions
// (the delay they were asked for is not a fault) or of an unmasked direction, whichever
// is higher.
func (r *Result) AddedP99() float64 {
	if r.LookAhead <= 0 {
		return r.LatencyP99
	}
	p := r.BeyondP99
	for _, d := range r.Directions {
		if !d.Masked {
			p = max(p, d.P99)
		}
	}
	return p
}

// WriteTable writes results side by side, one column per run, plus ratio columns of each
// run against the first when there are two or more.
func WriteTable(w io.Writer, rs ...*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"", "unit"}
	for _, r := range rs {
		head = append(head, fmt.Sprintf("%s/%d", r.Target, r.Calls))
	}
	ratios := len(rs) >= 2
	if ratios {
		for _, r := range rs[1:] {
			head = append(head, fmt.Sprintf("%s÷%s", rs[0].Target, r.Target))
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	row := func(name, unit string, ratio bool, f func(*Result) float64, format string) {
		cols := []string{name, unit}
		for _, r := range rs {
			cols = append(cols, fmt.Sprintf(format, f(r)))
		}
		if ratios {
			for _, r := range rs[1:] {
				if b := f(r); ratio && b != 0 {
					cols = append(cols, fmt.Sprintf("%.2f", f(rs[0])/b))
				} else {
					cols = append(cols, "")
				}
			}
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	row("packets sent", "", false, func(r *Result) float64 { return float64(r.Sent) }, "%.0f")
	row("packets lost", "", false, func(r *Result) float64 { return float64(r.Lost) }, "%.0f")
	row("packets lost in window", "", false, func(r *Result) float64 { return float64(r.LostWindow) }, "%.0f")
	row("calls with loss", "", false, func(r *Result) float64 { return float64(r.CallsWithLoss) }, "%.0f")
	row("reordered", "", false, func(r *Result) float64 { return float64(r.Reordered) }, "%.0f")
	row("DTMF packets", "", false, func(r *Result) float64 { return float64(r.TonePackets) }, "%.0f")
	row("payload rewritten", "", false, func(r *Result) float64 { return float64(r.Rewritten) }, "%.0f")
	row("capture toggles", "", false, func(r *Result) float64 { return float64(r.CaptureToggles) }, "%.0f")
	row("capture errors", "", false, func(r *Result) float64 { return float64(r.CaptureErrors) }, "%.0f")
	row("latency p50", "µs", true, func(r *Result) float64 { return r.LatencyP50 }, "%.1f")
	row("latency p99", "µs", true, func(r *Result) float64 { return r.LatencyP99 }, "%.1f")
	row("latency p99.9", "µs", true, func(r *Result) float64 { return r.LatencyP999 }, "%.1f")
	row("latency max", "µs", true, func(r *Result) float64 { return r.LatencyMax }, "%.1f")
	masked := false
	for _, r := range rs {
		masked = masked || r.BeyondSamples > 0
	}
	if masked {
		row("look-ahead (masked dirs)", "µs", false, func(r *Result) float64 { return r.LookAhead }, "%.0f")
		row("beyond look-ahead p50", "µs", false, func(r *Result) float64 { return r.BeyondP50 }, "%.1f")
		row("beyond look-ahead p99", "µs", false, func(r *Result) float64 { return r.BeyondP99 }, "%.1f")
		row("beyond look-ahead p99.9", "µs", false, func(r *Result) float64 { return r.BeyondP999 }, "%.1f")
		row("beyond look-ahead max", "µs", false, func(r *Result) float64 { return r.BeyondMax }, "%.1f")
		row("arrived before look-ahead", "", false, func(r *Result) float64 { return float64(r.Early) }, "%.0f")
		row("recordings written", "", false, func(r *Result) float64 { return float64(r.Recordings) }, "%.0f")
		row("recording: late packets", "", false, func(r *Result) float64 { return r.RecordingLate }, "%.0f")
	}
	row("generator receive lag p99", "µs", false, func(r *Result) float64 { return r.RxLagP99 }, "%.1f")
	row("generator receive lag max", "µs", false, func(r *Result) float64 { return r.RxLagMax }, "%.1f")
	hasRuntime := false
	for _, r := range rs {
		hasRuntime = hasRuntime || r.Runtime != nil
	}
	if hasRuntime {
		rt := func(f func(*RuntimeStats) float64) func(*Result) float64 {
			return func(r *Result) float64 {
				if r.Runtime == nil {
					return 0
				}
				return f(r.Runtime)
			}
		}
		row("target GC cycles", "", false, rt(func(s *RuntimeStats) float64 { return s.GCCycles }), "%.0f")
		row("target GC pause total", "ms", false, rt(func(s *RuntimeStats) float64 { return s.PauseTotal * 1e3 }), "%.2f")
		row("target GC pause max (bucket)", "µs", false, rt(func(s *RuntimeStats) float64 { return s.PauseMax * 1e6 }), "%.1f")
		row("target GC assist CPU", "ms", false, rt(func(s *RuntimeStats) float64 { return s.AssistCPU * 1e3 }), "%.2f")
		row("target GC CPU (all)", "ms", false, rt(func(s *RuntimeStats) float64 { return s.GCCPU * 1e3 }), "%.1f")
		row("target sched latency p99 (bucket)", "µs", false, rt(func(s *RuntimeStats) float64 { return s.SchedP99 * 1e6 }), "%.1f")
		row("target sched latency max (bucket)", "µs", false, rt(func(s *RuntimeStats) float64 { return s.SchedMax * 1e6 }), "%.1f")
	}
	hogged := false
	for _, r := range rs {
		hogged = hogged || r.HogSamples > 0
	}
	if hogged {
		row("hog threads", "", false, func(r *Result) float64 { return float64(r.HogThreads) }, "%.0f")
		row("hog ran", "s", false, func(r *Result) float64 { return r.HogSeconds }, "%.1f")
		row("during hog: packets lost", "", false, func(r *Result) float64 { return float64(r.HogLost) }, "%.0f")
		row("during hog: latency p50", "µs", true, func(r *Result) float64 { return r.HogP50 }, "%.1f")
		row("during hog: latency p99", "µs", true, func(r *Result) float64 { return r.HogP99 }, "%.1f")
		row("during hog: latency p99.9", "µs", true, func(r *Result) float64 { return r.HogP999 }, "%.1f")
		row("during hog: latency max", "µs", true, func(r *Result) float64 { return r.HogMax }, "%.1f")
		if masked {
			row("during hog: beyond look-ahead p99", "µs", false, func(r *Result) float64 { return r.HogBeyondP99 }, "%.1f")
			row("during hog: beyond look-ahead p99.9", "µs", false, func(r *Result) float64 { return r.HogBeyondP999 }, "%.1f")
			row("during hog: beyond look-ahead max", "µs", false, func(r *Result) float64 { return r.HogBeyondMax }, "%.1f")
		}
	}
	churned := false
	for _, r := range rs {
		churned = churned || r.ChurnCalls > 0
	}
	if churned {
		row("churn calls set up+torn down", "", false, func(r *Result) float64 { return float64(r.ChurnCalls) }, "%.0f")
		row("churn failures", "", false, func(r *Result) float64 { return float64(r.ChurnFailed) }, "%.0f")
		row("churn setup p50", "µs", true, func(r *Result) float64 { return r.ChurnSetupP50 }, "%.0f")
		row("churn setup p99", "µs", true, func(r *Result) float64 { return r.ChurnSetupP99 }, "%.0f")
		row("churn setup max", "µs", true, func(r *Result) float64 { return r.ChurnSetupMax }, "%.0f")
		row("churn teardown p99", "µs", true, func(r *Result) float64 { return r.ChurnTeardownP99 }, "%.0f")
	}
	row("jitter at receiver", "µs", true, func(r *Result) float64 { return r.JitterRx }, "%.1f")
	row("jitter at sender", "µs", true, func(r *Result) float64 { return r.JitterTx }, "%.1f")
	row("jitter added (transit)", "µs", true, func(r *Result) float64 { return r.JitterAdded }, "%.1f")
	row("target CPU per Mpkt", "CPU-s", true, func(r *Result) float64 { return r.TargetCPUPerM }, "%.2f")
	row("target CPU", "cores", true, func(r *Result) float64 { return r.TargetCores }, "%.3f")
	row("generator CPU per Mpkt", "CPU-s", true, func(r *Result) float64 { return r.GenCPUPerM }, "%.2f")
	row("generator CPU", "cores", false, func(r *Result) float64 { return r.GenCores }, "%.3f")
	row("target RSS idle", "MiB", true, func(r *Result) float64 { return mib(r.RSSIdle) }, "%.1f")
	row("target RSS active", "MiB", true, func(r *Result) float64 { return mib(r.RSSActive) }, "%.1f")
	row("memory per idle session", "KiB", true, func(r *Result) float64 { return r.MemPerIdle / 1024 }, "%.1f")
	row("memory per active call", "KiB", true, func(r *Result) float64 { return r.MemPerActive / 1024 }, "%.1f")
	row("UDP rcvbuf errors (system)", "", false, func(r *Result) float64 { return float64(r.UDPRcvbufErrors) }, "%.0f")
	row("load average 1 min, start (system)", "", false, func(r *Result) float64 { return r.LoadAvgStart }, "%.2f")
	row("load average 1 min, end (system)", "", false, func(r *Result) float64 { return r.LoadAvg }, "%.2f")
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Engine != "" {
			fmt.Fprintf(w, "%s/%d media engine: %s\n", r.Target, r.Calls, r.Engine)
		}
		if r.Audio != "" && r.Audio != AudioBurst {
			fmt.Fprintf(w, "%s/%d audio: %s\n", r.Target, r.Calls, r.Audio)
		}
		if r.SRTP != "" {
			fmt.Fprintf(w, "%s/%d SRTP on both legs: %s (%d packets failed to authenticate at the generator)\n", r.Target, r.Calls, r.SRTP, r.SRTPFailed)
		}
		for _, d := range r.Directions {
			what := "latency"
			if d.Masked {
				what = "beyond look-ahead"
			}
			fmt.Fprintf(w, "%s/%d %s %s: p50 %.1f p99 %.1f p99.9 %.1f max %.1f µs (%d samples)\n",
				r.Target, r.Calls, d.Direction, what, d.P50, d.P99, d.P999, d.Max, d.Samples)
		}
		if len(r.RelayDrops) > 0 {
			keys := slices.Sorted(maps.Keys(r.RelayDrops))
			fmt.Fprintf(w, "%s/%d dropped by the relay:", r.Target, r.Calls)
			for _, k := range keys {
				fmt.Fprintf(w, " %s %.0f", k, r.RelayDrops[k])
			}
			fmt.Fprintln(w)
		}
		for i, l := range r.WorstStreams {
			if i == 0 {
				fmt.Fprintf(w, "%s/%d streams that lost most:\n", r.Target, r.Calls)
			}
			fmt.Fprintf(w, "  call %d %s: lost %d, first missing seq %d, %d gaps, last seq %d\n",
				l.Call, l.Direction, l.Lost, l.FirstMissing, l.Gaps, l.LastSeq)
		}
	}
	return nil
}
