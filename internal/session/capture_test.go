package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// pump hands queued digits to their sessions, as Registry.Run does.
func (h *harness) pump(t *testing.T) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		select {
		case d := <-h.reg.digits:
			d.s.onDigit(d.d, d.b)
		default:
			return
		}
	}
	t.Fatal("digit queue did not drain")
}

func collectAll(t *testing.T, h *harness, id string) (<-chan DigitBatch, <-chan error) {
	t.Helper()
	out := make(chan DigitBatch, 100)
	errc := make(chan error, 1)
	go func() { errc <- h.reg.Collect(context.Background(), id, out); close(out) }()
	return out, errc
}

func nextBatch(t *testing.T, ch <-chan DigitBatch) DigitBatch {
	t.Helper()
	select {
	case b, ok := <-ch:
		if !ok {
			t.Fatal("collect ended")
		}
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no batch")
	}
	return DigitBatch{}
}

const testPAN = "4111111111111111" // a Luhn-valid test card number

func TestSecureCaptureDeliversOnceAndMasksProgress(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	m := h.mediaOf(t, 0)
	ch, _, _ := h.reg.Watch(context.Background(), in.ID)
	next(t, ch)

	// Digits keyed before capture are not captured.
	m.key("99")
	h.pump(t)

	info, err := h.reg.StartCapture(in.ID, CaptureOptions{RequestID: "c1", Caller: "test", Digest: rq("c1").Digest, Actor: "agent-7", MaxDigits: 16})
	if err != nil || !info.Capture.On {
		t.Fatalf("start: %+v %v", info.Capture, err)
	}
	if p, capt := m.masking(CustomerToAgent); !capt || p.Mode != MaskTone {
		t.Fatalf("capture did not mask customer->agent: %+v %v", p, capt)
	}
	if e := next(t, ch); e.Kind != EventCapture || !e.Capture.On || e.Actor != "agent-7" {
		t.Fatalf("capture event %+v", e)
	}
	// Repeating the request changes nothing.
	if _, err := h.reg.StartCapture(in.ID, CaptureOptions{RequestID: "c1", Caller: "test", Digest: rq("c1").Digest, Actor: "agent-7", MaxDigits: 16}); err != nil {
		t.Fatal(err)
	}

	batches, errc := collectAll(t, h, in.ID)
	m.key(testPAN[:6])
	h.pump(t)
	var got strings.Builder
	for got.Len() < 6 {
		got.Write(nextBatch(t, batches).Digits)
	}
	m.key(testPAN[6:])
	h.pump(t)
	var last DigitBatch
	for !last.Complete {
		last = nextBatch(t, batches)
		got.Write(last.Digits)
	}
	if got.String() != testPAN {
		t.Fatal("payment client did not get the keyed digits")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	// Watchers saw one '*' per digit, a Luhn verdict, never a digit.
	var progress []CaptureInfo
	var stopped Event
	for stopped.Kind == 0 {
		e := next(t, ch)
		switch e.Kind {
		case EventDigits:
			progress = append(progress, e.Capture)
		case EventCapture:
			stopped = e
		}
	}
	if len(progress) != 16 || progress[15].Count != 16 || !progress[15].Complete || progress[15].Luhn != LuhnValid {
		t.Fatalf("progress %+v", progress)
	}
	for _, p := range progress[:15] {
		if p.Luhn != LuhnUnknown {
			t.Fatalf("Luhn verdict before the capture completed: %+v", p)
		}
	}
	if stopped.Capture.On || stopped.CaptureWhy != "max_digits" {
		t.Fatalf("stop event %+v", stopped)
	}
	// The last key may still be sounding, and the customer may key on: the agent's ear
	// stays masked (no longer capturing) for the rest of the session.
	if p, capt := m.masking(CustomerToAgent); capt || p.Mode != MaskTone {
		t.Fatalf("right after capture: %+v capture=%v, want tone masking without capture", p, capt)
	}
	h.clock.Advance(time.Hour)
	h.reg.TimeoutCaptures()
	if p, capt := m.masking(CustomerToAgent); capt || p.Mode != MaskTone {
		t.Fatalf("an hour after capture: %+v capture=%v, want tone masking", p, capt)
	}

	// Delivered digits are gone from memory.
	s, _ := h.reg.lookup(in.ID)
	s.mu.Lock()
	for _, b := range s.cap.digits {
		if b != 0 {
			s.mu.Unlock()
			t.Fatal("a delivered digit is still in memory")
		}
	}
	s.mu.Unlock()
}

// TestCaptureAbandoned: an agent who stops secure capture mid-entry never hears the rest of
// the card number. With the policy leaving the agent's ear unmasked, the stop keeps it
// masked (tone) for the rest of the session: no time, tick or policy update unmasks it. The
// stop is an event (reason, actor, the count of digits) and a hook call (the metric); so are
// the inter-digit timeout and the session's end while capturing. A capture that completes
// is not abandoned.
func TestCaptureAbandoned(t *testing.T) {
	h := newHarness(t, 8, 10)
	var hooked []string
	h.reg.cfg.Hooks.CaptureAbandoned = func(why string) { hooked = append(hooked, why) }
	off := spec("call-1", "")
	off.Policy.CustomerToAgent.Mode = MaskOff
	in, _ := h.reg.Create(off)
	m := h.mediaOf(t, 0)
	ch, _, _ := h.reg.Watch(context.Background(), in.ID)
	next(t, ch)
	if p, _ := m.masking(CustomerToAgent); p.Mode != MaskOff {
		t.Fatalf("policy off, yet masked before any capture: %+v", p)
	}
	h.reg.StartCapture(in.ID, CaptureOptions{MaxDigits: 16, Actor: "agent-7"})
	m.key(testPAN[:3])
	h.pump(t)
	if _, err := h.reg.StopCapture(in.ID, rq("stop-1"), "agent-7"); err != nil {
		t.Fatal(err)
	}
	var abandoned Event
	for e := next(t, ch); e.Kind != EventCapture || e.Capture.On; e = next(t, ch) {
		if e.Kind == EventCaptureAbandoned {
			abandoned = e
		}
	}
	if abandoned.CaptureWhy != StopRequest || abandoned.Actor != "agent-7" || abandoned.RequestID != "stop-1" ||
		abandoned.Capture.Count != 3 || abandoned.Capture.Complete {
		t.Fatalf("abandoned event %+v", abandoned)
	}
	masked := func(when string) {
		t.Helper()
		if p, capt := m.masking(CustomerToAgent); capt || p.Mode != MaskTone {
			t.Fatalf("%s: agent's ear %+v capture=%v, want tone masking", when, p, capt)
		}
	}
	masked("after the stop")
	for range 3 {
		h.clock.Advance(time.Hour)
		h.reg.TimeoutCaptures()
		h.reg.CheckMaxPauses()
	}
	masked("hours later")
	p := in.Policy
	p.CustomerToAgent = MaskPolicy{Mode: MaskOff}
	p.IdleTimeout = 2 * time.Minute
	if _, err := h.reg.Update(in.ID, Update{Policy: &p}); err != nil {
		t.Fatal(err)
	}
	masked("after a policy update to off")

	// The inter-digit timeout abandons too; a complete capture does not.
	h.reg.StartCapture(in.ID, CaptureOptions{InterDigitTimeout: time.Second})
	h.clock.Advance(time.Second)
	h.reg.TimeoutCaptures()
	h.reg.StartCapture(in.ID, CaptureOptions{MaxDigits: 2})
	m.key("12")
	h.pump(t)
	masked("after a complete capture")
	// The session ends while capturing.
	h.reg.StartCapture(in.ID, CaptureOptions{})
	h.reg.Delete(in.ID, Request{}, "platform")
	var whys []string
	for e := range ch {
		if e.Kind == EventCaptureAbandoned {
			whys = append(whys, e.CaptureWhy)
		}
	}
	if fmt.Sprint(whys) != "[inter_digit_timeout session_ended]" {
		t.Errorf("abandoned events %v after the first, want the timeout's and the end's", whys)
	}
	if fmt.Sprint(hooked) != "[request inter_digit_timeout session_ended]" {
		t.Errorf("hook calls %v", hooked)
	}
}

func TestCaptureTerminatorTimeoutAndOneCollector(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	m := h.mediaOf(t, 0)
	if _, err := h.reg.StartCapture(in.ID, CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	batches, errc := collectAll(t, h, in.ID)
	// A second payment client is refused while the first collects. Wait for the first to
	// attach: its first batch comes only after a digit, so key one.
	m.key("1")
	h.pump(t)
	nextBatch(t, batches)
	if err := h.reg.Collect(context.Background(), in.ID, make(chan DigitBatch, 1)); !errors.Is(err, ErrCollecting) {
		t.Fatalf("second collector: %v", err)
	}
	m.key("23#")
	h.pump(t)
	var last DigitBatch
	for !last.Complete {
		last = nextBatch(t, batches)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	info, _ := h.reg.Get(in.ID)
	if info.Capture.On || !info.Capture.Complete || info.Capture.Count != 3 {
		t.Fatalf("after terminator %+v", info.Capture)
	}

	// Inter-digit timeout.
	if _, err := h.reg.StartCapture(in.ID, CaptureOptions{InterDigitTimeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(9 * time.Second)
	if n := h.reg.TimeoutCaptures(); n != 0 {
		t.Fatal("timed out early")
	}
	m.key("5")
	h.pump(t)
	h.clock.Advance(9 * time.Second)
	if n := h.reg.TimeoutCaptures(); n != 0 {
		t.Fatal("a digit did not restart the timeout")
	}
	h.clock.Advance(time.Second)
	if n := h.reg.TimeoutCaptures(); n != 1 {
		t.Fatal("did not time out")
	}
}

func TestSessionEndZeroesDigitsAndEndsCollector(t *testing.T) {
	h := newHarness(t, 8, 10)
	in, _ := h.reg.Create(spec("call-1", ""))
	m := h.mediaOf(t, 0)
	h.reg.StartCapture(in.ID, CaptureOptions{})
	m.key("4111")
	h.pump(t)
	s, _ := h.reg.lookup(in.ID)
	batches, errc := collectAll(t, h, in.ID)
	b := nextBatch(t, batches)
	if string(b.Digits) != "4111" {
		t.Fatal("pending digits not delivered to a late collector")
	}
	m.key("1111")
	h.pump(t)
	// End the session before the collector takes the rest: they are wiped, not delivered.
	s.mu.Lock()
	h.reg.mu.Lock()
	h.reg.mu.Unlock()
	s.mu.Unlock()
	if _, err := h.reg.Delete(in.ID, Request{}, ""); err != nil {
		t.Fatal(err)
	}
	for b := range batches {
		_ = b
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.cap.digits {
		if d != 0 {
			t.Fatal("digits survive the session")
		}
	}
}

func TestLuhn(t *testing.T) {
	for _, c := range []struct {
		d  string
		ok bool
	}{{"4111111111111111", true}, {"4111111111111112", false}, {"79927398713", true}, {"0", true}, {"1", false}} {
		if luhn([]byte(c.d)) != c.ok {
			t.Errorf("luhn(%d digits) != %v", len(c.d), c.ok)
		}
	}
}

// The Luhn verdict must not depend on whether a payment client already took (and zeroed)
// the digits.
func TestLuhnSurvivesDelivery(t *testing.T) {
	for _, c := range []struct {
		pan  string
		want LuhnResult
	}{{testPAN, LuhnValid}, {"4111111111111112", LuhnInvalid}, {"378282246310005", LuhnValid}, {"5555555555554444", LuhnValid}} {
		h := newHarness(t, 8, 10)
		in, _ := h.reg.Create(spec("call-1", ""))
		m := h.mediaOf(t, 0)
		h.reg.StartCapture(in.ID, CaptureOptions{MaxDigits: len(c.pan)})
		batches, _ := collectAll(t, h, in.ID)
		for i := 0; i < len(c.pan); i++ {
			m.key(c.pan[i : i+1])
			h.pump(t)
			nextBatch(t, batches) // delivered and zeroed right away
		}
		got, _ := h.reg.Get(in.ID)
		if got.Capture.Luhn != c.want {
			t.Errorf("%d-digit number: Luhn %v, want %v", len(c.pan), got.Capture.Luhn, c.want)
		}
	}
}

// TestLuhnVerdictOnlyWhenComplete: the agent learns the Luhn check of the number keyed once,
// when the capture completes, never of each prefix from digit 12 on (a few bits of the
// number each). A capture stopped early gives no verdict at all.
func TestLuhnVerdictOnlyWhenComplete(t *testing.T) {
	for _, c := range []struct {
		name string
		opts CaptureOptions
		keys string
		stop bool
		want LuhnResult
	}{
		{"max digits", CaptureOptions{MaxDigits: 16}, testPAN, false, LuhnValid},
		{"terminator", CaptureOptions{}, testPAN + "#", false, LuhnValid},
		{"stopped by request", CaptureOptions{}, testPAN, true, LuhnUnknown},
	} {
		h := newHarness(t, 8, 10)
		in, _ := h.reg.Create(spec("call-1", ""))
		m := h.mediaOf(t, 0)
		ch, _, _ := h.reg.Watch(context.Background(), in.ID)
		next(t, ch)
		h.reg.StartCapture(in.ID, c.opts)
		m.key(c.keys)
		h.pump(t)
		if c.stop {
			h.reg.StopCapture(in.ID, Request{}, "agent-7")
		}
		var final CaptureInfo
		for e := next(t, ch); e.Kind != EventCapture || e.Capture.On; e = next(t, ch) {
			if e.Kind != EventDigits {
				continue
			}
			if e.Capture.Count < len(testPAN) && e.Capture.Luhn != LuhnUnknown {
				t.Errorf("%s: Luhn verdict %v after %d digits", c.name, e.Capture.Luhn, e.Capture.Count)
			}
			final = e.Capture
		}
		if got, _ := h.reg.Get(in.ID); got.Capture.Luhn != c.want || final.Count != len(testPAN) {
			t.Errorf("%s: Luhn %v after %d digits, want %v", c.name, got.Capture.Luhn, final.Count, c.want)
		}
	}
}

// luhn is the reference check: it the mod-10 checksum of ISO/IEC 7812-1 over ASCII digits.
func luhn(d []byte) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func TestKeypadTriggerStartsCapture(t *testing.T) {
	h := newHarness(t, 8, 10)
	h.reg.cfg.CaptureTrigger = "*7"
	in, _ := h.reg.Create(spec("call-1", ""))
	m := h.mediaOf(t, 0)
	if !m.watched[AgentToCustomer] || m.watched[CustomerToAgent] {
		t.Fatalf("keys watched %v, want the agent's side only", m.watched)
	}
	ch, _, _ := h.reg.Watch(context.Background(), in.ID)
	next(t, ch)
	// The customer keying *7 does nothing; neither does the agent keying 7 alone or *8.
	m.key("*7")
	m.agentKey("7*8")
	h.pump(t)
	if got, _ := h.reg.Get(in.ID); got.Capture.On {
		t.Fatal("capture started without the trigger")
	}
	m.agentKey("*7")
	h.pump(t)
	e := next(t, ch)
	if e.Kind != EventCapture || !e.Capture.On || e.Actor != "keypad:agent" {
		t.Fatalf("event %+v", e)
	}
	if p, capt := m.masking(CustomerToAgent); !capt || p.Mode != MaskTone {
		t.Fatalf("trigger did not mask and capture: %+v %v", p, capt)
	}
}
