package session

import (
	"context"
	"fmt"
	"time"
)

// Secure capture: while it is on, the customer->agent direction is masked and the customer's
// keyed digits are held here, in memory only, until a payment client collects them. Digits
// are never logged, never in events (only their count, as '*'s) and are zeroed once
// delivered or when the session ends.

// maxCaptureDigits bounds one capture; a card number with expiry and CVV fits easily.
const maxCaptureDigits = 64

// Once a capture has begun on a session, the agent's ear stays masked for the rest of the
// session, whoever stops the capture and however: the last key may still be sounding when
// it stops (max digits and '#' are seen ~30 ms into the tone), and an agent who stops it
// mid-entry must not hear the rest of the card number, which the customer goes on keying
// (and may resume after any pause). A policy update cannot unmask it either.

// Reasons a capture ends, as events and audit records show them.
const (
	StopRequest           = "request"
	StopMaxDigits         = "max_digits"
	StopTerminator        = "terminator"
	StopInterDigitTimeout = "inter_digit_timeout"
	StopSessionEnded      = "session_ended"
	// StopMoved: the session moved to another node while capturing. Digits live in one
	// node's memory only, so the capture cannot go on there; the agent's ear stays masked.
	StopMoved = "moved"
)

// AbandonReasons are the reasons a capture can stop before it completed
// (Hooks.CaptureAbandoned).
var AbandonReasons = []string{StopRequest, StopInterDigitTimeout, StopSessionEnded, StopMoved}

// LuhnResult is the Luhn check of the digits so far.
type LuhnResult int

// Luhn results. LuhnUnknown until the capture completes (max digits or the terminator)
// with enough digits for a card number (12): a verdict for every prefix would tell the
// agent a few bits of the number.
const (
	LuhnUnknown LuhnResult = iota
	LuhnValid
	LuhnInvalid
)

// CaptureInfo is what anyone but a payment client may know of a capture.
type CaptureInfo struct {
	On       bool
	Count    int
	Complete bool
	Luhn     LuhnResult
}

// CaptureOptions configure StartCapture.
type CaptureOptions struct {
	RequestID, Actor  string
	Caller            string // with RequestID and Digest: the request's idempotency key
	Digest            Digest
	MaxDigits         int           // stop after this many digits (0: no limit)
	InterDigitTimeout time.Duration // stop after this long without a digit (0: none)
}

type capture struct {
	on         bool
	begun      bool // a capture has begun on this session: the agent's ear stays masked
	digits     [maxCaptureDigits]byte
	n          int // digits captured
	delivered  int // digits handed to a payment client (and zeroed)
	complete   bool
	opts       CaptureOptions
	lastDigit  time.Time // start or last digit, for the inter-digit timeout
	collecting bool      // a payment client is attached
	signal     chan struct{}
	// Luhn sums kept per digit, so the verdict survives delivered digits being zeroed:
	// luhnEven assumes the final count is even (digits at even indexes doubled), luhnOdd
	// that it is odd.
	luhnEven, luhnOdd int
}

func luhnDouble(d int) int {
	d *= 2
	if d > 9 {
		d -= 9
	}
	return d
}

// addLuhn folds digit d at index i (from the left) into both sums.
func (c *capture) addLuhn(i int, d byte) {
	v := int(d - '0')
	if i%2 == 0 {
		c.luhnEven += luhnDouble(v)
		c.luhnOdd += v
	} else {
		c.luhnEven += v
		c.luhnOdd += luhnDouble(v)
	}
}

func (c *capture) info() CaptureInfo {
	in := CaptureInfo{On: c.on, Count: c.n, Complete: c.complete}
	if c.complete && c.n >= 12 {
		sum := c.luhnOdd
		if c.n%2 == 0 {
			sum = c.luhnEven
		}
		if sum%10 == 0 {
			in.Luhn = LuhnValid
		} else {
			in.Luhn = LuhnInvalid
		}
	}
	return in
}

func (c *capture) wake() {
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// zero wipes every held digit.
func (c *capture) zero() {
	clear(c.digits[:])
}

// captureMask is the customer->agent masking once capture has begun: the policy's, or a
// tone when the policy leaves that direction unmasked (the agent hears that a key was
// pressed).
func (s *Session) captureMaskLocked() MaskPolicy {
	p := s.policy.CustomerToAgent
	if p.Mode == MaskOff || p.Mode == 0 {
		flow := p.Flow
		p = s.reg.cfg.CaptureMask
		p.Flow = flow // capture masks the keys; whether the agent hears anything is the policy's
	}
	return p
}

func (s *Session) startCapture(o CaptureOptions) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return Info{}, ErrNotFound
	}
	return s.startCaptureLocked(o)
}

func (s *Session) startCaptureLocked(o CaptureOptions) (Info, error) {
	if !s.cap.on {
		if err := s.media.SetMasking(CustomerToAgent, s.captureMaskLocked(), true); err != nil {
			return Info{}, fmt.Errorf("start capture: %w", err)
		}
		// A new capture starts a new field; digits not yet collected are dropped.
		sig := s.cap.signal
		s.cap.zero()
		s.cap = capture{on: true, begun: true, opts: o, lastDigit: s.reg.now(), signal: sig, collecting: s.cap.collecting}
		if s.cap.signal == nil {
			s.cap.signal = make(chan struct{}, 1)
		}
		s.publishLocked(Event{Kind: EventCapture, Actor: o.Actor, RequestID: o.RequestID, Capture: s.cap.info()})
		s.cap.wake()
		s.act.captures++
		s.onCaptureLocked(true)
	}
	in := s.infoLocked()
	return in, nil
}

func (s *Session) stopCapture(requestID, actor, why string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return Info{}, ErrNotFound
	}
	if s.cap.on {
		s.stopCaptureLocked(actor, requestID, why)
	}
	in := s.infoLocked()
	return in, nil
}

func (s *Session) stopCaptureLocked(actor, requestID, why string) {
	// Stop delivering digits; the agent's ear stays masked for the rest of the session.
	if err := s.media.SetMasking(CustomerToAgent, s.captureMaskLocked(), false); err != nil {
		s.reg.log.Error("could not end digit capture; left capturing and masked", "session_id", s.id, "err", err)
	}
	s.cap.on = false
	s.onCaptureLocked(false)
	s.abandonedLocked(actor, requestID, why)
	s.publishLocked(Event{Kind: EventCapture, Actor: actor, RequestID: requestID, Capture: s.cap.info(), CaptureWhy: why})
	s.cap.wake()
}

// abandonedLocked reports a capture that stops before it completed (an agent's stop, the
// inter-digit timeout, the end of the call): an event for the desktop and supervisors, a
// metric to alert on (by reason only) and a log line. Only the count of digits is told.
func (s *Session) abandonedLocked(actor, requestID, why string) {
	if s.cap.complete {
		return
	}
	s.publishLocked(Event{Kind: EventCaptureAbandoned, Actor: actor, RequestID: requestID, Capture: s.cap.info(), CaptureWhy: why})
	if h := s.reg.cfg.Hooks.CaptureAbandoned; h != nil {
		h(why)
	}
	s.reg.log.Warn("secure capture stopped before it completed", "session_id", s.id, "reason", why,
		"digits", s.cap.n, "actor", actor, "request_id", requestID)
	if why == StopRequest || why == StopSessionEnded {
		s.flagLocked(SuspectCaptureAbandoned, actor, requestID,
			fmt.Sprintf("secure capture stopped (%s) after %d digits, before it completed", why, s.cap.n))
	}
}

// onAgentKey watches the agent's keys for the configured trigger (e.g. "*7"), which
// starts secure capture from the agent's phone. The agent's keys are not card data, but
// they are not logged either.
func (s *Session) onAgentKeyLocked(digit byte) {
	trig := s.reg.cfg.CaptureTrigger
	if trig == "" {
		return
	}
	s.keys = append(s.keys, digit)
	if len(s.keys) > len(trig) {
		s.keys = s.keys[len(s.keys)-len(trig):]
	}
	if string(s.keys) != trig || s.cap.on {
		return
	}
	s.keys = s.keys[:0]
	if _, err := s.startCaptureLocked(CaptureOptions{Actor: "keypad:agent"}); err != nil {
		s.reg.log.Error("keypad trigger could not start secure capture", "session_id", s.id, "err", err)
	}
}

// onDigit runs on the registry's digit goroutine, never on a packet goroutine.
func (s *Session) onDigit(d Direction, digit byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == Ended {
		return
	}
	s.onKeyActivityLocked()
	if d == AgentToCustomer {
		if s.cap.on && s.reg.monitoring() {
			s.onAgentKeyInCaptureLocked()
		}
		s.onAgentKeyLocked(digit)
		return
	}
	s.noteKey(Customer)
	if !s.cap.on {
		return
	}
	switch {
	case digit == '#':
		// The customer ends the field.
		s.cap.complete = true
		s.stopCaptureLocked("", "", StopTerminator)
		return
	case digit < '0' || digit > '9':
		return
	}
	if s.cap.n < maxCaptureDigits {
		s.cap.digits[s.cap.n] = digit
		s.cap.addLuhn(s.cap.n, digit)
		s.cap.n++
		s.act.digits++
	}
	s.cap.lastDigit = s.reg.now()
	full := s.cap.n >= maxCaptureDigits || (s.cap.opts.MaxDigits > 0 && s.cap.n >= s.cap.opts.MaxDigits)
	if full {
		s.cap.complete = true
	}
	s.publishLocked(Event{Kind: EventDigits, Capture: s.cap.info()})
	s.cap.wake()
	if full {
		s.stopCaptureLocked("", "", StopMaxDigits)
	}
}

// captureTimedOut stops a capture whose inter-digit timeout passed.
func (s *Session) captureTimedOut(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.cap.opts.InterDigitTimeout
	if s.state == Ended || !s.cap.on || t <= 0 || now.Sub(s.cap.lastDigit) < t {
		return false
	}
	s.stopCaptureLocked("", "", StopInterDigitTimeout)
	return true
}

// DigitBatch is what a payment client receives: digits captured since the last batch.
// The receiver must zero Digits once it has used them.
type DigitBatch struct {
	Digits   []byte
	Complete bool // capture stopped and everything was delivered
	Time     time.Time
}

// collect streams a session's captured digits to one payment client until the capture
// stops (or the session ends) and everything captured was delivered.
func (s *Session) collect(ctx context.Context, out chan<- DigitBatch) error {
	s.mu.Lock()
	if s.state == Ended {
		s.mu.Unlock()
		return ErrNotFound
	}
	if s.cap.collecting {
		s.mu.Unlock()
		return ErrCollecting
	}
	s.cap.collecting = true
	if s.cap.signal == nil {
		s.cap.signal = make(chan struct{}, 1)
	}
	sig := s.cap.signal
	started := s.cap.on || s.cap.n > s.cap.delivered
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cap.collecting = false
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		var b DigitBatch
		if pending := s.cap.n - s.cap.delivered; pending > 0 {
			b.Digits = make([]byte, pending)
			copy(b.Digits, s.cap.digits[s.cap.delivered:s.cap.n])
			clear(s.cap.digits[s.cap.delivered:s.cap.n])
			s.cap.delivered = s.cap.n
		}
		started = started || s.cap.on
		ended := s.state == Ended
		done := started && !s.cap.on || ended
		b.Complete = done
		b.Time = s.reg.now()
		s.mu.Unlock()
		if len(b.Digits) > 0 || b.Complete {
			select {
			case out <- b:
			case <-ctx.Done():
				clear(b.Digits)
				return ctx.Err()
			}
		}
		if done {
			return nil
		}
		select {
		case <-sig:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
