package udpio

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewKinds(t *testing.T) {
	for _, k := range []string{"", Portable, Auto} {
		e, err := New(k, Options{})
		if err != nil {
			t.Fatalf("%q: %v", k, err)
		}
		if e.Name() == "" {
			t.Fatalf("%q: no name", k)
		}
		t.Logf("%q runs as %s", k, e.Name())
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New("kqueue", Options{}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := New(Portable, Options{BusyPoll: time.Millisecond}); err == nil {
		t.Fatal("the portable engine accepted a busy poll it cannot do")
	}
}

// echo is a Handler that sends every datagram back to its source from its
// socket, and asks for an expiry once, after its first datagram.
type echo struct {
	tm      Timer
	sock    Socket
	send    SendFunc
	due     time.Time
	expired chan struct{}
	closed  atomic.Bool
	warmed  atomic.Int64
}

func (h *echo) Packet(buf []byte, n int, src netip.AddrPort, _ time.Duration, now time.Time) bool {
	if n > MaxDatagram {
		return true
	}
	if h.due.IsZero() {
		h.due = time.Now().Add(2 * time.Millisecond)
	}
	return h.send(h.sock, buf[:n], src) == nil
}

func (h *echo) Due(time.Time) (time.Time, bool) {
	return h.due, !h.due.IsZero() && h.expired != nil
}

func (h *echo) Expire(time.Time, bool) {
	if h.expired != nil {
		close(h.expired)
		h.expired = nil
	}
}

func (h *echo) GraceDue(time.Time) bool { return false }
func (h *echo) SendFailed()             {}
func (h *echo) WarmLevels() int         { return 1 }
func (h *echo) Warm(Work, int)          { h.warmed.Add(1) }
func (h *echo) Timer() *Timer           { return &h.tm }
func (h *echo) Close()                  { h.closed.Store(true) }

// TestEngines: each engine, alone: a handler gets the datagrams of its
// socket and sends through the engine's SendFunc; its Due time brings an
// Expire; Detach closes it. The workers of epoll and io_uring do so also
// when they busy-poll (Options.BusyPoll): here longer than the Due time,
// so the expiry comes from polling.
func TestEngines(t *testing.T) {
	for _, tc := range []struct {
		name, k string
		busy    time.Duration
	}{
		{Portable, Portable, 0},
		{Epoll, Epoll, 0},
		{IOURing, IOURing, 0},
		{Epoll + "/busy-poll", Epoll, 50 * time.Millisecond},
		{IOURing + "/busy-poll", IOURing, 50 * time.Millisecond},
	} {
		k := tc.k
		t.Run(tc.name, func(t *testing.T) {
			e, s := engineSocket(t, k, Options{Workers: 1, BusyPoll: tc.busy})
			lo := netip.MustParseAddrPort("127.0.0.1:0")
			local := localAddr(t, s)
			h := &echo{sock: s, expired: make(chan struct{})}
			expired := h.expired
			g := &Group{Endpoints: []Endpoint{{Socket: s, New: func(send SendFunc, exact bool) Handler {
				h.send = send
				return h
			}}}}
			if err := e.Attach(g); err != nil {
				t.Fatal(err)
			}
			peer, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(lo))
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			buf := make([]byte, 64)
			for i := range 5 {
				if _, err := peer.WriteToUDPAddrPort([]byte{byte(i)}, local); err != nil {
					t.Fatal(err)
				}
				peer.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, _, err := peer.ReadFromUDPAddrPort(buf)
				if err != nil || n != 1 || buf[0] != byte(i) {
					t.Fatalf("echo %d: %v %v", i, buf[:n], err)
				}
			}
			select {
			case <-expired:
			case <-time.After(5 * time.Second):
				t.Fatal("no Expire after the Due time passed")
			}
			e.Detach(g)
			if !h.closed.Load() {
				t.Fatal("Detach returned before the handler's Close")
			}
			if k == IOURing && h.warmed.Load() == 0 {
				t.Error("the io_uring engine never warmed the handler")
			}
		})
	}
}

// localAddr is s's bound address.
func localAddr(t testing.TB, s Socket) netip.AddrPort {
	t.Helper()
	if c := s.Conn(); c != nil {
		return c.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	ap, err := rawLocalAddr(int(s.fd))
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// BenchmarkEngineEcho: one datagram to an engine's socket and its echo back,
// in lockstep, per engine: the engine's own cost per receive and send (and
// the loopback's), with a handler that does nothing else.
func BenchmarkEngineEcho(b *testing.B) {
	for _, k := range []string{Portable, Epoll, IOURing} {
		b.Run(k, func(b *testing.B) {
			e, s := engineSocket(b, k, Options{Workers: 1, Linger: -1})
			lo := netip.MustParseAddrPort("127.0.0.1:0")
			h := &echo{sock: s}
			g := &Group{Endpoints: []Endpoint{{Socket: s, New: func(send SendFunc, _ bool) Handler {
				h.send = send
				return h
			}}}}
			if err := e.Attach(g); err != nil {
				b.Fatal(err)
			}
			defer e.Detach(g)
			peer, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(lo))
			if err != nil {
				b.Fatal(err)
			}
			defer peer.Close()
			local, out, in := localAddr(b, s), make([]byte, 172), make([]byte, 256)
			peer.SetReadDeadline(time.Now().Add(time.Minute))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := peer.WriteToUDPAddrPort(out, local); err != nil {
					b.Fatal(err)
				}
				if _, _, err := peer.ReadFromUDPAddrPort(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// engineSocket starts engine k (skipping when this kernel lacks it) and opens a loopback
// socket of the kind it serves; both close when the test ends.
func engineSocket(tb testing.TB, k string, opts Options) (Engine, Socket) {
	tb.Helper()
	e, err := New(k, opts)
	if errors.Is(err, ErrUnavailable) {
		tb.Skipf("engine %s: %v", k, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	var s Socket
	if e.Raw() {
		s, err = Listen(lo)
	} else {
		var c *net.UDPConn
		c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(lo))
		s = ConnSocket(c)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return e, s
}
