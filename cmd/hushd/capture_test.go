package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// testCard is the Luhn-valid test card number the customer keys.
const testCard = "4111111111111111"

// noise is what may hold digit runs by chance and can never carry keyed digits: RFC 3339
// times, ip:port addresses, hashes and ids (long hex with a letter), and counters of
// packets and bytes.
var noise = regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)?` +
	`|\d+\.\d+\.\d+\.\d+:\d+|\[[0-9a-f:]+\]:\d+|[0-9a-f]{16,}` +
	`|"(rtp|rtcp)\w*": ?"?\d+"?|"packetsDropped": ?"?\d+"?`)

// cardLeaks reports the card number, or runs of n or more of its digits, found in text
// once chance digit runs (noise) are taken out. The whole number is looked for
// in the raw text too.
func cardLeaks(text string, n int) []string {
	var hits []string
	if strings.Contains(text, testCard) {
		hits = append(hits, testCard)
	}
	clean := noise.ReplaceAllStringFunc(text, func(m string) string {
		// A run of digits alone is not a hash or id: the card is one.
		if strings.Trim(m, "0123456789") == "" {
			return m
		}
		return "_"
	})
	for i := 0; i+n <= len(testCard); i++ {
		if run := testCard[i : i+n]; strings.Contains(clean, run) && !strings.Contains(strings.Join(hits, ","), run) {
			hits = append(hits, run)
		}
	}
	return hits
}

// collector reads a CollectDigits stream on its own goroutine.
type collector struct {
	batches chan *hushv1.CapturedDigits
	end     chan error
}

func collect(ctx context.Context, t *testing.T, pay hushv1.PaymentServiceClient, id, req string) *collector {
	t.Helper()
	st, err := pay.CollectDigits(ctx, &hushv1.CollectDigitsRequest{SessionId: id, RequestId: req})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{batches: make(chan *hushv1.CapturedDigits, 64), end: make(chan error, 1)}
	go func() {
		for range 1000 {
			m, err := st.Recv()
			if err != nil {
				// end first, then close: next sees every batch before the end.
				c.end <- err
				close(c.batches)
				return
			}
			c.batches <- m
		}
	}()
	return c
}

// next returns the next batch, or nil when the stream ended (its error in end).
func (c *collector) next(t *testing.T) *hushv1.CapturedDigits {
	t.Helper()
	select {
	case m, ok := <-c.batches:
		if !ok {
			return nil // the stream ended; its error is in end
		}
		return m
	case <-time.After(3 * wait):
		t.Fatal("no digits delivered")
	}
	return nil
}

// digitsUntil reads batches until n digits came, or a complete batch.
func (c *collector) digitsUntil(t *testing.T, n int) (digits string, complete bool) {
	t.Helper()
	for range 100 {
		m := c.next(t)
		if m == nil {
			t.Fatalf("collect stream ended after %d digits: %v", len(digits), <-c.end)
		}
		digits += string(m.Digits)
		if m.Complete {
			return digits, true
		}
		if len(digits) >= n {
			return digits, false
		}
	}
	t.Fatal("too many batches")
	return "", false
}

// events reads a watch stream until the session's Ended event.
func events(w *watcher) []*hushv1.SessionEvent {
	var out []*hushv1.SessionEvent
	for range 10000 {
		ev := w.next()
		out = append(out, ev)
		if ev.GetEnded() != nil {
			return out
		}
	}
	w.t.Fatal("no ended event")
	return nil
}

// checkProgress checks what an agent sees of the capture: one '*' per digit, counting up
// to want, a valid Luhn result at the end of a complete capture and none before (nor for
// a capture stopped early), capture on then off for why, and no digit in any event.
func checkProgress(t *testing.T, name string, evs []*hushv1.SessionEvent, want int, complete bool, why string) {
	t.Helper()
	last, on, off := 0, false, ""
	var final *hushv1.DigitProgress
	for _, ev := range evs {
		js, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if hits := cardLeaks(string(js), 4); len(hits) > 0 {
			t.Errorf("%s: event %d shows card digits %q", name, ev.Sequence, hits)
		}
		if p := ev.GetDigits(); p != nil {
			if p.Masked != strings.Repeat("*", int(p.Count)) || int(p.Count) != last+1 {
				t.Errorf("%s: progress %q count %d after %d", name, p.Masked, p.Count, last)
			}
			if final != nil && final.Luhn != hushv1.LuhnResult_LUHN_RESULT_UNSPECIFIED {
				t.Errorf("%s: Luhn verdict shown after %d digits", name, final.Count)
			}
			last, final = int(p.Count), p
		}
		if c := ev.GetSecureCapture(); c != nil {
			switch c.State {
			case hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON:
				on = true
			case hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF:
				off = c.Reason
			}
		}
	}
	// See TestSecureCaptureLuhnWithCollector.
	luhn := hushv1.LuhnResult_LUHN_RESULT_UNSPECIFIED
	if complete {
		luhn = hushv1.LuhnResult_LUHN_RESULT_VALID
	}
	if final == nil || last != want || final.Masked != strings.Repeat("*", want) || final.Luhn != luhn {
		t.Errorf("%s: final progress %v, want %d '*' and Luhn %v", name, final, want, luhn)
	} else if final.Complete != complete {
		t.Errorf("%s: progress complete=%v, want %v", name, final.Complete, complete)
	}
	if !on || off != why {
		t.Errorf("%s: capture on=%v, off reason %q, want %q", name, on, off, why)
	}
}

// TestSecureCaptureEndToEnd: two sessions with masking off by policy on one hushd
// with recording on. Secure capture starts over gRPC; a payment client collects; the
// customer keys a test card number: in-band in one session (60-80 ms tones, 60 ms gaps,
// -10 dBm0; max_digits 16 ends the capture), as RFC 4733 events in the other (stopped by
// StopSecureCapture). The payment client gets the digits once, in order, then complete;
// the agent hears no digit (multimon-ng); the watch stream shows only '*'s; a second
// collector is refused; after the capture a key the customer presses is still masked.
// Then no trace of the card is in hushd's log, events, metrics, audit log or
// recordings (which multimon-ng also finds no digit in).
func TestSecureCaptureEndToEnd(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	dir := t.TempDir()
	recDir, auditFile := filepath.Join(dir, "recordings"), filepath.Join(dir, "audit.jsonl")
	keyFile := filepath.Join(t.TempDir(), "recording.kek")
	d := startDaemon(t, "--recording-enabled=true", "--recording-dir", recDir, "--audit-file", auditFile, "--log-level", "debug",
		"--recording-key-file", keyFile)
	pay := hushv1.NewPaymentServiceClient(d.conn)
	r := rand.New(rand.NewPCG(4111, 1))

	// Lay out the key presses: 60-80 ms each, 60 ms apart, after 300 ms of speech.
	type keyPress struct{ at, dur int }
	var keys []keyPress
	pos := 300 * audioPerMs
	for i := range testCard {
		dur := (60 + (i*7)%21) * audioPerMs
		keys = append(keys, keyPress{at: pos, dur: dur})
		pos += dur + 60*audioPerMs
	}
	n := (pos + 400*audioPerMs) / audioFrame * audioFrame

	// In-band: the tones in the audio.
	var bursts []keyBurst
	for i, k := range keys {
		bursts = append(bursts, keyBurst{key: testCard[i], at: k.at, dur: k.dur, dbm0: -10})
	}
	inband := &maskCall{name: "in-band", n: n,
		cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0"),
		fromCust: packetizeG711(audioPCMU, 0xca4d0001, 1000, 90000, speechWithBursts(promptSpeech(t, n, 30*audioRate), bursts, r))}

	// RFC 4733: silence where the keys are (the phone suppresses in-band DTMF), events on
	// packet boundaries.
	const tePT = 101
	silent := make([]keyBurst, len(bursts))
	for i, b := range bursts {
		silent[i] = keyBurst{key: b.key, at: b.at / audioFrame * audioFrame, dur: b.dur, dbm0: math.Inf(-1)}
	}
	pcm := speechWithBursts(promptSpeech(t, n, 40*audioRate), silent, r)
	ev := newPhoneStream(audioPCMU, 0xca4d0002, 2000, 70000)
	ev.tePT = tePT
	for i := 0; i < n/audioFrame; i++ {
		ev.tick()
		ev.audioAt(pcm, i*audioFrame)
		for j, b := range silent {
			ticks := rfc4733Press(testCard[j], b.dur)
			if k := i - b.at/audioFrame; k >= 0 && k < len(ticks) {
				for m, te := range ticks[k] {
					ev.event(b.at, te, k == 0 && m == 0)
				}
			}
		}
	}
	events4733 := &maskCall{name: "rfc4733", n: n,
		cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0"), fromCust: ev}

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n/audioFrame)*audioPtime+6*wait)
	defer cancel()
	watchers := map[*maskCall]*watcher{}
	collectors := map[*maskCall]*collector{}
	for i, c := range []*maskCall{inband, events4733} {
		leg := func(e *endpoint) *hushv1.Leg {
			return &hushv1.Leg{RemoteAddr: e.addr().String(), TelephoneEventPt: tePT}
		}
		// Policy off toward the agent: capture alone must mask.
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
			CallId: "pay-" + c.name, AgentId: "agent-7", Customer: leg(c.cust), Agent: leg(c.agent),
			Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}},
		})
		if err != nil {
			t.Fatal(err)
		}
		c.s = s
		if m := s.GetPolicy().GetCustomerToAgent().GetMode(); m != hushv1.MaskMode_MASK_MODE_OFF {
			t.Fatalf("policy toward the agent is %v, want off as asked", m)
		}
		watchers[c] = d.watch(s.SessionId)
		// Subscribed once the snapshot came: every later change is an event.
		if watchers[c].next().GetSnapshot() == nil {
			t.Fatal("the first event is not the snapshot")
		}
		max := uint32(16)
		if i == 1 {
			max = 0 // stopped by request
		}
		got, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap-" + c.name, MaxDigits: max})
		if err != nil || got.SecureCaptureState != hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_ON {
			t.Fatalf("start capture: %v %v", got.GetSecureCaptureState(), err)
		}
		collectors[c] = collect(ctx, t, pay, s.SessionId, "collect-"+c.name)
	}

	played := make(chan struct{})
	go func() { playCalls([]*maskCall{inband, events4733}); close(played) }()

	// In-band, max_digits 16: once the first digits are out, the collector is attached;
	// a second one is refused.
	col := collectors[inband]
	first, done := col.digitsUntil(t, 1)
	if done {
		t.Fatal("capture complete after the first digit")
	}
	second := collect(ctx, t, pay, inband.s.SessionId, "collect-again")
	if m := second.next(t); m != nil {
		t.Fatalf("a second collector got a batch while one is active")
	}
	if err := <-second.end; status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second collector: %v, want FAILED_PRECONDITION", err)
	}
	rest, done := col.digitsUntil(t, 16)
	if !done {
		if more, d2 := col.digitsUntil(t, 1); len(more) > 0 || !d2 {
			t.Fatalf("after 16 digits: %d more, complete=%v", len(more), d2)
		}
	}
	if got := first + rest; got != testCard {
		t.Errorf("in-band: payment client got %d digits, not the card keyed (once, in order)", len(got))
	}
	if m := col.next(t); m != nil || !errors.Is(<-col.end, io.EOF) {
		t.Errorf("in-band: collect stream did not end after complete")
	}

	// RFC 4733, no digit limit: 16 digits, then StopSecureCapture completes the stream.
	col = collectors[events4733]
	got, done := col.digitsUntil(t, 16)
	if done || got != testCard {
		t.Errorf("rfc4733: payment client got %d digits (complete=%v) before stop, want the card", len(got), done)
	}
	<-played
	for _, c := range []*maskCall{inband, events4733} {
		for _, err := range c.errs {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	stopped, err := d.session.StopSecureCapture(d.ctx(), &hushv1.StopSecureCaptureRequest{SessionId: events4733.s.SessionId, RequestId: "stop-1"})
	if err != nil || stopped.SecureCaptureState != hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF || stopped.DigitProgress.GetCount() != 16 {
		t.Fatalf("stop capture: %v %v", stopped, err)
	}
	if more, done := col.digitsUntil(t, 1); more != "" || !done {
		t.Errorf("rfc4733: after stop, %d more digits, complete=%v", len(more), done)
	}

	// What the agent heard: every audio packet, no telephone-event, no digit.
	heard := map[string]int{}
	for _, c := range []*maskCall{inband, events4733} {
		var audio []rxPacket
		for _, a := range c.atAgent {
			if h := rtpHeaderOf(t, a.pkt); h.PayloadType == tePT {
				t.Errorf("%s: the agent received a telephone-event", c.name)
			} else {
				audio = append(audio, a)
			}
		}
		sameRTPStream(t, c.name, audio, c.fromCust.audio, d.drops)
		in := decodeByTimestamp(c.fromCust.audio, c.fromCust.ts0, c.n)
		if c == inband {
			if got := multimonDigits(t, dir, c.name+"_in", in); got != testCard {
				t.Errorf("multimon-ng finds %d digits in the in-band input, want 16", len(got))
			}
		}
		got := multimonDigits(t, dir, c.name+"_agent", decodeByTimestamp(datagrams(audio), c.fromCust.ts0, c.n))
		if heard[c.name] = len(got); got != "" {
			// See TestSecureCaptureLastKeyMasked.
			t.Errorf("%s: multimon-ng finds %d digits in what the agent heard", c.name, len(got))
		}
	}

	// After StopSecureCapture the agent's ear stays masked for the rest of the session
	// (see TestCaptureAbandonedMidEntry): a key pressed right after does not reach the
	// agent, and the stream still arrives packet for packet.
	st := events4733.fromCust
	st.ticks, st.audio = nil, nil
	after := speechWithBursts(make([]float64, 20*audioFrame), []keyBurst{{key: '5', at: 5 * audioFrame, dur: 100 * audioPerMs, dbm0: -10}}, r)
	st.ts0 += uint32(n)
	for i := 0; i < 20; i++ {
		st.tick()
		st.audioAt(after, i*audioFrame)
	}
	var heardAfter []rxPacket
	for _, p := range st.audio {
		events4733.cust.send(events4733.s.Customer.LocalAddr, p)
		got, _ := events4733.agent.recv()
		heardAfter = append(heardAfter, rxPacket{pkt: got})
	}
	sameRTPStream(t, "after stop", heardAfter, st.audio, d.drops)
	if got := multimonDigits(t, dir, "after_stop_agent", decodeByTimestamp(datagrams(heardAfter), st.ts0, 20*audioFrame)); got != "" {
		t.Errorf("a key pressed right after capture stopped reached the agent (%d digits)", len(got))
	}

	// End the calls; read every event.
	var evs [2][]*hushv1.SessionEvent
	for i, c := range []*maskCall{inband, events4733} {
		if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: c.s.SessionId, RequestId: "end-" + c.name}); err != nil {
			t.Fatal(err)
		}
		evs[i] = events(watchers[c])
	}
	checkProgress(t, "in-band", evs[0], 16, true, "max_digits")
	checkProgress(t, "rfc4733", evs[1], 16, false, "request")

	// No trace of the card anywhere hushd writes.
	leaks := func(where, text string) {
		if hits := cardLeaks(text, 6); len(hits) > 0 {
			t.Errorf("%s holds card digits %q", where, hits)
		}
	}
	leaks("hushd's log", d.log.String())
	resp, err := http.Get("http://" + d.ready.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), testCard) {
		t.Error("/metrics holds the card number")
	}
	for _, line := range strings.Split(string(body), "\n") {
		// Runtime gauges (go_*, process_*) are hush's own figures only by chance.
		if strings.HasPrefix(line, "hush_") {
			leaks("/metrics", line)
		}
	}
	audit, err := os.ReadFile(auditFile)
	if err != nil || len(audit) == 0 {
		t.Fatalf("audit log: %v", err)
	}
	leaks("the audit log", string(audit))
	var recs []string // every file hushd wrote for recordings: WAVs, sidecars, the index
	if err := filepath.WalkDir(recDir, func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			recs = append(recs, path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wavs := 0
	for _, f := range recs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Recordings are sealed at rest: what they hold is judged decrypted.
		b, f = unsealed(t, f, b, keyFile)
		if filepath.Ext(f) != ".wav" {
			leaks(f, string(b))
			continue
		}
		wavs++
		chans, err := readPCMWAV(f)
		if err != nil || len(chans) != 2 {
			t.Fatalf("recording %s: %d channels, %v", f, len(chans), err)
		}
		for ch, pcm := range chans {
			if got := multimonDigits(t, dir, filepath.Base(f)+[]string{"_customer", "_agent"}[ch], pcm); got != "" {
				t.Errorf("recording %s: multimon-ng finds %d digits", filepath.Base(f), len(got))
			}
		}
		if strings.Contains(string(b), testCard) {
			t.Errorf("recording %s holds the card number", f)
		}
	}
	if wavs != 2 {
		t.Errorf("%d recordings, want 2", wavs)
	}
	t.Logf("card keyed in-band (16 tones 60-80 ms, -10 dBm0) and as RFC 4733: payment client got 16/16 once each; "+
		"multimon-ng hears %d (in-band) and %d (RFC 4733) digits at the agent; %d and %d events; log %d bytes, audit log %d bytes, %d recordings",
		heard[inband.name], heard[events4733.name], len(evs[0]), len(evs[1]), len(d.log.String()), len(audit), wavs)
}

// TestSecureCaptureLuhnWithCollector: the Luhn result an agent sees must be that of the
// digits keyed, also when the payment client has already collected (and hush zeroed) the
// first ones, which is the normal flow. The customer keys 11 digits as RFC 4733 events, the
// payment client collects them, then the customer keys the other 5.
//
// It fails while capture.info (internal/session/capture.go) computes the Luhn check over
// s.cap.digits, which collect() clears as it delivers: the check then runs over zero bytes
// and reports LUHN_RESULT_INVALID for a valid card number.
func TestSecureCaptureLuhnWithCollector(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	leg := func(e *endpoint) *hushv1.Leg {
		return &hushv1.Leg{RemoteAddr: e.addr().String(), TelephoneEventPt: 101}
	}
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "luhn", Customer: leg(cust), Agent: leg(agent)})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	w.next()
	if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap", MaxDigits: 16}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	col := collect(ctx, t, hushv1.NewPaymentServiceClient(d.conn), s.SessionId, "collect")
	// Events only (withheld at once, never queued): no pacing needed.
	st := newPhoneStream(audioPCMU, 0x1eaf, 1, 0)
	key := func(i int) {
		for _, tk := range rfc4733Press(testCard[i], 480) {
			for _, te := range tk {
				st.event(i*2*480, te, false)
			}
		}
		for _, p := range st.all() {
			cust.send(s.Customer.LocalAddr, p)
		}
		st.ticks = nil
	}
	for i := range 11 {
		key(i)
	}
	got, _ := col.digitsUntil(t, 11)
	for i := 11; i < len(testCard); i++ {
		key(i)
	}
	rest, done := col.digitsUntil(t, 5)
	if got+rest != testCard || !done {
		t.Fatalf("payment client got %d digits, complete=%v", len(got+rest), done)
	}
	// The verdict comes once, with the last digit; no prefix gets one (a few bits of the
	// card number each).
	ev := w.until(func(e *hushv1.SessionEvent) bool {
		if p := e.GetDigits(); p != nil && p.Count < 16 && p.Luhn != hushv1.LuhnResult_LUHN_RESULT_UNSPECIFIED {
			t.Errorf("Luhn verdict %v shown after %d digits", p.Luhn, p.Count)
		}
		return e.GetDigits().GetCount() == 16
	})
	if l := ev.GetDigits().Luhn; l != hushv1.LuhnResult_LUHN_RESULT_VALID {
		t.Errorf("Luhn check of a valid card number keyed while a payment client collects: %v, want VALID", l)
	}
}

// TestSecureCaptureLastKeyMasked: when max_digits ends the capture, the key that completed
// it is still sounding (the detector reports a digit about 30-40 ms into its tone); the
// rest of that tone must not reach the agent. The customer keys one 100 ms key in-band
// with max_digits 1.
//
// It fails while stopCaptureLocked (internal/session/capture.go, called from onDigit when
// the capture is full) sets the customer->agent direction back to the policy's masking at
// once: media/relay then flushes its queue and forwards the rest of the tone untouched,
// so the agent hears the card's last digit (the Luhn check digit).
func TestSecureCaptureLastKeyMasked(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	d := startDaemon(t)
	c := &maskCall{name: "last-key", cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0"),
		n: 40 * audioFrame}
	b := keyBurst{key: '4', at: 10*audioFrame + 37, dur: 100 * audioPerMs, dbm0: -10}
	c.fromCust = packetizeG711(audioPCMU, 0x1a57, 7, 0, speechWithBursts(make([]float64, c.n), []keyBurst{b}, rand.New(rand.NewPCG(1, 2))))
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "last-key",
		Customer: &hushv1.Leg{RemoteAddr: c.cust.addr().String()}, Agent: &hushv1.Leg{RemoteAddr: c.agent.addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap", MaxDigits: 1}); err != nil {
		t.Fatal(err)
	}
	playCalls([]*maskCall{c})
	for _, err := range c.errs {
		t.Fatal(err)
	}
	in := octetsByTimestamp(t, c.fromCust.audio, c.fromCust.ts0, c.n)
	out := octetsByTimestamp(t, datagrams(c.atAgent), c.fromCust.ts0, c.n)
	same := 0
	for j := b.at; j < b.at+b.dur; j++ {
		if in[j] == out[j] {
			same++
		}
	}
	heard := multimonDigits(t, t.TempDir(), "agent", decodeByTimestamp(datagrams(c.atAgent), c.fromCust.ts0, c.n))
	if heard != "" || same > b.dur/20 {
		t.Errorf("the key that completed the capture reached the agent: %.1f of %d ms of its tone forwarded untouched, multimon-ng hears %d digits",
			float64(same)/audioPerMs, b.dur/audioPerMs, len(heard))
	}
}

// TestCardLeaks: taking out chance digit runs never hides the card's digits.
func TestCardLeaks(t *testing.T) {
	cases := []struct {
		text string
		n    int
		want int
	}{
		{`{"masked":"****","count":4}`, 4, 0},
		{`time=2026-11-26T21:11:11.111111Z addr=127.0.0.1:41111 id=0a1111111111111111bb`, 4, 0},
		{`"rtpBytesReceived":"111111","packetsDropped":"4111"`, 4, 0},
		{`digits=411111`, 6, 1},
		{`digits=4111 1111`, 4, 2},
		{`{"reason":"4111111111111111"}`, 6, 1}, // the runs inside it are not counted again
		{`0a1111111111111111bb`, 6, 0},
		{`id=1111111111111111111`, 6, 1}, // digits alone are not taken for hex
		{`0a1111111111111111bb 4111 111111 1111`, 6, 1},
	}
	for _, c := range cases {
		if got := cardLeaks(c.text, c.n); len(got) != c.want {
			t.Errorf("cardLeaks(%q, %d) = %q, want %d hits", c.text, c.n, got, c.want)
		}
	}
}

// TestCaptureAbandonedMidEntry is the reported attack: with masking off toward the agent,
// the agent stops secure capture 1.2 s into the customer's keying (after the 4th digit)
// and listens to the rest of the card number. The customer keys all 16 digits in-band
// (100 ms tones, 200 ms apart, -10 dBm0). multimon-ng finds the card in what the customer
// sent and no digit in what the agent received; the payment client got the digits keyed
// before the stop and then the end of the stream; the watch stream shows the abandoned
// capture (reason, who, how many digits, never a digit), and
// hush_secure_capture_abandoned_total{reason="request"} counts it.
func TestCaptureAbandonedMidEntry(t *testing.T) {
	t.Parallel()
	needDebianTool(t, "multimon-ng", "multimon-ng")
	d := startDaemon(t)
	r := rand.New(rand.NewPCG(161, 1))
	var bursts []keyBurst
	at := 300 * audioPerMs
	for i := range testCard {
		bursts = append(bursts, keyBurst{key: testCard[i], at: at + (i*29)%audioFrame, dur: 100 * audioPerMs, dbm0: -10})
		at += 300 * audioPerMs
	}
	n := (at + 400*audioPerMs) / audioFrame * audioFrame
	hiss := make([]float64, n)
	for i := range hiss {
		hiss[i] = 30 * r.NormFloat64()
	}
	c := &maskCall{name: "abandon", n: n, cust: newEndpoint(t, "udp4", "127.0.0.1:0"), agent: newEndpoint(t, "udp4", "127.0.0.1:0"),
		fromCust: packetizeG711(audioPCMU, 0xab41d0, 300, 4000, speechWithBursts(hiss, bursts, r))}
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "abandon", AgentId: "agent-7",
		Customer: &hushv1.Leg{RemoteAddr: c.cust.addr().String()}, Agent: &hushv1.Leg{RemoteAddr: c.agent.addr().String()},
		Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}}})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	w := d.watch(s.SessionId)
	if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap", MaxDigits: 16}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n/audioFrame)*audioPtime+3*wait)
	defer cancel()
	col := collect(ctx, t, hushv1.NewPaymentServiceClient(d.conn), s.SessionId, "collect")
	played := make(chan struct{})
	go func() { playCalls([]*maskCall{c}); close(played) }()

	got, done := col.digitsUntil(t, 4)
	stopped, err := d.session.StopSecureCapture(d.ctx(), &hushv1.StopSecureCaptureRequest{SessionId: s.SessionId, RequestId: "stop-mid"})
	if err != nil || done {
		t.Fatalf("stop: %v (complete before the stop: %v)", err, done)
	}
	count := int(stopped.GetDigitProgress().GetCount())
	rest, done := col.digitsUntil(t, 16)
	if got += rest; !done || got != testCard[:count] || count < 4 || count >= 16 {
		t.Errorf("payment client got %d digits (complete=%v), want the %d keyed before the stop", len(got), done, count)
	}
	<-played
	for _, err := range c.errs {
		t.Fatal(err)
	}
	sameRTPStream(t, "agent", c.atAgent, c.fromCust.audio, d.drops)
	dir := t.TempDir()
	if in := multimonDigits(t, dir, "customer", decodeByTimestamp(c.fromCust.audio, c.fromCust.ts0, n)); in != testCard {
		t.Fatalf("multimon-ng finds %d digits in what the customer sent, want the card's 16", len(in))
	}
	heard := multimonDigits(t, dir, "agent", decodeByTimestamp(datagrams(c.atAgent), c.fromCust.ts0, n))
	if heard != "" {
		t.Errorf("the agent stopped capture after %d digits and heard %d more of the card number", count, len(heard))
	}

	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetCaptureAbandoned() != nil })
	if a := ev.GetCaptureAbandoned(); a.Reason != "request" || int(a.Count) != count || ev.RequestId != "stop-mid" || ev.Actor == "" {
		t.Errorf("abandoned event %v (actor %q, request %q), want reason request, %d digits", a, ev.Actor, ev.RequestId, count)
	}
	js, _ := protojson.Marshal(ev)
	if hits := cardLeaks(string(js), 4); len(hits) > 0 {
		t.Errorf("the abandoned event shows card digits %q", hits)
	}
	if v := d.metric(`hush_secure_capture_abandoned_total{reason="request"}`); v != 1 {
		t.Errorf("hush_secure_capture_abandoned_total{reason=\"request\"} = %v, want 1", v)
	}
	if v := d.metric(`hush_secure_capture_abandoned_total{reason="inter_digit_timeout"}`); v != 0 {
		t.Errorf("hush_secure_capture_abandoned_total{reason=\"inter_digit_timeout\"} = %v, want 0 (exported before any)", v)
	}
	t.Logf("stopped after %d digits; the rest keyed over %v; multimon-ng hears %d digits at the agent",
		count, time.Duration(16-count)*300*time.Millisecond, len(heard))
}

// TestLateCollectorOneDigitPerMessage: a payment client that attaches after the customer
// keyed the whole card gets the pending digits one per message, never the card in one
// message (issue 16.6: no marshalled message, in hushd or in gRPC, holds more than one
// digit), in order, the last one complete.
func TestLateCollectorOneDigitPerMessage(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	leg := func(e *endpoint) *hushv1.Leg {
		return &hushv1.Leg{RemoteAddr: e.addr().String(), TelephoneEventPt: 101}
	}
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "late", Customer: leg(cust), Agent: leg(agent)})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	w.next()
	if _, err := d.session.StartSecureCapture(d.ctx(), &hushv1.StartSecureCaptureRequest{SessionId: s.SessionId, RequestId: "cap",
		MaxDigits: uint32(len(testCard))}); err != nil {
		t.Fatal(err)
	}
	st := newPhoneStream(audioPCMU, 0x1a7e, 1, 0)
	for i := range len(testCard) {
		for _, tk := range rfc4733Press(testCard[i], 480) {
			for _, te := range tk {
				st.event(i*2*480, te, false)
			}
		}
	}
	for _, p := range st.all() {
		cust.send(s.Customer.LocalAddr, p)
	}
	// max_digits ends the capture: every digit is pending in hushd when the client comes.
	w.until(func(e *hushv1.SessionEvent) bool {
		return e.GetSecureCapture().GetState() == hushv1.SecureCaptureState_SECURE_CAPTURE_STATE_OFF
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	col := collect(ctx, t, hushv1.NewPaymentServiceClient(d.conn), s.SessionId, "late")
	var got []byte
	for range len(testCard) {
		m := col.next(t)
		if m == nil {
			t.Fatalf("collect stream ended after %d digits: %v", len(got), <-col.end)
		}
		if len(m.Digits) != 1 {
			t.Fatalf("message %d carries %d digits, want 1", len(got)+1, len(m.Digits))
		}
		got = append(got, m.Digits...)
		if m.Complete != (len(got) == len(testCard)) {
			t.Fatalf("message %d: complete=%v", len(got), m.Complete)
		}
	}
	if string(got) != testCard {
		t.Fatalf("payment client got %d digits, not the %d keyed in order", len(got), len(testCard))
	}
}
