package metrics

import "github.com/prometheus/client_golang/prometheus"

// What an operator alerts on beside the packet counters: how full the media port range is,
// which I/O engine runs, recordings by state and audit records that could not be written.
// Each is read at scrape time or counted off the packet path.

// MediaPorts exports the port range's size and use, in RTP/RTCP port pairs; the alert on
// exhaustion divides one by the other.
func (m *Metrics) MediaPorts(capacity int, inUse func() int) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hush_media_port_pairs", Help: "Media port pairs (even RTP port and the odd one above it) in media.port_min..port_max.",
		}, func() float64 { return float64(capacity) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hush_media_port_pairs_in_use", Help: "Media port pairs allocated to sessions' legs; at hush_media_port_pairs new sessions are refused.",
		}, func() float64 { return float64(inUse()) }),
	)
}

// Engine exports the socket I/O engine that runs (io_uring, epoll or portable) as an info
// gauge: 1 with the engine as label.
func (m *Metrics) Engine(name string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hush_media_engine_info", Help: "The media socket I/O engine in use (label engine); always 1.",
	}, []string{"engine"})
	g.WithLabelValues(name).Set(1)
	m.reg.MustRegister(g)
}

// RecordingStates exports live sessions by recording state; counts is called at scrape
// time and returns one count per name in states, in that order.
func (m *Metrics) RecordingStates(states []string, counts func() []int) {
	m.reg.MustRegister(&stateCollector{
		desc: prometheus.NewDesc("hush_sessions_recording", "Active sessions by recording state (stopped, active, paused, failed).",
			[]string{"state"}, nil),
		states: states, counts: counts,
	})
}

type stateCollector struct {
	desc   *prometheus.Desc
	states []string
	counts func() []int
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.counts()
	for i, s := range c.states {
		v := 0
		if i < len(n) {
			v = n[i]
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(v), s)
	}
}

// AuditFailures registers the counter of audit records that could not be written and
// returns its Inc, for the audit recorder's error callback.
func (m *Metrics) AuditFailures() func() {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hush_audit_write_failures_total", Help: "Audit records that could not be written (disk full, I/O error); the action went on, the log says which.",
	})
	m.reg.MustRegister(c)
	return c.Inc
}
