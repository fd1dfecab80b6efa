package relay

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// forwardRig is a started call with a customer sender and an agent
// receiver, for measuring the whole path through loopback sockets.
type forwardRig struct {
	c        *Call
	tx, rx   *net.UDPConn
	to, from netip.AddrPort
	pkt, buf []byte
}

func newForwardRig(tb testing.TB, opts ...Option) *forwardRig {
	lo, hi := testPorts(tb)
	pa, err := NewPortAllocator(lo4, lo, hi)
	if err != nil {
		tb.Fatal(err)
	}
	a, b := newPeer(tb, pa, true), newPeer(tb, pa, true)
	c := newCall(tb, newAlloc(tb, lo4), CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: a.addr(), RTCPMux: true}, Agent: LegConfig{Remote: b.addr(), RTCPMux: true}}, opts...)
	r := &forwardRig{c: c, tx: a.s.RTP, rx: b.s.RTP, to: c.LocalRTP(Customer), from: c.LocalRTP(Agent),
		pkt: rtpPacket(tb, 8, 1, 160), buf: make([]byte, 2048)}
	// One deadline for the whole run: a lost packet fails instead of hanging,
	// and no deadline is set (or allocated) per packet.
	if err := r.rx.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		tb.Fatal(err)
	}
	return r
}

func (r *forwardRig) send(tb testing.TB) {
	if _, err := r.tx.WriteToUDPAddrPort(r.pkt, r.to); err != nil {
		tb.Fatal(err)
	}
}

func (r *forwardRig) recv(tb testing.TB) {
	n, _, err := r.rx.ReadFromUDPAddrPort(r.buf)
	if err != nil || n != len(r.pkt) {
		tb.Fatalf("receive: n=%d err=%v", n, err)
	}
}

// TestForwardAllocs counts allocations of the whole forwarding path (the
// relay's goroutines included: AllocsPerRun reads the process-wide count),
// one packet per run in lockstep.
func TestForwardAllocs(t *testing.T) {
	r := newForwardRig(t, WithMetrics(CustomerToAgent, DirectionMetrics{
		Packets: newEventCounter(), Bytes: newEventCounter(), Latency: &latencyRecorder{}}),
		WithLatencySampling(1))
	for range 10 { // warm up: first packets grow runtime structures
		r.send(t)
		r.recv(t)
	}
	allocs := testing.AllocsPerRun(500, func() {
		r.send(t)
		r.recv(t)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per forwarded packet", allocs)
	}
}

// BenchmarkForwardRTP measures one RTP packet from the customer's socket
// through the relay to the agent's socket (two sends, two receives, one
// process), keeping up to 16 in flight. allocs/op is per forwarded packet.
func BenchmarkForwardRTP(b *testing.B) {
	r := newForwardRig(b)
	const window = 16
	b.ReportAllocs()
	b.SetBytes(int64(len(r.pkt)))
	inFlight := 0
	for b.Loop() {
		r.send(b)
		if inFlight++; inFlight == window {
			r.recv(b)
			inFlight--
		}
	}
	for ; inFlight > 0; inFlight-- {
		r.recv(b)
	}
}

// BenchmarkForwardRTPLockstep is the same with one packet in flight: ns/op
// is then the round trip sender -> relay -> receiver.
func BenchmarkForwardRTPLockstep(b *testing.B) {
	r := newForwardRig(b)
	b.ReportAllocs()
	for b.Loop() {
		r.send(b)
		r.recv(b)
	}
}

// BenchmarkLoopbackBaseline sends the same packets straight from sender to
// receiver, with the same window: BenchmarkForwardRTP over this is the
// relay's cost on this machine at this moment.
func BenchmarkLoopbackBaseline(b *testing.B) {
	r := newForwardRig(b)
	r.to = r.rx.LocalAddr().(*net.UDPAddr).AddrPort()
	const window = 16
	b.ReportAllocs()
	b.SetBytes(int64(len(r.pkt)))
	inFlight := 0
	for b.Loop() {
		r.send(b)
		if inFlight++; inFlight == window {
			r.recv(b)
			inFlight--
		}
	}
	for ; inFlight > 0; inFlight-- {
		r.recv(b)
	}
}

// BenchmarkLoopbackBaselineLockstep is the direct round trip: the relay's
// added latency is BenchmarkForwardRTPLockstep minus this.
func BenchmarkLoopbackBaselineLockstep(b *testing.B) {
	r := newForwardRig(b)
	r.to = r.rx.LocalAddr().(*net.UDPAddr).AddrPort()
	b.ReportAllocs()
	for b.Loop() {
		r.send(b)
		r.recv(b)
	}
}

// usHistogram is an allocation-free Observer with 1 µs buckets up to 10 ms,
// written by one relay goroutine and read after Close.
type usHistogram struct {
	buckets [10001]uint64
	n       uint64
}

func (h *usHistogram) Observe(sec float64) {
	us := int(sec * 1e6)
	h.buckets[min(max(us, 0), len(h.buckets)-1)]++
	h.n++
}

func (h *usHistogram) quantile(q float64) float64 {
	target := uint64(q * float64(h.n))
	var sum uint64
	for us, c := range h.buckets {
		if sum += c; sum > target {
			return float64(us)
		}
	}
	return float64(len(h.buckets) - 1)
}

// BenchmarkForwardRTPLatency times every packet inside the relay (receive
// return to send return, the Latency metric) and reports its p50 and p99.
func BenchmarkForwardRTPLatency(b *testing.B) {
	h := &usHistogram{}
	r := newForwardRig(b, WithLatencySampling(1), WithMetrics(CustomerToAgent, DirectionMetrics{Latency: h}))
	const window = 16
	b.ReportAllocs()
	inFlight := 0
	for b.Loop() {
		r.send(b)
		if inFlight++; inFlight == window {
			r.recv(b)
			inFlight--
		}
	}
	for ; inFlight > 0; inFlight-- {
		r.recv(b)
	}
	r.c.Close() // the loops are done with h
	b.ReportMetric(h.quantile(0.5), "p50-µs")
	b.ReportMetric(h.quantile(0.99), "p99-µs")
}
