package relay

import "sync/atomic"

// ownedCounter is a counter one goroutine at a time adds to (its owner);
// any goroutine may Load it. Were two ever to add at once, a count could
// miss an increment, never tear.
type ownedCounter struct{ v atomic.Uint64 }

// Load returns the count.
func (c *ownedCounter) Load() uint64 { return c.v.Load() }

// legCounters back Stats. Writers are the packet goroutines: the receive
// counters the leg's own socket's (RTP and RTCP fields apart: separate
// sockets may be separate goroutines), the send counters the other leg's,
// and every engine runs a socket's packets and its delay line's releases on
// one goroutine; so each counter has one writer, and a reader takes a
// snapshot without stopping anyone. Drops come from several places and
// stay atomic.
type legCounters struct {
	rtpRecvPkts, rtpRecvBytes   ownedCounter
	rtcpRecvPkts, rtcpRecvBytes ownedCounter
	rtpSentPkts, rtpSentBytes   ownedCounter
	rtcpSentPkts, rtcpSentBytes ownedCounter
	drops                       [NumDropReasons]atomic.Uint64
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
	return st
}
