package relay

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// MaxPacketSize is the largest datagram forwarded. A read that fills the
// buffer (one octet more) may have been truncated by the kernel, so it is
// dropped as DropOversize. 2048 leaves room for any audio packet with SRTP
// and header extensions within an Ethernet MTU.
const MaxPacketSize = 2048

// The engine is the socket I/O around process: here one goroutine per
// socket doing blocking reads into its own buffer, and sending on the same
// goroutine (no queue, so no added jitter). A batched engine (recvmmsg,
// io_uring) replaces only this file; process and the stages stay.

// readLoop serves one socket until it is closed.
func (c *Call) readLoop(in Leg, kind sockKind, conn *net.UDPConn) {
	defer c.wg.Done()
	buf := make([]byte, MaxPacketSize+1)
	p := new(Packet)
	dir := Direction(in)
	m := &c.metrics[dir]
	ls := &c.legs[in].stats
	os := &c.legs[in.Other()].stats
	sampleEvery := c.sampleEvery
	var seen uint32
	rate := rateGate{limit: c.rateLimit}
	// The RTP socket's goroutine also runs the direction's delay line when
	// the direction is masked (delay.go).
	var dl *delayLine
	if kind == kindRTP {
		dl = newDelayLine(c, in, conn)
		defer dl.close()
	}
	for {
		if dl != nil {
			dl.arm()
		}
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if c.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			if dl != nil && dl.timeout(err) {
				continue
			}
			continue // transient (e.g. ENOBUFS); the next read decides
		}
		var t0 time.Time
		seen++
		timed := seen%sampleEvery == 0
		if timed {
			t0 = time.Now()
		}
		if n > MaxPacketSize {
			ls.received(kind == kindRTCP, n)
			c.drop(dir, DropOversize)
			continue
		}
		p.Buf = buf[:n]
		p.Src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		out, dst, reason := c.process(in, kind, p)
		ls.received(p.RTCP, n)
		if reason == DropNone && rate.over() {
			reason = DropRateLimit
		}
		if reason != DropNone {
			c.drop(dir, reason)
			continue
		}
		if dl != nil && !p.RTCP && dl.handle(p) {
			continue
		}
		if _, err := out.WriteToUDPAddrPort(p.Buf, dst); err != nil {
			if c.closing.Load() {
				return
			}
			c.drop(dir, DropSendError)
			continue
		}
		sent := len(p.Buf)
		os.sent(p.RTCP, sent)
		if p.RTCP {
			m.RTCPPackets.Add(1)
			m.RTCPBytes.Add(float64(sent))
		} else {
			m.Packets.Add(1)
			m.Bytes.Add(float64(sent))
		}
		if timed {
			m.Latency.Observe(time.Since(t0).Seconds())
		}
	}
}

func (c *Call) drop(dir Direction, r DropReason) {
	c.legs[dir.From()].stats.drops[r].Add(1)
	c.metrics[dir].Drops[r].Add(1)
}

// rateWindow is how many accepted packets make one rate measurement.
const rateWindow = 32

// rateGate caps a socket's accepted packet rate. It reads the clock once per rateWindow
// packets: if a window arrived faster than the cap allows, the next window is dropped
// whole, and so on until a window arrives slowly enough. A phone at 50 packets/s is far
// below any sane cap, so only floods pay.
type rateGate struct {
	limit uint32 // packets per second; 0: off
	n     uint32
	start time.Time
	drop  bool
	now   func() time.Time // nil: time.Now (tests inject a clock)
}

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
		min := time.Duration(rateWindow) * time.Second / time.Duration(g.limit)
		g.drop = !g.start.IsZero() && now.Sub(g.start) < min
		g.start, g.n = now, 0
	}
	return g.drop
}
