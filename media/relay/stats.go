package relay

import (
	"sync/atomic"

	"github.com/hushmedia/hush/media/internal/owned"
)

// legCounters back Stats. Writers are the packet goroutines: the receive
// counters the leg's own socket's (RTP and RTCP fields apart: separate
// sockets may be separate goroutines), the send counters the other leg's,
// and every engine runs a socket's packets and its delay line's releases on
// one goroutine; so each counter has one writer, which adds with
// owned.Add, and a reader takes a snapshot without stopping anyone. Drops
// come from several places and take atomic adds.
type legCounters struct {
	rtpRecvPkts, rtpRecvBytes   atomic.Uint64
	rtcpRecvPkts, rtcpRecvBytes atomic.Uint64
	rtpSentPkts, rtpSentBytes   atomic.Uint64
	rtcpSentPkts, rtcpSentBytes atomic.Uint64
	drops                       [NumDropReasons]atomic.Uint64
	// Latch refusals come from the RTP and RTCP sockets: atomic adds. rejected
	// is their sum, which decides when to report (WithOnLatchReject).
	latchRejects [NumLatchRejects]atomic.Uint64
	rejected     atomic.Uint64
	// masked counts samples of this leg's audio replaced toward the listener (the call's
	// share of DirectionMetrics.MaskedSamples).
	masked atomic.Uint64
}

// callCounter adds to a shared instrument and to the call's own count, so a call can
// report its totals at its end. It is made once per masker, never per packet.
type callCounter struct {
	shared Counter
	own    *atomic.Uint64
}

func (c callCounter) Add(v float64) {
	c.shared.Add(v)
	c.own.Add(uint64(v))
}

func (s *legCounters) received(rtcp bool, n int) {
	if rtcp {
		owned.Add(&s.rtcpRecvPkts, 1)
		owned.Add(&s.rtcpRecvBytes, uint64(n))
		return
	}
	owned.Add(&s.rtpRecvPkts, 1)
	owned.Add(&s.rtpRecvBytes, uint64(n))
}

func (s *legCounters) sent(rtcp bool, n int) {
	if rtcp {
		owned.Add(&s.rtcpSentPkts, 1)
		owned.Add(&s.rtcpSentBytes, uint64(n))
		return
	}
	owned.Add(&s.rtpSentPkts, 1)
	owned.Add(&s.rtpSentBytes, uint64(n))
}

func (s *legCounters) snapshot() LegStats {
	st := LegStats{
		RTPPacketsReceived:  s.rtpRecvPkts.Load(),
		RTPBytesReceived:    s.rtpRecvBytes.Load(),
		RTCPPacketsReceived: s.rtcpRecvPkts.Load(),
		RTCPBytesReceived:   s.rtcpRecvBytes.Load(),
		RTPPacketsSent:      s.rtpSentPkts.Load(),
		RTPBytesSent:        s.rtpSentBytes.Load(),
		RTCPPacketsSent:     s.rtcpSentPkts.Load(),
		RTCPBytesSent:       s.rtcpSentBytes.Load(),
	}
	for i := range s.drops {
		st.Drops[i] = s.drops[i].Load()
	}
	for i := range s.latchRejects {
		st.LatchRejects[i] = s.latchRejects[i].Load()
	}
	st.MaskedSamples = s.masked.Load()
	return st
}
