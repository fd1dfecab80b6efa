package relay

import (
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/udpio"
)

// delayLine is the masked path of the direction that starts at one leg's
// RTP socket. It belongs to whoever serves that socket (the socket's
// goroutine in the portable engine, the socket's worker in the epoll and
// io_uring engines), which both receives and releases: the engine asks due
// for the next release time and calls expire when it passes (the portable
// engine with a read deadline, a runtime timer; the others through their
// releaseTimers and wait timeout). So a masked direction still runs on one goroutine with no lock,
// channel or extra thread, and an unmasked one never touches any of this.
type delayLine struct {
	c   *Call
	in  Leg
	dir Direction
	tx  udpio.SendFunc // the engine's send
	mk  *mask.Masker   // created at the first masked packet
	// late is how long after a packet's due time the engine's timer
	// releases it: releaseSlack in the portable engine, where a read timeout
	// costs an allocation, 0 in the engines that drive their own timers
	// (epoll, io_uring), where a wake-up is cheap and the slack would only
	// add latency.
	late time.Duration
	// The recording tap's sink, and the sink as a warmer and as an
	// undecodable recorder (nil when it is not one).
	// The masker hands its frames to the delay line itself (RecordAudio):
	// no closure between the masker and the recorder.
	rec RecordSink
	wr  RecordWarmer
	ud  UndecodableRecorder
	// wrLevels is wr's number of warm-up levels.
	wrLevels int
	// newest is when the kernel received the last packet pushed, on the
	// line's clock: what stale compares against when a backlog makes due
	// times (whose age is capped, maxTimedAge) understate how long packets
	// have waited.
	newest time.Duration
}

// RecordAudio passes a frame of the line's direction to the tap's sink.
func (d *delayLine) RecordAudio(ssrc, ts uint32, f *mask.RecordFrame) {
	d.c.out[d.dir].silenceFrame(f)
	d.rec.RecordAudio(d.in, ssrc, ts, d.c.epoch.Add(f.Arrival), f)
}

func newDelayLine(c *Call, in Leg, tx udpio.SendFunc, late time.Duration) *delayLine {
	d := &delayLine{c: c, in: in, dir: Direction(in), tx: tx, late: late}
	if c.tap != nil {
		d.rec = c.tap.Sink
		if d.wr, _ = d.rec.(RecordWarmer); d.wr != nil {
			d.wrLevels = d.wr.WarmLevels()
		}
		d.ud, _ = d.rec.(UndecodableRecorder)
		// The recording needs every audio packet analysed.
		d.mk = d.newMasker()
	}
	return d
}

// releaseSlack widens each release instant into a window [due-slack,
// due+late]: an arrival inside it releases the due packets at once, and the
// engine's timer is due+late. With L a whole number of packet times the
// next arrival often falls in the window, so releases ride on arrivals
// instead of timer wake-ups. The portable engine uses late = releaseSlack
// (a read timeout there costs an allocation: net wraps it in a
// *net.OpError); the epoll and io_uring engines use late = 0, so no packet
// waits past its due time for an arrival. The added delay stays within
// L - 0.5 ms .. L + late; the detector's look-ahead guard in the masker is
// not affected.
const releaseSlack = 500 * time.Microsecond

// now is the delay line's monotonic clock.
func (d *delayLine) now() time.Duration { return time.Since(d.c.epoch) }

// since is t on the delay line's clock, or now when t is zero.
func (d *delayLine) since(t time.Time) time.Duration {
	if t.IsZero() {
		return d.now()
	}
	return t.Sub(d.c.epoch)
}

// due reports when the engine must call expire, on the delay line's clock
// (time since c.epoch), given the time now; ok is false while nothing is
// queued. An oldest packet the detector has not decided about yet is
// asked for at its due time all the same, not at the stall grace's end:
// the next packet usually decides it before then. (Asking for the grace
// first and then, a packet later, for the due time left a stale timer
// entry behind for nearly every packet: heaps five times the live
// entries.) Once its due time has passed undecided, the grace it is.
func (d *delayLine) due(now time.Duration) (at time.Duration, ok bool) {
	if d.mk == nil {
		return 0, false
	}
	due, decided, ok := d.mk.FrontDue()
	if !ok {
		return 0, false
	}
	if !decided && now >= due {
		due += mask.StallGrace
	}
	return due + d.late, true
}

// expire runs when the time due reported has passed (at now, zero: read the
// clock): it releases what is due, or everything when the direction was
// unmasked meanwhile. caughtUp says the engine has read every datagram that
// reached the socket by now: only then may a packet the detector has not
// decided about leave at its stall grace, since what decides it may be
// among the unread ones (a relay that fell behind would otherwise let a
// tone's first samples out unmasked because it, not the sender, was late).
func (d *delayLine) expire(now time.Time, caughtUp bool) {
	if d.mk == nil {
		return
	}
	if d.c.policy[d.dir].Load() == nil {
		d.flush()
		return
	}
	d.release(d.since(now), caughtUp)
}

// graceDue reports whether, by now, the line's next release is a packet the
// detector has not decided about, leaving at its stall grace: the engine
// must read the socket first (expire's caughtUp).
func (d *delayLine) graceDue(now time.Duration) bool {
	if d.mk == nil {
		return false
	}
	due, decided, ok := d.mk.FrontDue()
	return ok && !decided && now+releaseSlack >= due+mask.StallGrace
}

// handle takes an admitted RTP packet of this direction. It reports
// whether the masked path consumed it (queued or dropped); false means the
// direction is not masked and the packet goes the zero-delay way (after
// any queue left from masking is flushed, so order holds).
func (d *delayLine) handle(p *Packet) bool {
	if d.c.tap != nil {
		d.c.out[d.dir].observeFlow(d, p)
	}
	pol := d.c.policy[d.dir].Load()
	keys := d.c.keys[d.dir].Load()
	if pol == nil {
		if d.mk != nil && d.mk.Len() > 0 {
			d.flush()
		}
		if d.c.tap != nil || keys {
			if d.mk == nil {
				d.mk = d.newMasker()
			}
			d.mk.Configure(mask.Policy{Keys: keys}, p.codecs)
			d.mk.Backlog(p.backlog())
			d.mk.Observe(&p.Header, p.Buf, d.since(p.at)-p.timedAge())
			if d.ud != nil && p.codecs.Lookup(p.Header.PayloadType) == mask.CodecUnknown {
				d.ud.RecordUndecodable(d.in, p.Header.PayloadType)
			}
		}
		return false
	}
	if d.mk == nil {
		d.mk = d.newMasker()
	}
	pv := *pol
	pv.Keys = pv.Keys || keys
	d.mk.Configure(pv, p.codecs)
	now := d.since(p.at)
	// Due times count from the packet's arrival at the socket, so waiting in
	// an engine batch is not added to the look-ahead.
	d.newest = now - p.age
	if d.mk.Len() >= mask.Slots {
		// Full: release what is due by now, then, rather than drop this packet
		// unanalysed, let the oldest leave early if the detector is done with it
		// (a burst, or a backlog read at once, is not due yet).
		d.release(now, false)
		if pkt, ok := d.mk.PopFull(); ok {
			d.c.sendRTP(d.tx, d.in, pkt)
		}
	}
	// The recording places the audio by the kernel's receive time, however
	// long it waited unread: audio that reached the host in time is not lost
	// to a stall of hush's own.
	d.mk.Backlog(p.backlog())
	switch d.mk.Push(&p.Header, p.Buf, now-p.timedAge()) {
	case mask.Queued:
	case mask.DropUndecodable:
		d.c.drop(d.dir, DropUndecodable)
		if d.ud != nil {
			d.ud.RecordUndecodable(d.in, p.Header.PayloadType)
		}
	case mask.DropOverflow:
		d.c.drop(d.dir, DropMaskOverflow)
	default: // mask.DropEvent, mask.DropMalformed, and mask.Converted (the event packet is consumed; its tone stand-in was queued)
		d.c.drop(d.dir, DropMaskedEvent)
	}
	// The datagrams after this one may still be unread (a batch, a backlog):
	// only the engine knows when it has read them all (expire).
	d.release(now, false)
	return true
}

// release sends every packet that is ready by now+releaseSlack; with grace,
// also one the detector has not decided about whose stall grace is over.
// A packet that has waited past the call's queueing bound (stale) is taken
// off the queue and dropped instead: masked as far as known and recorded
// like any other, but not sent.
func (d *delayLine) release(now time.Duration, grace bool) {
	for range mask.Slots {
		var pkt []byte
		var ok bool
		stale := d.stale(now)
		switch {
		case stale:
			pkt, ok = d.mk.Drain()
		case grace:
			pkt, ok = d.mk.Pop(now + releaseSlack)
		default:
			pkt, ok = d.mk.PopDecided(now + releaseSlack)
		}
		if !ok {
			return
		}
		if stale {
			d.c.drop(d.dir, DropStale)
			continue
		}
		d.c.sendRTP(d.tx, d.in, pkt)
	}
}

// stale reports whether the oldest queued packet has waited longer than
// its look-ahead plus the call's bound by now: by its due time, or, when the
// newest packet pushed is itself that old, by the newest's arrival (every
// packet queued arrived before it).
func (d *delayLine) stale(now time.Duration) bool {
	bound := d.c.maxQueue
	if bound <= 0 {
		return false
	}
	// The policy's look-ahead is the one the queue was pushed with: handle
	// configures the masker before every push, and a change of policy that
	// unmasks flushes the queue.
	due, _, ok := d.mk.FrontDue()
	return ok && (now-due > bound || now-d.newest-d.mk.Policy().LookAhead > bound)
}

// flush sends the whole queue at once (the direction was unmasked) and,
// without a recording tap, resets the masker so masking again starts
// afresh (with a tap, the analysis goes on).
func (d *delayLine) flush() {
	if d.mk == nil {
		return
	}
	for range mask.Slots {
		pkt, ok := d.mk.Drain()
		if !ok {
			break
		}
		d.c.sendRTP(d.tx, d.in, pkt)
	}
	if d.c.tap == nil {
		d.mk.Reset()
	}
}

// close runs when the socket's goroutine ends: the recording gets the
// frames still queued. Packets still queued for forwarding are dropped
// with the call.
func (d *delayLine) close() {
	if d.mk != nil && d.c.tap != nil {
		d.mk.FlushRecord()
	}
}

// newMasker builds a direction's masker with the call's instruments and
// digit callback (once per direction and call, not per packet).
func (d *delayLine) newMasker() *mask.Masker {
	c, dir := d.c, d.dir
	m := &c.metrics[dir]
	masked := callCounter{shared: m.MaskedSamples, own: &c.legs[dir.From()].stats.masked}
	opts := []mask.Option{mask.WithMetrics(mask.Metrics{
		MaskedSamples: masked, NotchedSamples: m.NotchedSamples, Digits: m.DigitsCaptured, LateMasks: m.LateMasks,
	})}
	if t := c.tap; t != nil {
		var onMasked func(ssrc, a, b uint32)
		if masked := t.Masked; masked != nil {
			onMasked = func(ssrc, a, b uint32) { masked(dir, ssrc, a, b) }
		}
		opts = append(opts, mask.WithRecordSink(t.Delay, d, onMasked))
	}
	if fn := c.onDigit; fn != nil {
		opts = append(opts, mask.WithDigits(func(dg mask.Digit) {
			fn(DigitEvent{Dir: dir, Digit: dg.Digit, Source: dg.Source, RTPTimestamp: dg.RTPTimestamp})
		}))
	}
	return mask.New(opts...)
}

// sendRTP sends a released packet of the direction starting at leg in to
// the other leg's current remote.
func (c *Call) sendRTP(tx udpio.SendFunc, in Leg, pkt []byte) {
	dir := Direction(in)
	pkt, r := c.egressQueued(dir, pkt)
	if r != DropNone {
		c.drop(dir, r)
		return
	}
	out, dst, seal := c.routeTo(in, false)
	if !dst.IsValid() {
		c.drop(dir, DropNoRemote)
		return
	}
	if seal != nil {
		var r DropReason
		if pkt, c.rtpSeal[dir], r = protect(seal, false, pkt, c.rtpSeal[dir]); r != DropNone {
			c.drop(dir, r)
			return
		}
	}
	if err := tx(out, pkt, dst); err != nil {
		if !c.closing.Load() {
			c.drop(dir, DropSendError)
		}
		return
	}
	c.sent(dir, false, len(pkt))
}
