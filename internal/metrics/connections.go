package metrics

import "github.com/prometheus/client_golang/prometheus"

// ConnMetrics counts the control plane's connections, per listener ("grpc", "http").
type ConnMetrics struct {
	open    *prometheus.GaugeVec
	refused *prometheus.CounterVec
}

// Connections registers the connection collectors on m's registry; call it once.
func (m *Metrics) Connections() *ConnMetrics {
	c := &ConnMetrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hush_connections_open", Help: "Control-plane connections open, by listener.",
		}, []string{"listener"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_connections_refused_total",
			Help: "Control-plane connections closed at accept, by listener and reason (total, per_ip, descriptors).",
		}, []string{"listener", "reason"}),
	}
	m.reg.MustRegister(c.open, c.refused)
	return c
}

// Open is the open-connections gauge of a listener.
func (c *ConnMetrics) Open(listener string) prometheus.Gauge { return c.open.WithLabelValues(listener) }

// Refused is the refusal counter of a listener and reason.
func (c *ConnMetrics) Refused(listener, reason string) prometheus.Counter {
	return c.refused.WithLabelValues(listener, reason)
}
