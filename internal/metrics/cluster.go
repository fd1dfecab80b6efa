package metrics

import "github.com/prometheus/client_golang/prometheus"

// ClusterMetrics are a cluster node's: whether the session directory answers, what waits
// to be written to it, sessions that moved here or were given up, forwarded requests.
type ClusterMetrics struct {
	up            prometheus.Gauge
	writeFailures prometheus.Counter
	moved         *prometheus.CounterVec
	fenced        prometheus.Counter
	forwarded     *prometheus.CounterVec
}

// Cluster registers the cluster collectors on m's registry (call it once, only in a
// cluster); pending is read at scrape time.
func (m *Metrics) Cluster(pending func() int) *ClusterMetrics {
	c := &ClusterMetrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hush_cluster_directory_up", Help: "1 while the session directory (Redis) answers, 0 while it does not (local sessions go on; health is degraded).",
		}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_cluster_directory_write_failures_total", Help: "Batches of session writes the directory did not take (retried until it does).",
		}),
		moved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_cluster_sessions_moved_in_total", Help: "Sessions this node took on from another, by reason (takeover, handoff).",
		}, []string{"reason"}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_cluster_sessions_fenced_total", Help: "Sessions this node stopped running because another node holds a newer claim on them.",
		}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_cluster_forwarded_total", Help: "Requests forwarded to the node that runs their session, by method and code.",
		}, []string{"method", "code"}),
	}
	m.reg.MustRegister(c.up, c.writeFailures, c.moved, c.fenced, c.forwarded,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hush_cluster_directory_pending", Help: "Sessions whose latest changes are not in the directory yet.",
		}, func() float64 { return float64(pending()) }))
	for _, r := range []string{"takeover", "handoff"} {
		c.moved.WithLabelValues(r)
	}
	return c
}

// Up sets whether the directory answers.
func (c *ClusterMetrics) Up(ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	c.up.Set(v)
}

// WriteFailed counts a failed batch of writes.
func (c *ClusterMetrics) WriteFailed() { c.writeFailures.Inc() }

// Moved counts a session taken on, by reason.
func (c *ClusterMetrics) Moved(reason string) { c.moved.WithLabelValues(reason).Inc() }

// Fenced counts a session given up to a newer claim.
func (c *ClusterMetrics) Fenced() { c.fenced.Inc() }

// Forwarded counts a forwarded request.
func (c *ClusterMetrics) Forwarded(method, code string) {
	c.forwarded.WithLabelValues(method, code).Inc()
}
