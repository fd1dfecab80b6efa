package metrics

import "github.com/prometheus/client_golang/prometheus"

// NG counts the ng control protocol listener's requests (package ng's Metrics).
type NG struct {
	requests    *prometheus.CounterVec
	errors      *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	retransmits prometheus.Counter
}

// NewNG creates the ng collectors on reg; every error reason and drop reason is exported
// at zero from the start, so a dashboard sees them before the first one happens.
func NewNG(reg prometheus.Registerer, reasons []string) *NG {
	n := &NG{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_ng_requests_total", Help: "ng requests answered, by command and result.",
		}, []string{"command", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_ng_errors_total", Help: "ng requests answered with an error, by reason.",
		}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hush_ng_dropped_total", Help: "ng datagrams not answered: not_allowed, rate_limited, malformed, pending.",
		}, []string{"reason"}),
		retransmits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hush_ng_retransmits_total", Help: "ng requests answered from the reply cache (a client retransmitted).",
		}),
	}
	reg.MustRegister(n.requests, n.errors, n.dropped, n.retransmits)
	for _, r := range reasons {
		n.errors.WithLabelValues(r)
	}
	for _, r := range []string{"not_allowed", "rate_limited", "malformed", "pending"} {
		n.dropped.WithLabelValues(r)
	}
	return n
}

// Request counts an answered request.
func (n *NG) Request(command, result string) { n.requests.WithLabelValues(command, result).Inc() }

// Error counts an error reply by reason.
func (n *NG) Error(reason string) { n.errors.WithLabelValues(reason).Inc() }

// Dropped counts a datagram not answered.
func (n *NG) Dropped(why string) { n.dropped.WithLabelValues(why).Inc() }

// Retransmit counts a reply from the cache.
func (n *NG) Retransmit() { n.retransmits.Inc() }
