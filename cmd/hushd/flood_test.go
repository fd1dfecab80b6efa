package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/internal/connlimit"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// dialerFrom dials from a given loopback address, so a test can play many clients.
func dialerFrom(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: wait}
}

// httpFrom is an HTTP client whose connections come from ip; it keeps none idle.
func httpFrom(ip string) *http.Client {
	return &http.Client{Timeout: wait, Transport: &http.Transport{DialContext: dialerFrom(ip).DialContext, DisableKeepAlives: true}}
}

// flood opens n idle TCP connections to addr, spread over source addresses 127.0.0.X for
// X in ips, and returns them (the server may already have closed some).
func flood(t *testing.T, addr string, n int, ips ...int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for i := range n {
		c, err := dialerFrom(fmt.Sprintf("127.0.0.%d", ips[i%len(ips)])).Dial("tcp", addr)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		out = append(out, c)
	}
	t.Cleanup(func() {
		for _, c := range out {
			c.Close()
		}
	})
	return out
}

// metricsFrom scrapes /metrics from ip and returns the samples whose name has prefix.
func metricsFrom(t *testing.T, ip, addr, prefix string) map[string]float64 {
	t.Helper()
	resp, err := httpFrom(ip).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && strings.HasPrefix(name, prefix) {
			out[name], _ = strconv.ParseFloat(val, 64)
		}
	}
	return out
}

// rtpFlow sends n RTP packets, one every 20 ms, from one endpoint to hush and counts what
// arrives at the other end, in order.
type rtpFlow struct {
	sent, got atomic.Int64
	misorder  atomic.Int64
	stop      chan struct{} // closed when the last packet is sent
	done      chan struct{} // closed when the receiver is done
}

func startRTP(t *testing.T, from, to *endpoint, hushIn string, n int) *rtpFlow {
	f := &rtpFlow{stop: make(chan struct{}), done: make(chan struct{})}
	go func() { // receiver: until the sender stopped and the last packet is in, or a deadline
		var next uint16
		buf := make([]byte, 2048)
		for {
			_ = to.conn.SetReadDeadline(time.Now().Add(time.Second))
			n, _, err := to.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				select {
				case <-f.stop:
					close(f.done)
					return
				default:
					continue
				}
			}
			if n >= 12 {
				if seq := binary.BigEndian.Uint16(buf[2:]); seq != next {
					f.misorder.Add(1)
				}
				next = binary.BigEndian.Uint16(buf[2:]) + 1
				f.got.Add(1)
			}
		}
	}()
	go func() {
		clk := newPhoneClock(audioPtime)
		pkt := make([]byte, 12+160)
		pkt[0], pkt[1] = 0x80, 0 // PCMU
		binary.BigEndian.PutUint32(pkt[8:], 0xf100d)
		defer close(f.stop)
		for seq := range uint16(n) {
			clk.wait(nil, int(seq)+1)
			binary.BigEndian.PutUint16(pkt[2:], seq)
			binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
			if _, err := from.conn.WriteToUDPAddrPort(pkt, netip.MustParseAddrPort(hushIn)); err != nil {
				return
			}
			f.sent.Add(1)
		}
	}()
	return f
}

// TestConnectionFloodSparesCalls is the load test of the connection caps, beside a live
// call. hushd runs as a process limited to 1024 file descriptors (the kind of limit the
// attack exhausted with 21,000 idle connections) with a reserve of 256 for media. While
// RTP flows through a call, 4,000 idle TCP connections come from one address (3,000 to
// gRPC, 1,000 to HTTP) and 2,000 more to gRPC from ten others. Then: the call lost no
// packet; a new call created on the platform's open connection gets its media sockets
// and relays; /healthz and /metrics answer other addresses; hushd holds fewer than its
// limit less half the reserve; the refusals are counted by reason. Without the caps the
// flood took every descriptor: /healthz stopped answering and CreateSession failed.
func TestConnectionFloodSparesCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 6,000 connections; skipped with -short")
	}
	// The test itself holds the flood's 6,000 connections.
	if soft, _, err := connlimit.RaiseFileLimit(); err != nil || soft < 8000 {
		msg := fmt.Sprintf("needs 8000 file descriptors, RLIMIT_NOFILE allows %d (%v): raise it (ulimit -n)", soft, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin := buildHushd(t)
	lo, hi := mediaRange(t, 20)
	const limit, reserve = 1024, 256
	c := startChild(t, bin, "ulimit -n "+itoa(limit), "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", itoa(lo), "--media-port-max", itoa(hi), "--recording-enabled=false",
		"--session-drain-timeout", "0s", "--media-rate-limit-pps", "0", "--audit-file", "",
		"--media-fd-reserve", itoa(reserve),
		// The flood is held for the whole test: idle connections are not timed out here
		// (TestIdleConnectionsClosed shows they are).
		"--grpc-handshake-timeout", "1m")
	if !strings.Contains(c.logText(), "soft_limit="+itoa(limit)) {
		t.Fatalf("hushd does not run with %d descriptors:\n%s", limit, c.logText())
	}
	// The platform's connection, open before the flood, as an SBC's is.
	cc, err := grpc.NewClient(c.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialerFrom("127.0.0.1").DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	platform := hushv1.NewSessionServiceClient(cc)
	call := func(name string) (*hushv1.Session, *endpoint, *endpoint) {
		t.Helper()
		cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		s, err := platform.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: name,
			Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{RemoteAddr: agent.addr().String()}})
		if err != nil {
			t.Fatalf("CreateSession %s: %v", name, err)
		}
		return s, cust, agent
	}
	s, cust, agent := call("live")
	// 6 s of audio: the flood below lasts longer.
	live := startRTP(t, cust, agent, s.Customer.LocalAddr, 300)

	start := time.Now()
	one := flood(t, c.grpc, 3000, 2)
	one = append(one, flood(t, c.http, 1000, 2)...)
	many := flood(t, c.grpc, 2000, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	opened := time.Since(start)

	// /healthz from elsewhere answers, and quickly.
	t0 := time.Now()
	resp, err := httpFrom("127.0.0.100").Get("http://" + c.http + "/healthz")
	if err != nil {
		t.Fatalf("/healthz during the flood: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	healthz := time.Since(t0)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("/healthz during the flood: %d %q", resp.StatusCode, body)
	}
	// A new call, on the platform's open connection, gets its sockets and relays.
	s2, cust2, agent2 := call("during-flood")
	settle(t, cust2, agent2, s2.Customer.LocalAddr, []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0xff})
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", c.pid()))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) > limit-reserve/2 {
		t.Errorf("hushd holds %d descriptors during the flood, more than its limit %d less half the reserve", len(fds), limit)
	}
	refused := metricsFrom(t, "127.0.0.101", c.http, "hush_connections_refused_total")
	for _, k := range []string{`{listener="grpc",reason="per_ip"}`, `{listener="grpc",reason="descriptors"}`, `{listener="http",reason="per_ip"}`} {
		if refused["hush_connections_refused_total"+k] == 0 {
			t.Errorf("no refusal counted for %s: %v", k, refused)
		}
	}

	// The call ends while the flood is still held; then count.
	<-live.done
	if live.got.Load() != live.sent.Load() || live.misorder.Load() != 0 {
		t.Errorf("the live call under the flood: %d of %d packets arrived, %d out of order", live.got.Load(), live.sent.Load(), live.misorder.Load())
	}
	t.Logf("flood: %d connections from 127.0.0.2 and %d from ten other addresses opened in %v; /healthz answered in %v; "+
		"hushd held %d of %d descriptors; refused %v; live call %d/%d packets",
		len(one), len(many), opened.Round(time.Millisecond), healthz.Round(time.Microsecond), len(fds), limit, refused,
		live.got.Load(), live.sent.Load())
}

// TestIdleConnectionsClosed: a TCP connection that never finishes its handshake is closed
// after grpc.handshake_timeout; one that sends no HTTP request after the HTTP header
// timeout (5 s).
func TestIdleConnectionsClosed(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, "--grpc-handshake-timeout", "200ms")
	conn, err := net.DialTimeout("tcp", d.ready.GRPC, wait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	t0 := time.Now()
	// hushd sends its HTTP/2 SETTINGS at once; then, with no preface from us, it closes.
	if _, err = io.Copy(io.Discard, conn); err != nil && !isReset(err) {
		t.Fatalf("idle gRPC connection: %v after %v, want closed by hushd", err, time.Since(t0))
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("idle gRPC connection closed after %v, want about 200ms", el)
	}

	hc, err := net.DialTimeout("tcp", d.ready.HTTP, wait)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	_ = hc.SetReadDeadline(time.Now().Add(2 * httpHeaderTimeout))
	t0 = time.Now()
	if _, err := io.Copy(io.Discard, hc); err != nil && !isReset(err) {
		t.Fatalf("idle HTTP connection: %v after %v, want closed by hushd", err, time.Since(t0))
	}
	if el := time.Since(t0); el < httpHeaderTimeout/2 || el > httpHeaderTimeout+2*time.Second {
		t.Errorf("idle HTTP connection closed after %v, want about %v", el, httpHeaderTimeout)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "reset")
}
