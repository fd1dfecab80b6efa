package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	d := m.Direction("customer_to_agent")
	d.RTPPackets.Add(3)
	d.Latency.Observe(20e-6)
	m.Drop("customer_to_agent", "malformed").Add(2)
	m.SessionEnded("idle_timeout")
	m.CreateFailed("ports_exhausted")
	m.GRPCRequest("/hush.v1.SessionService/GetSession", "NotFound")
	m.CaptureAbandonReasons([]string{"request", "session_ended"})
	m.CaptureAbandoned("request")
	m.LatchRejected("agent", "competing_source").Add(1)

	if v := testutil.ToFloat64(m.rtpPackets.WithLabelValues("customer_to_agent")); v != 3 {
		t.Fatalf("rtp packets %v", v)
	}
	if v := testutil.ToFloat64(m.drops.WithLabelValues("customer_to_agent", "malformed")); v != 2 {
		t.Fatalf("drops %v", v)
	}
	if v := testutil.ToFloat64(m.capAbandoned.WithLabelValues("request")); v != 1 {
		t.Fatalf("capture abandoned %v", v)
	}
	if n := testutil.CollectAndCount(m.capAbandoned); n != 2 {
		t.Fatalf("capture abandoned series %d, want both reasons from the start", n)
	}
	if v := testutil.ToFloat64(m.latchRejected.WithLabelValues("agent", "competing_source")); v != 1 {
		t.Fatalf("latch rejected %v", v)
	}
	if n := testutil.CollectAndCount(m.latency); n != 1 {
		t.Fatalf("latency series %d", n)
	}
	// A second registry gets its own collectors: nothing is global.
	if New(prometheus.NewRegistry()) == nil {
		t.Fatal("second New failed")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"hush_rtp_packets_total", "hush_packets_dropped_total", "hush_sessions_ended_total",
		"hush_session_create_failures_total", "hush_forward_latency_seconds", "hush_grpc_requests_total", "hush_sessions_active"} {
		if !names[want] {
			t.Errorf("%s not exported", want)
		}
	}
}

// The packet loop calls Add/Observe on resolved children: that must not allocate.
func TestResolvedChildrenDoNotAllocate(t *testing.T) {
	m := New(prometheus.NewRegistry())
	d := m.Direction("agent_to_customer")
	drop := m.Drop("agent_to_customer", "no_remote")
	if n := testing.AllocsPerRun(1000, func() {
		d.RTPPackets.Add(1)
		d.RTPBytes.Add(172)
		d.Latency.Observe(15e-6)
		drop.Add(1)
	}); n != 0 {
		t.Fatalf("%v allocs per packet", n)
	}
}
