package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hushmedia/hush/internal/cluster/redistest"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/relay"
	"github.com/hushmedia/hush/media/relay/relaytest"
	"github.com/hushmedia/hush/media/rtp"
)

// wait bounds every wait of these tests: nothing sleeps, everything waits for an event.
const wait = 10 * time.Second

// testLease is short, so takeovers by another node come quickly.
const testLease = 400 * time.Millisecond

// fleet is one test's Redis and the prefix its nodes share; ports is the media range
// every node of the test uses (nodes sharing an address bind the same numbers).
type fleet struct {
	t      *testing.T
	redis  *redistest.Server
	prefix string
	lo, hi int
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	f := &fleet{t: t, redis: redistest.Start(t), prefix: "t" + hex.EncodeToString(b[:])}
	f.lo, f.hi = relaytest.Ports(t, 40)
	return f
}

func (f *fleet) client() *redis.Client {
	c := NewRedis(f.redis.Addr, "")
	f.t.Cleanup(func() { c.Close() })
	return c
}

func (f *fleet) dir() *directory { return &directory{rdb: f.client(), prefix: f.prefix} }

// testNode is a node with a real registry and relay: sessions on bindIP, advertised (and
// matched for takeovers) as media.
type testNode struct {
	*Node
	reg   *session.Registry
	alloc *relay.PortAllocator
	mu    sync.Mutex
	moved []string
}

func (f *fleet) node(name, bindIP, media string, opts ...func(*Options)) *testNode {
	f.t.Helper()
	alloc, err := relay.NewPortAllocator(netip.MustParseAddr(bindIP), f.lo, f.hi)
	if err != nil {
		f.t.Fatal(err)
	}
	tn := &testNode{alloc: alloc}
	o := Options{Redis: f.client(), Prefix: f.prefix, Node: name, MediaAddr: media, Logger: testLogger(f.t),
		PeerAddr: "127.0.0.1:1", Lease: testLease, WriteTimeout: 300 * time.Millisecond,
		Hooks: Hooks{Moved: func(r string) { tn.mu.Lock(); tn.moved = append(tn.moved, r); tn.mu.Unlock() }}}
	for _, opt := range opts {
		opt(&o)
	}
	tn.Node = NewNode(o)
	tn.reg = session.NewRegistry(session.Config{
		Media: session.RelayFactory(alloc, session.RelayConfig{}),
		Node:  name, Defaults: session.Policy{StrictSource: true, IdleTimeout: time.Hour},
		Hooks: session.Hooks{Changed: tn.Changed},
	})
	tn.Start(tn.reg)
	f.t.Cleanup(func() { tn.crash() })
	return tn
}

// testLogger logs to the test (shown when it fails or with -v).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// crash stops the node as SIGKILL would: its loops stop writing, its calls' sockets close,
// and the directory keeps what it had (the heartbeat runs out after the lease).
func (tn *testNode) crash() {
	if tn.cancel != nil {
		tn.cancel()
		tn.wg.Wait()
	}
	tn.reg.EndAll(session.EndError)
}

// waitFor polls cond (a directory or registry state another goroutine changes) every
// 20 ms until it holds or the wait runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tk.C
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

// phone is a UDP endpoint on loopback.
type phone struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
	ssrc uint32
}

func newPhone(t *testing.T, ssrc uint32) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c, ssrc: ssrc}
}

func (p *phone) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// send sends the next PCMU packet to to and returns it.
func (p *phone) send(to netip.AddrPort) []byte {
	p.t.Helper()
	p.seq++
	h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: uint32(p.seq) * 160, SSRC: p.ssrc}
	b := make([]byte, h.MarshalSize()+160)
	n, err := h.MarshalTo(b)
	if err != nil {
		p.t.Fatal(err)
	}
	for i := n; i < len(b); i++ {
		b[i] = 0xff
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
	return b
}

// expect reads until want arrives (earlier packets are skipped), failing at the deadline.
func (p *phone) expect(want []byte) {
	p.t.Helper()
	buf := make([]byte, 2048)
	_ = p.conn.SetReadDeadline(time.Now().Add(wait))
	for range 1000 {
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			p.t.Fatalf("packet never arrived: %v", err)
		}
		if bytes.Equal(buf[:n], want) {
			return
		}
	}
	p.t.Fatal("packet never arrived")
}

// next returns the next datagram.
func (p *phone) next() []byte {
	p.t.Helper()
	buf := make([]byte, 2048)
	_ = p.conn.SetReadDeadline(time.Now().Add(wait))
	n, _, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		p.t.Fatalf("no packet: %v", err)
	}
	return buf[:n]
}

// flows checks that a packet from the customer reaches the agent through addr, trying
// a few times (the first packets after a bind may be dropped while a leg latches).
func flows(t *testing.T, cust, agent *phone, addr netip.AddrPort) {
	t.Helper()
	pkt := cust.send(addr)
	agent.expect(pkt)
}

// call creates a session on n between two phones whose addresses are given (no latching
// wait) and returns it; the agent's ear is unmasked so packets pass at once.
func (tn *testNode) call(t *testing.T, callID string, cust, agent *phone) session.Info {
	t.Helper()
	in, err := tn.reg.Create(session.Spec{CallID: callID, AgentID: "agent-7",
		Customer: session.LegSpec{Remote: cust.addr()}, Agent: session.LegSpec{Remote: agent.addr()},
		Policy: session.Policy{StrictSource: true, IdleTimeout: time.Hour,
			CustomerToAgent: session.MaskPolicy{Mode: session.MaskOff}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.Sync(ctx(t), in.ID); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return in
}
