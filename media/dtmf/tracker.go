package dtmf

// Span is what an EventTracker knows about one telephone-event: the stretch
// of the RTP timeline [Start, Start+Duration) it covers. Audio packets that
// overlap a span carry the tone too and must be masked (while the span is
// open, everything from Start on).
type Span struct {
	Event    uint8  // RFC 4733 event code
	Digit    byte   // '0'-'9', '*', '#', 'A'-'D'; 0 for a non-DTMF event
	Start    uint32 // RTP timestamp of the event's first sample
	Duration uint32 // timestamp units covered so far; may exceed 65535 (segments)
	Volume   uint8  // last reported volume, -dBm0
	New      bool   // first report of this event: exactly once per event
	Ended    bool   // the event is over (end bit, a newer event, or timeout)
	TimedOut bool   // ended by Advance because no end packet arrived
}

// End returns the RTP timestamp just past the span.
func (s Span) End() uint32 { return s.Start + s.Duration }

// DefaultEventTimeout is the timestamp distance (8 kHz units, 200 ms) past
// an open event's last known end after which Advance declares it ended. RFC
// 4733 §2.5.1.2 senders refresh every 50 ms or so, so this is several lost
// updates in a row.
const DefaultEventTimeout = 1600

// segmentLen is the timestamp step between the segments of a long event:
// RFC 4733 §2.5.1.3 ends a segment at duration 0xFFFF and starts the next
// at the previous segment's timestamp plus that duration.
const segmentLen = 0xFFFF

// EventTracker is the RFC 4733 §2.5.2 receiver state machine for one RTP
// stream's telephone-events. Feed it every telephone-event packet with Push
// and the timestamp of every audio packet with Advance; it reports each
// event once as New, then as its duration grows, then once as Ended. It
// copes with the three retransmitted end packets (§2.5.1.4), lost end
// packets (timeout), reordering (stale packets are ignored and counted),
// and long events split into 16-bit duration segments (§2.5.1.3).
// It allocates nothing; it is not safe for concurrent use.
type EventTracker struct {
	timeout uint32

	active   bool // an event has been seen (cur is meaningful)
	cur      Span
	segStart uint32 // timestamp of the current segment
	segBase  uint32 // duration of the completed segments before it
	segDur   uint16 // largest duration seen in the current segment
	lastSeq  uint16

	stale uint64
}

// NewEventTracker returns a tracker that ends an event whose end packets
// were lost once Advance reaches timeout timestamp units past its last known
// end; timeout 0 means DefaultEventTimeout.
func NewEventTracker(timeout uint32) *EventTracker {
	if timeout == 0 {
		timeout = DefaultEventTimeout
	}
	return &EventTracker{timeout: timeout}
}

// Reset forgets all state (a new stream or SSRC).
func (t *EventTracker) Reset() { *t = EventTracker{timeout: t.timeout} }

// Restart is Reset for a new stream (SSRC) replacing this one: an event
// still open is appended to dst as ended (timed out: its end packets will
// come, if at all, with the old stream's timestamps), so a listener closes it
// at its last known end instead of waiting for an end that cannot arrive.
func (t *EventTracker) Restart(dst []Span) []Span {
	if t.active && !t.cur.Ended {
		dst = t.endCurrent(dst, true)
	}
	t.Reset()
	return dst
}

// Stale counts packets ignored as late: from an event older than the
// current one, or for the current one after it ended.
func (t *EventTracker) Stale() uint64 { return t.stale }

// Current returns the latest event and whether one has been seen.
func (t *EventTracker) Current() (Span, bool) {
	s := t.cur
	s.New = false
	return s, t.active
}

// serialLess reports a < b in RTP serial number arithmetic (RFC 3550).
func serialLess(a, b uint32) bool { return int32(a-b) < 0 }

// Push feeds one telephone-event packet (its RTP timestamp, marker bit,
// sequence number and payload) and appends to dst the spans it changed: at
// most two (a previous event implicitly ended, and the new one). A bad
// payload returns dst unchanged and ErrShortPayload.
func (t *EventTracker) Push(dst []Span, ts uint32, marker bool, seq uint16, payload []byte) ([]Span, error) {
	var ev TelephoneEvent
	if err := ev.Unmarshal(payload); err != nil {
		return dst, err
	}
	if !t.active {
		return t.start(dst, ts, seq, &ev), nil
	}
	seqNewer := int16(seq-t.lastSeq) > 0

	switch {
	case ts == t.segStart:
		// A marker on an already ended event's timestamp from a newer
		// packet is a new event that reused the timestamp (§2.5.1.2 says
		// the marker flags an event's first packet).
		if marker && seqNewer && t.cur.Ended && !t.cur.TimedOut && !ev.End {
			return t.start(dst, ts, seq, &ev), nil
		}
		if ev.Event != t.cur.Event {
			if !seqNewer {
				t.stale++
				return dst, nil
			}
			// Code changed without a new timestamp: treat as a new event
			// rather than lose it.
			dst = t.endCurrent(dst, false)
			return t.start(dst, ts, seq, &ev), nil
		}
		return t.update(dst, seq, seqNewer, &ev), nil

	case serialLess(ts, t.segStart):
		// Older timestamp: a late packet of an earlier segment or event.
		t.stale++
		return dst, nil

	case !t.cur.Ended && ev.Event == t.cur.Event && ts-t.segStart == segmentLen:
		// §2.5.1.3: the next segment of a long event. The marker is not
		// consulted: a sender that sets it here would otherwise report the
		// digit twice.
		t.segBase += segmentLen
		t.segStart = ts
		t.segDur = 0
		return t.update(dst, seq, true, &ev), nil

	default:
		// A newer timestamp starts a new event and ends the old one.
		if !t.cur.Ended {
			dst = t.endCurrent(dst, false)
		}
		return t.start(dst, ts, seq, &ev), nil
	}
}

func (t *EventTracker) start(dst []Span, ts uint32, seq uint16, ev *TelephoneEvent) []Span {
	d, _ := EventDigit(ev.Event)
	t.active = true
	t.segStart, t.segBase, t.segDur, t.lastSeq = ts, 0, ev.Duration, seq
	t.cur = Span{
		Event:    ev.Event,
		Digit:    d,
		Start:    ts,
		Duration: uint32(ev.Duration),
		Volume:   ev.Volume,
		New:      true,
		Ended:    ev.End,
	}
	dst = append(dst, t.cur)
	t.cur.New = false
	return dst
}

func (t *EventTracker) update(dst []Span, seq uint16, seqNewer bool, ev *TelephoneEvent) []Span {
	if seqNewer {
		t.lastSeq = seq
	}
	if t.cur.Ended && !t.cur.TimedOut {
		// One of the three end retransmissions, or a late update.
		t.stale++
		return dst
	}
	changed := false
	if ev.Duration > t.segDur {
		t.segDur = ev.Duration
		t.cur.Duration = t.segBase + uint32(ev.Duration)
		changed = true
	}
	if ev.End && !t.cur.Ended {
		t.cur.Ended = true
		changed = true
	}
	if !changed {
		return dst
	}
	t.cur.Volume = ev.Volume
	return append(dst, t.cur)
}

func (t *EventTracker) endCurrent(dst []Span, timedOut bool) []Span {
	t.cur.Ended = true
	t.cur.TimedOut = timedOut
	return append(dst, t.cur)
}

// Advance tells the tracker the stream has reached RTP timestamp ts (call it
// with each audio packet's timestamp). If the open event's last known end is
// more than the timeout behind ts, its end packets were lost: the event is
// ended and appended to dst with TimedOut set.
func (t *EventTracker) Advance(dst []Span, ts uint32) []Span {
	if !t.active || t.cur.Ended {
		return dst
	}
	if int32(ts-t.cur.End()) > int32(t.timeout) {
		return t.endCurrent(dst, true)
	}
	return dst
}
