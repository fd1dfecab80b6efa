package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The operator's gauges read their values at scrape time; the audit counter counts.
func TestOperatorGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	inUse := 3
	m.MediaPorts(2500, func() int { return inUse })
	m.Engine("epoll")
	counts := []int{1, 4, 2, 0}
	m.RecordingStates([]string{"stopped", "active", "paused", "failed"}, func() []int { return counts })
	fail := m.AuditFailures()
	fail()
	fail()
	inUse, counts[2] = 7, 5 // read at scrape, not at registration

	want := `
# HELP hush_audit_write_failures_total Audit records that could not be written (disk full, I/O error); the action went on, the log says which.
# TYPE hush_audit_write_failures_total counter
hush_audit_write_failures_total 2
# HELP hush_media_engine_info The media socket I/O engine in use (label engine); always 1.
# TYPE hush_media_engine_info gauge
hush_media_engine_info{engine="epoll"} 1
# HELP hush_media_port_pairs Media port pairs (even RTP port and the odd one above it) in media.port_min..port_max.
# TYPE hush_media_port_pairs gauge
hush_media_port_pairs 2500
# HELP hush_media_port_pairs_in_use Media port pairs allocated to sessions' legs; at hush_media_port_pairs new sessions are refused.
# TYPE hush_media_port_pairs_in_use gauge
hush_media_port_pairs_in_use 7
# HELP hush_sessions_recording Active sessions by recording state (stopped, active, paused, failed).
# TYPE hush_sessions_recording gauge
hush_sessions_recording{state="active"} 4
hush_sessions_recording{state="failed"} 0
hush_sessions_recording{state="paused"} 5
hush_sessions_recording{state="stopped"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hush_audit_write_failures_total",
		"hush_media_engine_info", "hush_media_port_pairs", "hush_media_port_pairs_in_use", "hush_sessions_recording"); err != nil {
		t.Fatal(err)
	}
}
