package relay

import "github.com/hushmedia/hush/media/mask"

// Observer is the part of prometheus.Observer (a Histogram) the relay uses.
type Observer interface{ Observe(float64) }

// DirectionMetrics are the instruments of one direction. Resolve label
// children once per call, not per packet. Nil fields are not updated.
type DirectionMetrics struct {
	// Packets and Bytes count RTP forwarded in this direction.
	Packets, Bytes mask.Counter
	// RTCPPackets and RTCPBytes count RTCP forwarded in this direction.
	RTCPPackets, RTCPBytes mask.Counter
	// Drops counts packets received for this direction and not forwarded,
	// indexed by DropReason (index DropNone is unused).
	Drops [NumDropReasons]mask.Counter
	// Latency observes, in seconds, the time from the return of the receive
	// call to the return of the send call, for one packet in every N (see
	// WithLatencySampling).
	Latency Observer
	// MaskedSamples counts samples replaced by masking (8 per ms).
	MaskedSamples mask.Counter
	// NotchedSamples counts samples whose DTMF bands were removed, and
	// not replaced (8 per ms).
	NotchedSamples mask.Counter
	// DigitsCaptured counts digits captured under secure capture (the
	// count only, never the digits).
	DigitsCaptured mask.Counter
	// LateMasks counts masks that began on samples already sent: a tone
	// first seen after its first samples left. 0 with a proper look-ahead.
	LateMasks mask.Counter
	// LatchRejects counts valid packets refused as the remote of the leg
	// this direction starts at, indexed by LatchReject.
	LatchRejects [NumLatchRejects]mask.Counter
}

type nopMetric struct{}

func (nopMetric) Add(float64)     {}
func (nopMetric) Observe(float64) {}

// filled replaces nil instruments with no-ops so the packet path has no
// branches for them.
func (m DirectionMetrics) filled() DirectionMetrics {
	var nop nopMetric
	for _, c := range []*mask.Counter{&m.Packets, &m.Bytes, &m.RTCPPackets, &m.RTCPBytes,
		&m.MaskedSamples, &m.NotchedSamples, &m.DigitsCaptured, &m.LateMasks} {
		if *c == nil {
			*c = nop
		}
	}
	for i := range m.Drops {
		if m.Drops[i] == nil {
			m.Drops[i] = nop
		}
	}
	for i := range m.LatchRejects {
		if m.LatchRejects[i] == nil {
			m.LatchRejects[i] = nop
		}
	}
	if m.Latency == nil {
		m.Latency = nop
	}
	return m
}
