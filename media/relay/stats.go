package relay

import "sync/atomic"

// legCounters back Stats. Writers are the packet goroutines (receive
// counters by the leg's own readers, send counters by the other leg's), so
// they are atomics; a reader takes a snapshot without stopping anyone.
type legCounters struct {
	rtpRecvPkts, rtpRecvBytes   atomic.Uint64
	rtcpRecvPkts, rtcpRecvBytes atomic.Uint64
	rtpSentPkts, rtpSentBytes   atomic.Uint64
	rtcpSentPkts, rtcpSentBytes atomic.Uint64
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
