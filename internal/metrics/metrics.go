// Package metrics holds hush's Prometheus collectors, registered on an injected registry.
//
// Label children are resolved when a session starts (Direction, Drop), never per packet:
// the packet loop only calls Add/Observe on counters it already holds.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is the set of hush's collectors. Create it once with New.
type Metrics struct {
	SessionsActive  prometheus.Gauge
	SessionsCreated prometheus.Counter
	sessionsEnded   *prometheus.CounterVec
	createFailures  *prometheus.CounterVec

	rtpPackets  *prometheus.CounterVec
	rtpBytes    *prometheus.CounterVec
	rtcpPackets *prometheus.CounterVec
	rtcpBytes   *prometheus.CounterVec
	drops       *prometheus.CounterVec
	latency     *prometheus.HistogramVec

	maskedSeconds  *prometheus.CounterVec
	notchedSeconds *prometheus.CounterVec
	digitsCaptured *prometheus.CounterVec
	lateMasks      *prometheus.CounterVec
	recFailures    prometheus.Counter
	recLate        *prometheus.CounterVec
	capAbandoned   *prometheus.CounterVec
	latchRejected  *prometheus.CounterVec
	suspicious     *prometheus.CounterVec
	reg            prometheus.Registerer

	grpcRequests *prometheus.CounterVec
	grpcPanics   prometheus.Counter
	invalidInput *prometheus.CounterVec
}

// LatencyBuckets are the forwarding latency histogram's upper bounds in seconds: from 5 µs,
// where a plain relay sits, to 200 ms, beyond any sane look-ahead.
var LatencyBuckets = []float64{
	5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6,
	1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 200e-3,
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hush_sessions_active", Help: "Sessions currently relaying media.",
		}),
		SessionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_sessions_created_total", Help: "Sessions created.",
		}),
		sessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_sessions_ended_total", Help: "Sessions ended, by reason.",
		}, []string{"reason"}),
		createFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_session_create_failures_total", Help: "Session creations refused, by reason.",
		}, []string{"reason"}),
		rtpPackets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_rtp_packets_total", Help: "RTP packets forwarded, by direction.",
		}, []string{"direction"}),
		rtpBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_rtp_bytes_total", Help: "RTP bytes (UDP payload) forwarded, by direction.",
		}, []string{"direction"}),
		rtcpPackets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_rtcp_packets_total", Help: "RTCP packets forwarded, by direction.",
		}, []string{"direction"}),
		rtcpBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_rtcp_bytes_total", Help: "RTCP bytes (UDP payload) forwarded, by direction.",
		}, []string{"direction"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_packets_dropped_total", Help: "Packets received and not forwarded, by direction and reason.",
		}, []string{"direction", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hush_forward_latency_seconds",
			Help:    "Time from a packet's receive to its send inside hush, sampled, by direction.",
			Buckets: LatencyBuckets,
		}, []string{"direction"}),
		maskedSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_masked_seconds_total", Help: "Audio replaced by masking toward a listener, by direction.",
		}, []string{"direction"}),
		notchedSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_notched_seconds_total", Help: "Audio whose DTMF bands were removed (not replaced) toward a listener, by direction.",
		}, []string{"direction"}),
		digitsCaptured: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_digits_captured_total", Help: "Digits captured by secure capture (a count; never the digits), by direction.",
		}, []string{"direction"}),
		lateMasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_late_masks_total", Help: "Tones first seen after their first samples had left toward the listener; must stay 0.",
		}, []string{"direction"}),
		recFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_recording_failures_total", Help: "Recordings that failed (disk full, I/O error) while the call went on.",
		}),
		recLate: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_recording_late_packets_total",
			Help: "Audio packets, by leg, that reached the recording after their place in the file was written (silence there instead), counted when the recording ends.",
		}, []string{"leg"}),
		capAbandoned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_secure_capture_abandoned_total",
			Help: "Secure captures stopped before they completed (an agent's stop mid-entry, the inter-digit timeout, the call's end), by reason.",
		}, []string{"reason"}),
		latchRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_latch_rejected_total",
			Help: "Valid packets refused as a leg's remote (possible attempts to take a leg over), by leg and reason.",
		}, []string{"leg", "reason"}),
		suspicious: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_agent_suspicious_total",
			Help: "Agent activity flagged by monitoring (long pauses, pauses outside a payment, abandoned captures, agent keys during capture, unrecorded calls, unexpected control sources...), by reason.",
		}, []string{"reason"}),
		reg: reg,
		grpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_grpc_requests_total", Help: "gRPC requests handled, by method and status code.",
		}, []string{"method", "code"}),
		grpcPanics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_grpc_panics_total", Help: "gRPC handlers that panicked (recovered, answered INTERNAL).",
		}),
		invalidInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_invalid_requests_total", Help: "API requests rejected as invalid, by method.",
		}, []string{"method"}),
	}
	reg.MustRegister(
		m.SessionsActive, m.SessionsCreated, m.sessionsEnded, m.createFailures,
		m.rtpPackets, m.rtpBytes, m.rtcpPackets, m.rtcpBytes, m.drops, m.latency,
		m.grpcRequests, m.grpcPanics, m.invalidInput,
		m.maskedSeconds, m.notchedSeconds, m.digitsCaptured, m.lateMasks, m.recFailures, m.recLate, m.capAbandoned,
		m.latchRejected, m.suspicious,
	)
	for _, leg := range []string{"customer", "agent"} {
		m.recLate.WithLabelValues(leg) // exported at 0 from the start, for alerts
	}
	return m
}

// DirectionSet is one direction's packet counters, resolved once.
type DirectionSet struct {
	RTPPackets, RTPBytes, RTCPPackets, RTCPBytes prometheus.Counter
	Latency                                      prometheus.Observer
	// MaskedSamples counts 8 kHz samples and adds seconds to hush_masked_seconds_total.
	MaskedSamples Adder
	// NotchedSamples counts 8 kHz samples and adds seconds to hush_notched_seconds_total.
	NotchedSamples            Adder
	DigitsCaptured, LateMasks prometheus.Counter
}

// Adder is a counter the packet loop adds to.
type Adder interface{ Add(float64) }

// perSample converts sample counts at 8 kHz to seconds without allocating.
type perSample struct{ c prometheus.Counter }

func (p perSample) Add(samples float64) { p.c.Add(samples / 8000) }

// Direction resolves the label children of one direction ("customer_to_agent", ...).
func (m *Metrics) Direction(dir string) DirectionSet {
	return DirectionSet{
		RTPPackets:  m.rtpPackets.WithLabelValues(dir),
		RTPBytes:    m.rtpBytes.WithLabelValues(dir),
		RTCPPackets: m.rtcpPackets.WithLabelValues(dir),
		RTCPBytes:   m.rtcpBytes.WithLabelValues(dir),
		Latency:     m.latency.WithLabelValues(dir),

		MaskedSamples:  perSample{m.maskedSeconds.WithLabelValues(dir)},
		NotchedSamples: perSample{m.notchedSeconds.WithLabelValues(dir)},
		DigitsCaptured: m.digitsCaptured.WithLabelValues(dir),
		LateMasks:      m.lateMasks.WithLabelValues(dir),
	}
}

// CaptureAbandonReasons creates the series of hush_secure_capture_abandoned_total at 0, so
// an alert on their increase sees the first abandoned capture.
func (m *Metrics) CaptureAbandonReasons(reasons []string) {
	for _, r := range reasons {
		m.capAbandoned.WithLabelValues(r)
	}
}

// CaptureAbandoned counts a secure capture stopped before it completed. The label is the
// reason only: never an agent, call or session id.
func (m *Metrics) CaptureAbandoned(reason string) { m.capAbandoned.WithLabelValues(reason).Inc() }

// SuspicionReasons creates the series of hush_agent_suspicious_total at 0, one per reason,
// so an alert on their increase sees the first flag. These are every label value the
// series ever takes: the label is the reason only, never an agent, call or session id,
// however many agents work.
func (m *Metrics) SuspicionReasons(reasons []string) {
	for _, r := range reasons {
		m.suspicious.WithLabelValues(r)
	}
}

// AgentSuspicious counts one flag of agent-activity monitoring by its reason.
func (m *Metrics) AgentSuspicious(reason string) { m.suspicious.WithLabelValues(reason).Inc() }

// SuspicionsUnaudited exports how many flags could not be queued for the audit trail (the
// queue was full); each was still counted, logged and sent on the session's watch stream.
func (m *Metrics) SuspicionsUnaudited(f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hush_agent_suspicious_unaudited_total", Help: "Agent-activity flags not written to the audit trail (queue full); must stay 0.",
	}, f))
}

// RecordingFailed counts a failed recording.
func (m *Metrics) RecordingFailed() { m.recFailures.Inc() }

// RecordingLate counts the late audio packets of a recording that ended, per leg.
func (m *Metrics) RecordingLate(customer, agent uint64) {
	m.recLate.WithLabelValues("customer").Add(float64(customer))
	m.recLate.WithLabelValues("agent").Add(float64(agent))
}

// DigitsLost exports how many captured digits could not be handed to their session (the
// hand-off queue was full); it must stay 0.
func (m *Metrics) DigitsLost(f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hush_digits_lost_total", Help: "Captured digits dropped on the way to their session (queue full); must stay 0.",
	}, f))
}

// Drop resolves the drop counter of one direction and reason.
func (m *Metrics) Drop(dir, reason string) prometheus.Counter {
	return m.drops.WithLabelValues(dir, reason)
}

// LatchRejected resolves the counter of packets refused as a leg's remote, for one leg
// ("customer", "agent") and reason; the series exists (at 0) from then on.
func (m *Metrics) LatchRejected(leg, reason string) prometheus.Counter {
	return m.latchRejected.WithLabelValues(leg, reason)
}

// SessionEnded counts an ended session.
func (m *Metrics) SessionEnded(reason string) { m.sessionsEnded.WithLabelValues(reason).Inc() }

// CreateFailed counts a refused session creation.
func (m *Metrics) CreateFailed(reason string) { m.createFailures.WithLabelValues(reason).Inc() }

// GRPCRequest counts a handled RPC.
func (m *Metrics) GRPCRequest(method, code string) {
	m.grpcRequests.WithLabelValues(method, code).Inc()
}

// GRPCPanic counts a recovered handler panic.
func (m *Metrics) GRPCPanic() { m.grpcPanics.Inc() }

// InvalidRequest counts a request rejected by validation.
func (m *Metrics) InvalidRequest(method string) { m.invalidInput.WithLabelValues(method).Inc() }

// RecordingUploadBacklog exports how many finished recordings wait on the local disk for
// the object store (0 without one); it grows while the store is down.
func (m *Metrics) RecordingUploadBacklog(f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hush_recording_upload_backlog", Help: "Finished recordings waiting on the local disk for the object store.",
	}, f))
}
