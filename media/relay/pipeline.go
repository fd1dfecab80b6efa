package relay

import (
	"net/netip"
	"time"

	"github.com/hushmedia/hush/media/udpio"
)

// MaxPacketSize is the largest datagram forwarded (udpio.MaxDatagram). A
// read that fills the buffer (one octet more) may have been truncated by
// the kernel, so it is dropped as DropOversize. 2048 leaves room for any
// audio packet with SRTP and header extensions within an Ethernet MTU.
const MaxPacketSize = udpio.MaxDatagram

// receiver is the per-socket half of the pipeline that every engine shares:
// what happens to a datagram between the receive and the send; it is the
// socket's udpio.Handler. It belongs to the one goroutine that serves the
// socket, so its fields need no synchronisation.
type receiver struct {
	// tm is the engine's bookkeeping of r's release time; first, so that
	// it shares the cache line the engine's timers warm first.
	tm    udpio.Timer
	c     *Call
	in    Leg
	kind  sockKind
	dir   Direction
	m     *DirectionMetrics
	ls    *legCounters // the receiving leg's
	every uint32
	seen  uint32
	rate  rateGate
	// tx sends; an engine with its own submission queue (io_uring) hands
	// in its own, the others udpio.Write.
	tx udpio.SendFunc
	// dl is the direction's delay line, on the RTP socket only (delay.go).
	dl *delayLine
	// levels is how many warm-up levels r has (warm.go).
	levels int
	p      Packet
	// rtcpSeal is where this socket's RTCP is encrypted toward an SRTP leg (RTP uses
	// the call's rtpSeal); allocated at its first use.
	rtcpSeal []byte
}

// late is the delay line's timer lateness (delayLine.late).
func newReceiver(c *Call, in Leg, kind sockKind, tx udpio.SendFunc, late time.Duration) *receiver {
	r := &receiver{
		tx: tx,
		c:  c, in: in, kind: kind, dir: Direction(in),
		m:     &c.metrics[Direction(in)],
		ls:    &c.legs[in].stats,
		every: c.sampleEvery,
		rate:  rateGate{limit: c.rateLimit},
	}
	if kind == kindRTP {
		// Start made the line; a receiver made without Start (tests) makes
		// its own.
		if r.dl = c.lines[in]; r.dl != nil {
			r.dl.tx, r.dl.late = tx, late
		} else {
			r.dl = newDelayLine(c, in, tx, late)
		}
	}
	r.levels = r.warmLevels()
	return r
}

// Packet runs one received datagram of n octets from src (buf holds it,
// and must have room for MaxPacketSize+1) through the pipeline: process,
// rate gate, then the delay line or a send. age is how long ago the kernel
// received it (0: unknown, now), at when the engine read it (zero: unknown). It
// reports false when a send failed because the call is closing, so the
// engine can stop serving it.
func (r *receiver) Packet(buf []byte, n int, src netip.AddrPort, age time.Duration, at time.Time) bool {
	c := r.c
	var t0 time.Time
	r.seen++
	timed := r.seen%r.every == 0
	if timed {
		t0 = time.Now()
	}
	if n > MaxPacketSize {
		r.ls.received(r.kind == kindRTCP, n)
		c.drop(r.dir, DropOversize)
		return true
	}
	p := &r.p
	p.Buf = buf[:n]
	p.age, p.at = age, at
	p.Src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	out, dst, reason := c.process(r.in, r.kind, p)
	r.ls.received(p.RTCP, n)
	if reason == DropNone && r.rate.over() {
		reason = DropRateLimit
	}
	if reason != DropNone {
		c.drop(r.dir, reason)
		return true
	}
	if r.dl != nil && !p.RTCP && r.dl.handle(p) {
		return true
	}
	if !p.RTCP {
		if c.maxQueue > 0 && p.age > c.maxQueue {
			c.drop(r.dir, DropStale)
			return true
		}
		if reason := c.egress(r.dir, p); reason != DropNone {
			c.drop(r.dir, reason)
			return true
		}
	}
	b := p.Buf
	if p.seal != nil {
		if p.RTCP {
			b, r.rtcpSeal, reason = protect(p.seal, true, b, r.rtcpSeal)
		} else {
			b, c.rtpSeal[r.dir], reason = protect(p.seal, false, b, c.rtpSeal[r.dir])
		}
		if reason != DropNone {
			c.drop(r.dir, reason)
			return true
		}
	}
	if err := r.tx(out, b, dst); err != nil {
		if c.closing.Load() {
			return false
		}
		c.drop(r.dir, DropSendError)
		return true
	}
	c.sent(r.dir, p.RTCP, len(b))
	if timed {
		r.m.Latency.Observe(time.Since(t0).Seconds())
	}
	return true
}

// Close runs when the engine stops serving the socket.
func (r *receiver) Close() {
	if r.dl != nil {
		r.dl.close()
	}
}

// Due is udpio.Handler's: the delay line's next release time.
func (r *receiver) Due(now time.Time) (time.Time, bool) {
	if r.dl == nil || r.dl.mk == nil { // not masked: nothing ever waits
		return time.Time{}, false
	}
	at, ok := r.dl.due(now.Sub(r.c.epoch))
	return r.c.epoch.Add(at), ok
}

// Expire is udpio.Handler's: the delay line releases what is due.
func (r *receiver) Expire(now time.Time, caughtUp bool) {
	if r.dl != nil {
		r.dl.expire(now, caughtUp)
	}
}

// GraceDue is udpio.Handler's: the delay line's next release is a packet
// the detector has not decided about, leaving at its stall grace.
func (r *receiver) GraceDue(now time.Time) bool {
	return r.dl != nil && r.dl.graceDue(now.Sub(r.c.epoch))
}

// SendFailed is udpio.Handler's: a queued send of r's failed.
func (r *receiver) SendFailed() {
	if !r.c.closing.Load() {
		r.c.drop(r.dir, DropSendError)
	}
}

// Timer is udpio.Handler's.
func (r *receiver) Timer() *udpio.Timer { return &r.tm }

// sent counts a packet sent in a direction: the sending leg's stats and the direction's
// metrics. Forwarded and delay-line packets both come here.
func (c *Call) sent(dir Direction, rtcp bool, n int) {
	c.legs[dir.To()].stats.sent(rtcp, n)
	m := &c.metrics[dir]
	if rtcp {
		m.RTCPPackets.Add(1)
		m.RTCPBytes.Add(float64(n))
	} else {
		m.Packets.Add(1)
		m.Bytes.Add(float64(n))
	}
}

func (c *Call) drop(dir Direction, r DropReason) {
	c.legs[dir.From()].stats.drops[r].Add(1)
	c.metrics[dir].Drops[r].Add(1)
}

// rateWindow is how many accepted packets make one rate measurement.
const rateWindow = 32

// rateGate caps a socket's accepted packet rate with a token bucket that holds one
// second's worth of packets (at least two windows). It reads the clock once per rateWindow
// packets: each window spends rateWindow tokens and earns limit per second since the
// last; when the bucket is empty, the next window is dropped whole, until time has
// refilled it. The bucket is what makes a backlog harmless: when hushd is descheduled for
// a while, a phone's packets queue in the socket and are read in a burst, but the time
// that passed meanwhile refilled the bucket, so only a sustained excess over the cap pays.
type rateGate struct {
	limit  uint32 // packets per second; 0: off
	n      uint32
	last   time.Time
	tokens float64
	drop   bool
	now    func() time.Time // nil: time.Now (tests inject a clock)
}

func (g *rateGate) burst() float64 { return float64(max(g.limit, 2*rateWindow)) }

func (g *rateGate) over() bool {
	if g.limit == 0 {
		return false
	}
	g.n++
	if g.n >= rateWindow {
		var now time.Time
		if g.now != nil {
			now = g.now()
		} else {
			now = time.Now()
		}
		if g.last.IsZero() {
			g.tokens = g.burst()
		} else {
			g.tokens = min(g.burst(), g.tokens+now.Sub(g.last).Seconds()*float64(g.limit))
		}
		g.tokens -= rateWindow
		g.drop = g.tokens < 0
		g.last, g.n = now, 0
	}
	return g.drop
}
