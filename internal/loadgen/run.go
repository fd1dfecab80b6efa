package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hushmedia/hush/media/srtp"
)

// Config is one load run.
type Config struct {
	Calls    int           // concurrent calls
	Duration time.Duration // media time per stream, warm-up included
	Warmup   time.Duration // media before the measurement window (latency, CPU) starts
	Sockets  int           // generator sockets per side (default 4)
	Senders  int           // sender goroutines (default 2)
	// SetupConcurrency is how many calls are created at once (default 16).
	SetupConcurrency int
	// IdleSettle is how long sessions sit without media before the idle RSS is read
	// (default 500 ms), so the relay's allocations of set-up have landed.
	IdleSettle time.Duration
	// RSSEvery samples the target's RSS this often in the window (soak); 0 = start and end.
	RSSEvery time.Duration
	// CaptureEvery toggles secure capture on one call after another this often (targets
	// that support it); 0 = never.
	CaptureEvery time.Duration
	// DTMFEvery sends a 100 ms DTMF burst on one call after another this often (customer ->
	// agent); 0 = never.
	DTMFEvery time.Duration
	// Masked says which directions the relay delays by LookAhead (index 0 customer ->
	// agent, 1 agent -> customer): their latency is recorded as latency minus LookAhead,
	// so the histogram's relative error applies to what the relay adds beyond the delay
	// it was asked for, not to the whole look-ahead.
	Masked    [2]bool
	LookAhead time.Duration
	// Audio is what the payload sounds like: AudioBurst (default), AudioQuiet or
	// AudioSpeech (audio.go).
	Audio string
	// Churn sets up and tears down this many further calls during the window, while the
	// Calls stream, ChurnConcurrency at a time (default 4); 0 = none.
	Churn, ChurnConcurrency int
	// SRTP runs every call with SDES-SRTP of this suite on both legs (the target must be an
	// SRTPTarget): the generator encrypts what it sends and decrypts what it receives.
	SRTP srtp.Suite
	// Hog runs a competing CPU load for part of the window (hog.go); nil = none.
	Hog  *Hog
	Bind netip.Addr // generator address; default 127.0.0.1
	Log  io.Writer  // progress lines; nil = none
}

func (c *Config) defaults() error {
	if c.Calls < 1 || c.Duration <= 0 || c.Warmup < 0 || c.Warmup >= c.Duration {
		return fmt.Errorf("%w: need calls >= 1 and 0 <= warmup < duration", ErrConfig)
	}
	if c.LookAhead < 0 || (c.LookAhead > 0 && !c.Masked[0] && !c.Masked[1]) {
		return fmt.Errorf("%w: a look-ahead needs a masked direction, and must not be negative", ErrConfig)
	}
	if h := c.Hog; h != nil && (h.Threads < 1 || h.Bin == "" || h.After < 0 || h.For < 0) {
		return fmt.Errorf("%w: a hog needs threads >= 1, a binary, and no negative times", ErrConfig)
	}
	if c.Sockets <= 0 {
		c.Sockets = 4
	}
	if c.Senders <= 0 {
		c.Senders = 2
	}
	if c.SetupConcurrency <= 0 {
		c.SetupConcurrency = 16
	}
	if c.ChurnConcurrency <= 0 {
		c.ChurnConcurrency = 4
	}
	if c.IdleSettle == 0 {
		c.IdleSettle = 500 * time.Millisecond
	}
	if !c.Bind.IsValid() {
		c.Bind = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return nil
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Run sets up cfg.Calls calls on t, runs media for cfg.Duration, tears them down and
// reports. A failure to set up any call fails the run (calls already made are closed).
func Run(ctx context.Context, t Target, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	audio, err := newPayloadAudio(cfg.Audio)
	if err != nil {
		return nil, err
	}
	res := &Result{Target: t.Name(), Calls: cfg.Calls, Duration: cfg.Duration.Seconds(),
		Window: (cfg.Duration - cfg.Warmup).Seconds(), Audio: cfg.Audio}
	if res.Audio == "" {
		res.Audio = AudioBurst
	}
	cust, agent, err := openSockets(cfg.Bind, cfg.Sockets)
	if err != nil {
		return nil, fmt.Errorf("%w: generator sockets: %v", ErrConfig, err)
	}
	socketsOpen := true
	defer func() {
		if socketsOpen {
			closeAll(cust)
			closeAll(agent)
		}
	}()

	if en, ok := t.(interface{ Engine() string }); ok {
		res.Engine = en.Engine()
	}
	if ct, ok := t.(interface{ Control() string }); ok {
		res.Control = ct.Control()
	}
	pid := t.PID()
	proc := func() ProcSample {
		if pid == 0 {
			return ProcSample{}
		}
		s, err := ReadProc(pid)
		if err != nil {
			cfg.logf("reading target process: %v", err)
		}
		return s
	}
	before := proc()
	dc, _ := t.(DropCounter)
	var drops0 map[string]float64
	if dc != nil {
		drops0, _ = dc.Drops(ctx)
	}
	lc, _ := t.(RecordingLateCounter)
	var late0 float64
	if lc != nil {
		late0, _ = lc.RecordingLate(ctx)
	}

	// Set up.
	setupStart := time.Now()
	calls, keys, err := createCalls(ctx, t, cfg, cust, agent)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			closeCalls(calls, cfg.SetupConcurrency)
		}
	}()
	res.SetupSeconds = time.Since(setupStart).Seconds()
	cfg.logf("%s: %d calls set up in %.2fs", t.Name(), cfg.Calls, res.SetupSeconds)
	select {
	case <-time.After(cfg.IdleSettle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	idle := proc()

	m := &media{
		start: time.Now(), ssrcBase: rand.Uint32() &^ 0xfffff, nStreams: uint32(2 * cfg.Calls),
		cust: cust, agent: agent, periods: int(cfg.Duration / period), senders: cfg.Senders,
		rx: make([]streamRx, 2*cfg.Calls), dest: make([]sockaddr, 2*cfg.Calls), audio: audio,
	}
	for d, on := range cfg.Masked {
		if on {
			m.lookAhead[d] = int64(cfg.LookAhead)
		}
	}
	m.winSeq, m.hogSeq = seqRanges(m.periods, cfg.Warmup, cfg.Hog)
	if cfg.DTMFEvery > 0 {
		m.tones, m.toneEvery = newToneTable(), max(int(cfg.DTMFEvery/period), toneFrames+1)
	}
	for i, c := range calls {
		m.dest[2*i], m.dest[2*i+1] = makeSockaddr(c.CustomerIn), makeSockaddr(c.AgentIn)
	}
	if keys != nil {
		if m.crypto, err = newStreamCrypto(keys); err != nil {
			return nil, err
		}
		res.SRTP = cfg.SRTP.String()
	}
	var rwg sync.WaitGroup
	m.startReceivers(&rwg)
	udp0, _ := ReadUDPCounters()

	stop := make(chan struct{})
	sendDone := make(chan struct{})
	const lead = 20 * time.Millisecond // first packets go out after the receivers run
	go func() {
		defer close(sendDone)
		m.runSenders(lead, stop)
	}()
	var capWG sync.WaitGroup
	if ct, ok := t.(CaptureToggler); ok && cfg.CaptureEvery > 0 {
		capWG.Add(1)
		go func() {
			defer capWG.Done()
			res.CaptureToggles, res.CaptureErrors = toggleCaptures(ctx, ct, calls, cfg.CaptureEvery, sendDone)
		}()
	}

	// Measurement window: from the end of warm-up to the last send.
	aborted := false
	select {
	case <-time.After(lead + cfg.Warmup):
	case <-ctx.Done():
		aborted = true
	}
	res.LoadAvgStart = LoadAvg1()
	rr, _ := t.(RuntimeReader)
	var rt0 *runtimeSample
	if rr != nil {
		rt0, _ = rr.runtimeSample(ctx)
	}
	w0 := window{at: time.Now(), proc: proc(), self: SelfCPU(), pkts: m.received()}
	m.measure.Store(true)
	var hogWG sync.WaitGroup
	if h := cfg.Hog; h != nil && !aborted {
		res.HogThreads = h.Threads
		hogWG.Add(1)
		go func() {
			defer hogWG.Done()
			res.HogSeconds = runHog(h, &m.hogging, sendDone, cfg.logf).Seconds()
		}()
	}
	var churnWG sync.WaitGroup
	if cfg.Churn > 0 && !aborted {
		churnWG.Add(1)
		go func() {
			defer churnWG.Done()
			t0 := time.Now()
			st := churn(ctx, t, cfg.Churn, cfg.ChurnConcurrency, addrOf(cust[0]), addrOf(agent[0]))
			st.fill(res, time.Since(t0))
		}()
	}
	res.RSSSamples = append(res.RSSSamples, RSSSample{At: 0, RSS: w0.proc.RSS})
	var every <-chan time.Time
	if cfg.RSSEvery > 0 && pid != 0 {
		tk := time.NewTicker(cfg.RSSEvery)
		defer tk.Stop()
		every = tk.C
	}
	for !aborted {
		select {
		case <-sendDone:
			aborted = false
		case <-ctx.Done():
			aborted = true
			close(stop)
		case <-every:
			res.RSSSamples = append(res.RSSSamples, RSSSample{At: time.Since(w0.at).Seconds(), RSS: proc().RSS})
			continue
		}
		break
	}
	<-sendDone
	hogWG.Wait()   // ends with the senders
	churnWG.Wait() // normally long done: the churn takes a few seconds of the window
	w1 := window{at: time.Now(), proc: proc(), self: SelfCPU(), pkts: m.received()}
	if rr != nil && rt0 != nil {
		if rt1, err := rr.runtimeSample(ctx); err == nil {
			res.Runtime = runtimeDelta(rt0, rt1)
		}
	}
	res.LoadAvg = LoadAvg1()
	m.measure.Store(false)
	res.RSSSamples = append(res.RSSSamples, RSSSample{At: w1.at.Sub(w0.at).Seconds(), RSS: w1.proc.RSS})
	capWG.Wait()

	// Drain: wait for packets still in flight, bounded.
	sent := m.sent.Load()
	for range 100 {
		if m.received() >= sent {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	udp1, _ := ReadUDPCounters()
	closeAll(cust)
	closeAll(agent)
	socketsOpen = false
	rwg.Wait()

	res.fill(m, cfg, before, idle, w0, w1, sent)
	if dc != nil {
		if drops1, err := dc.Drops(ctx); err == nil && drops1 != nil {
			for k, v := range drops1 {
				if d := v - drops0[k]; d > 0 {
					if res.RelayDrops == nil {
						res.RelayDrops = map[string]float64{}
					}
					res.RelayDrops[k] = d
				}
			}
		}
	}
	if lc != nil && !aborted {
		// Recordings end with their calls: close them, then read what they counted.
		closeCalls(calls, cfg.SetupConcurrency)
		closed = true
		if late1, err := lc.RecordingLate(ctx); err == nil {
			res.RecordingLate = late1 - late0
		}
	}
	res.UDPRcvbufErrors = udp1.RcvbufErrors - udp0.RcvbufErrors
	res.SendErrors = m.sendErrs.Load()
	if aborted {
		return res, ctx.Err()
	}
	if m.setupErr.Load() {
		return res, fmt.Errorf("%w: a generator socket failed; figures are not valid", ErrConfig)
	}
	return res, nil
}

type window struct {
	at   time.Time
	proc ProcSample
	self time.Duration
	pkts uint64
}

func createCalls(ctx context.Context, t Target, cfg Config, cust, agent []*net.UDPConn) ([]Call, []CallKeys, error) {
	calls := make([]Call, cfg.Calls)
	errs := make([]error, cfg.Calls)
	var keys []CallKeys
	st, _ := t.(SRTPTarget)
	if cfg.SRTP != srtp.SuiteNone {
		if st == nil {
			return nil, nil, fmt.Errorf("%w: %s does not set calls up with SRTP", ErrConfig, t.Name())
		}
		keys = make([]CallKeys, cfg.Calls)
		for i := range keys {
			for _, k := range []*srtp.Key{&keys[i].Customer, &keys[i].Agent} {
				var err error
				if *k, err = srtp.GenerateKey(cfg.SRTP); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	sem := make(chan struct{}, cfg.SetupConcurrency)
	var wg sync.WaitGroup
	for i := range calls {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			k := i % len(cust)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if keys != nil {
				calls[i], errs[i] = st.CreateSRTPCall(cctx, i, addrOf(cust[k]), addrOf(agent[k]), &keys[i])
			} else {
				calls[i], errs[i] = t.CreateCall(cctx, i, addrOf(cust[k]), addrOf(agent[k]))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var made []Call
		for _, c := range calls {
			if c.Close != nil {
				made = append(made, c)
			}
		}
		closeCalls(made, cfg.SetupConcurrency)
		return nil, nil, fmt.Errorf("setting up %d calls on %s: %w", cfg.Calls, t.Name(), firstErr(errs))
	}
	return calls, keys, nil
}

// seqRanges are the sequence numbers a stream of periods packets sends in the
// measurement window (from win on) and while hog is to run ([hog[0], hog[1]); empty
// without one). Packet i is scheduled i periods after the first; the window opens
// warmup after it and the hog After into the window.
func seqRanges(periods int, warmup time.Duration, hog *Hog) (win uint32, hogs [2]uint32) {
	at := func(d time.Duration) uint32 { return uint32(min((d+period-1)/period, time.Duration(periods))) }
	win = at(warmup)
	if hog != nil {
		hogs[0], hogs[1] = at(warmup+hog.After), uint32(periods)
		if hog.For > 0 {
			hogs[1] = at(warmup + hog.After + hog.For)
		}
	}
	return win, hogs
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func closeCalls(calls []Call, conc int) {
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for _, c := range calls {
		if c.Close == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Close(ctx)
		}()
	}
	wg.Wait()
}

// toggleCaptures starts secure capture on call i and stops it on call i-1, every interval,
// round robin, until done.
func toggleCaptures(ctx context.Context, ct CaptureToggler, calls []Call, every time.Duration, done <-chan struct{}) (toggles, errs uint64) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	prev := -1
	for i := 0; ; i = (i + 1) % len(calls) {
		select {
		case <-done:
			if prev >= 0 {
				_ = ct.SetCapture(ctx, calls[prev], false)
			}
			return toggles, errs
		case <-ctx.Done():
			return toggles, errs
		case <-tk.C:
		}
		if prev >= 0 {
			toggles++
			if ct.SetCapture(ctx, calls[prev], false) != nil {
				errs++
			}
		}
		toggles++
		if ct.SetCapture(ctx, calls[i], true) != nil {
			errs++
		}
		prev = i
	}
}
