package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/media/relay/relaytest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// wait bounds every wait in these tests: nothing sleeps, everything waits for an event
// with this deadline.
const wait = 5 * time.Second

// syncBuffer collects hushd's log output.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // closed (and replaced) by each Write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.b.Write(p)
}

// waitFor reports whether the log holds sub within d, woken by each write: a line logged
// just after the event a test waited for is not yet there when the event arrives.
func (s *syncBuffer) waitFor(sub string, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for range 100000 {
		s.mu.Lock()
		if strings.Contains(s.b.String(), sub) {
			s.mu.Unlock()
			return true
		}
		if s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		select {
		case <-wrote:
		case <-deadline.C:
			return strings.Contains(s.String(), sub)
		}
	}
	return false
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is an in-process hushd on loopback with its own listeners and media port range.
type daemon struct {
	t       *testing.T
	ready   ready
	cancel  context.CancelFunc
	done    chan error
	log     *syncBuffer
	conn    *grpc.ClientConn
	session hushv1.SessionServiceClient
	admin   hushv1.AdminServiceClient
}

// mediaRange leases each daemon n media ports of its own for the test's life, so parallel
// tests, packages and checkouts on one host never compete for them (relaytest.Ports).
func mediaRange(t testing.TB, n int) (int, int) { return relaytest.Ports(t, n) }

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	lo, hi := mediaRange(t, 40)
	base := []string{
		"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", strconv.Itoa(lo), "--media-port-max", strconv.Itoa(hi),
		"--recording-enabled=false", "--session-drain-timeout", "0s",
		// Tests send faster than real time; the per-socket cap has its own test.
		"--media-rate-limit-pps", "0",
		// hushd shares this test process and its two processors with the parallel tests
		// and their judges; a stall there must not turn into stale drops in streams a
		// test counts packet by packet. The bound has its own tests (media/relay).
		"--media-max-queue-delay", "0s",
		"--audit-file", filepath.Join(t.TempDir(), "audit.jsonl"),
		// Recording keys of the test's own, never a key file in the package directory.
		"--recording-key-file", filepath.Join(t.TempDir(), "keys", "recording.kek"),
	}
	d := &daemon{t: t, log: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	readyc := make(chan ready, 1)
	go func() {
		d.done <- run(ctx, append(base, args...), nil, io.Discard, d.log, readyc)
	}()
	select {
	case d.ready = <-readyc:
	case err := <-d.done:
		t.Fatalf("hushd exited at start: %v\n%s", err, d.log)
	case <-time.After(wait):
		t.Fatalf("hushd not ready\n%s", d.log)
	}
	conn, err := grpc.NewClient(d.ready.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	d.conn = conn
	d.session = hushv1.NewSessionServiceClient(conn)
	d.admin = hushv1.NewAdminServiceClient(conn)
	t.Cleanup(func() { d.stop() })
	return d
}

// stop cancels hushd (as SIGTERM does) and returns run's result.
func (d *daemon) stop() error {
	d.cancel()
	select {
	case err := <-d.done:
		d.done <- err
		d.conn.Close()
		return err
	case <-time.After(2 * wait):
		d.t.Errorf("hushd did not stop\n%s", d.log)
		return fmt.Errorf("timeout")
	}
}

func (d *daemon) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	d.t.Cleanup(cancel)
	return ctx
}

// metric scrapes /metrics and returns the value of one sample line, e.g.
// `hush_rtp_packets_total{direction="customer_to_agent"}`; -1 when absent.
func (d *daemon) metric(sample string) float64 {
	d.t.Helper()
	resp, err := http.Get("http://" + d.ready.HTTP + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == sample {
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				d.t.Fatal(err)
			}
			return v
		}
	}
	return -1
}

// drops returns hushd's packet drop counters, the lines of /metrics that count a
// reason, for a test's failure message: what hushd itself dropped, and why.
func (d *daemon) drops() string {
	d.t.Helper()
	resp, err := http.Get("http://" + d.ready.HTTP + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "hush_packets_dropped_total{") && !strings.HasSuffix(l, " 0") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// endpoint is a phone: a UDP socket on loopback.
type endpoint struct {
	t    *testing.T
	conn *net.UDPConn
	buf  []byte
}

func newEndpoint(t *testing.T, network, addr string) *endpoint {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &endpoint{t: t, conn: c, buf: make([]byte, 2048)}
}

func (e *endpoint) addr() netip.AddrPort { return e.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (e *endpoint) send(to string, b []byte) {
	e.t.Helper()
	if _, err := e.conn.WriteToUDPAddrPort(b, netip.MustParseAddrPort(to)); err != nil {
		e.t.Fatal(err)
	}
}

// recv returns the next datagram and its source, failing after the deadline.
func (e *endpoint) recv() ([]byte, netip.AddrPort) {
	e.t.Helper()
	_ = e.conn.SetReadDeadline(time.Now().Add(wait))
	n, from, err := e.conn.ReadFromUDPAddrPort(e.buf)
	if err != nil {
		e.t.Fatalf("recv on %v: %v", e.addr(), err)
	}
	return append([]byte(nil), e.buf[:n]...), from
}

// pending reports whether a datagram is already queued, without waiting for one and without
// taking it. Call it after a later packet of the same path came through: loopback queues a
// datagram during the sender's send, so whatever was forwarded before is queued by then.
// It peeks at the socket itself: a Go read whose deadline has already passed fails before it
// looks, and a read with a short deadline would judge by timing.
func (e *endpoint) pending() bool {
	e.t.Helper()
	rc, err := e.conn.SyscallConn()
	if err != nil {
		e.t.Fatal(err)
	}
	var one [1]byte
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		_, _, rerr = syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}); err != nil {
		e.t.Fatal(err)
	}
	switch {
	case rerr == nil:
		return true
	case errors.Is(rerr, syscall.EAGAIN):
		return false
	}
	e.t.Fatalf("peek on %v: %v", e.addr(), rerr)
	return false
}

// watcher collects a session's events from WatchSession.
type watcher struct {
	t  *testing.T
	ch chan *hushv1.SessionEvent
	// end receives the stream's final error (io.EOF for a clean end).
	end chan error
	// first is the snapshot, read by watch so that the subscription is in place on the
	// server before the test goes on; next returns it first.
	first *hushv1.SessionEvent
}

func (d *daemon) watch(id string) *watcher {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d.t.Cleanup(cancel)
	st, err := d.session.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: id})
	if err != nil {
		d.t.Fatal(err)
	}
	w := &watcher{t: d.t, ch: make(chan *hushv1.SessionEvent, 1024), end: make(chan error, 1)}
	go func() {
		for {
			ev, err := st.Recv()
			if err != nil {
				w.end <- err
				close(w.ch)
				return
			}
			w.ch <- ev
		}
	}()
	// Wait for the snapshot: until it arrives the server may not have subscribed yet, and
	// a change made now could be missed.
	w.first = w.next()
	return w
}

// next returns the next event, failing after the deadline.
func (w *watcher) next() *hushv1.SessionEvent {
	w.t.Helper()
	if ev := w.first; ev != nil {
		w.first = nil
		return ev
	}
	select {
	case ev, ok := <-w.ch:
		if !ok {
			w.t.Fatalf("watch ended: %v", <-w.end)
		}
		return ev
	case <-time.After(wait):
		w.t.Fatal("no event")
	}
	return nil
}

// until skips events until one satisfies ok.
func (w *watcher) until(ok func(*hushv1.SessionEvent) bool) *hushv1.SessionEvent {
	w.t.Helper()
	for i := 0; i < 1000; i++ {
		if ev := w.next(); ok(ev) {
			return ev
		}
	}
	w.t.Fatal("event never came")
	return nil
}

// settle sends one more packet from one endpoint through hush to another and waits for it.
// A direction's goroutine counts a packet after sending it, so a receiver can see a packet
// before its counters move; once a later packet of the same socket has arrived, every
// earlier one is counted. Counters then read n or n+1 (the settling packet itself).
func settle(t *testing.T, from, to *endpoint, hushIn string, pkt []byte) {
	t.Helper()
	from.send(hushIn, pkt)
	for i := 0; i < 100; i++ {
		if got, _ := to.recv(); bytes.Equal(got, pkt) {
			return
		}
	}
	t.Fatal("settling packet did not arrive")
}

// counted checks a settled counter: n, or n+1 with the settling packet counted too.
func counted(v float64, n int) bool { return v == float64(n) || v == float64(n+1) }

// TestEndpointPending proves the helper every "nothing else arrived" check rests on: it
// sees a queued datagram without taking it, and says false on an empty socket. B is sent
// after A on the same path, so once A has been read B is queued.
func TestEndpointPending(t *testing.T) {
	from := newEndpoint(t, "udp4", "127.0.0.1:0")
	to := newEndpoint(t, "udp4", "127.0.0.1:0")
	if to.pending() {
		t.Fatal("pending on a socket nothing was sent to")
	}
	from.send(to.addr().String(), []byte("A"))
	from.send(to.addr().String(), []byte("B"))
	if got, _ := to.recv(); string(got) != "A" {
		t.Fatalf("first datagram %q", got)
	}
	if !to.pending() {
		t.Fatal("a queued datagram not seen")
	}
	if !to.pending() {
		t.Fatal("pending took the datagram it saw")
	}
	if got, _ := to.recv(); string(got) != "B" {
		t.Fatalf("second datagram %q", got)
	}
	if to.pending() {
		t.Fatal("pending after the queue was drained")
	}
}
