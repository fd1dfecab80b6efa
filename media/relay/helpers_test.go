package relay

import (
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/hushmedia/hush/media/relay/relaytest"
)

const recvTimeout = 2 * time.Second

var lo4 = netip.MustParseAddr("127.0.0.1")
var lo6 = netip.MustParseAddr("::1")

func newAlloc(t testing.TB, ip netip.Addr) *PortAllocator {
	t.Helper()
	lo, hi := testPorts(t)
	a, err := NewPortAllocator(ip, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testPorts leases a test its own port range (32 pairs), which no other test, package or
// checkout on the host is handed while the test runs.
func testPorts(t testing.TB) (min, max int) { return relaytest.Ports(t, 64) }

func newCall(t testing.TB, a *PortAllocator, cfg CallConfig, opts ...Option) *Call {
	t.Helper()
	c, err := NewCall(a, cfg, withTestEngine(opts)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// peer is a test endpoint: an RTP socket and, unless mux, an RTCP socket on
// the port above it (taken from an allocator, so port+1 derivation works).
type peer struct {
	t    testing.TB
	s    *LegSockets
	rtcp *net.UDPConn // s.RTCP, or s.RTP with mux
}

func newPeer(t testing.TB, a *PortAllocator, mux bool) *peer {
	t.Helper()
	s, err := a.Allocate(mux)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := &peer{t: t, s: s, rtcp: s.RTCP}
	if mux {
		p.rtcp = s.RTP
	}
	return p
}

func (p *peer) addr() netip.AddrPort     { return p.s.LocalRTP() }
func (p *peer) rtcpAddr() netip.AddrPort { return p.s.LocalRTCP() }

func send(t testing.TB, c *net.UDPConn, to netip.AddrPort, b []byte) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func recv(t testing.TB, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 4096)
	if err := c.SetReadDeadline(time.Now().Add(recvTimeout)); err != nil {
		t.Fatal(err)
	}
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("receive on %v: %v", c.LocalAddr(), err)
	}
	return buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

// expect receives one datagram on c and checks it is want, byte for byte,
// from the address from.
func expect(t testing.TB, c *net.UDPConn, want []byte, from netip.AddrPort) {
	t.Helper()
	got, src := recv(t, c)
	if string(got) != string(want) {
		t.Fatalf("received % x\nwant     % x", got, want)
	}
	if src != from {
		t.Fatalf("received from %v, want %v (symmetric RTP)", src, from)
	}
}

func rtpPacket(t testing.TB, pt uint8, seq uint16, payload int) []byte {
	t.Helper()
	p := pionrtp.Packet{
		Header: pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq,
			Timestamp: uint32(seq) * 160, SSRC: 0x5eed0000 + uint32(pt)},
		Payload: make([]byte, payload),
	}
	for i := range p.Payload {
		p.Payload[i] = byte(int(seq) + i)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rtcpRR is a receiver report with one report block (RFC 3550 6.4.2).
func rtcpRR(ssrc byte) []byte {
	b := make([]byte, 32)
	b[0], b[1], b[3] = 0x81, 201, 7
	b[7] = ssrc
	b[11] = ssrc + 1
	return b
}

// eventCounter is a Counter that also signals every Add, so tests wait for
// a drop to be counted instead of sleeping.
type eventCounter struct {
	sum atomic.Int64
	ch  chan struct{}
}

func newEventCounter() *eventCounter { return &eventCounter{ch: make(chan struct{}, 4096)} }

func (c *eventCounter) Add(v float64) {
	c.sum.Add(int64(v))
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *eventCounter) wait(t testing.TB, what string) {
	t.Helper()
	select {
	case <-c.ch:
	case <-time.After(recvTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// dropCounters returns a DirectionMetrics with an eventCounter per drop
// reason.
func dropCounters() (DirectionMetrics, [NumDropReasons]*eventCounter) {
	var m DirectionMetrics
	var ecs [NumDropReasons]*eventCounter
	for r := range NumDropReasons {
		ecs[r] = newEventCounter()
		m.Drops[r] = ecs[r]
	}
	return m, ecs
}

func ciRequired() bool { return os.Getenv("CI") == "true" }
