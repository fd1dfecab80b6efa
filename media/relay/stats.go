package relay

import (
	"sync/atomic"

	"github.com/hushmedia/hush/media/mask"
)

// legCounters back Stats. Writers are the packet goroutines: the receive
// counters the leg's own socket's (RTP and RTCP fields apart: separate
// sockets may be separate goroutines), the send counters the other leg's,
// and every engine runs a socket's packets and its delay line's releases on
// one goroutine. Every write is an atomic add and every read an atomic
// load, so a reader takes a snapshot without stopping anyone and the Go
// memory model (not only amd64's) makes it safe. The receive and send
// counters have different writers, so 64 bytes apart each group's lines
// are its own wherever the allocator puts the struct: one writer's add
// never takes a line from under the other's. Drops come
// from several places and take atomic adds too.
type legCounters struct {
	rtpRecvPkts, rtpRecvBytes   atomic.Uint64
	rtcpRecvPkts, rtcpRecvBytes atomic.Uint64
	_                           [64]byte
	rtpSentPkts, rtpSentBytes   atomic.Uint64
	rtcpSentPkts, rtcpSentBytes atomic.Uint64
	_                           [64]byte
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
	shared mask.Counter
	own    *atomic.Uint64
}

func (c callCounter) Add(v float64) {
	c.shared.Add(v)
	c.own.Add(uint64(v))
}

func (s *legCounters) received(rtcp bool, n int) {
	if rtcp {
		s.rtcpRecvPkts.Add(1)
		s.rtcpRecvBytes.Add(uint64(n))
		return
	}
	s.rtpRecvPkts.Add(1)
	s.rtpRecvBytes.Add(uint64(n))
}

func (s *legCounters) sent(rtcp bool, n int) {
	if rtcp {
		s.rtcpSentPkts.Add(1)
		s.rtcpSentBytes.Add(uint64(n))
		return
	}
	s.rtpSentPkts.Add(1)
	s.rtpSentBytes.Add(uint64(n))
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
