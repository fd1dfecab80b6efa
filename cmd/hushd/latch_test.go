package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/hushmedia/hush/media/relay"
	"github.com/hushmedia/hush/media/udpio"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// attackerHost is another loopback address (Linux routes all of 127/8 to lo): a host other
// than the parties', so that "another IP" can be tested on one machine.
const attackerHost = "127.0.0.2:0"

// forEngine runs f on a hushd per media engine this kernel allows: latching must behave the
// same on all of them.
func forEngine(t *testing.T, f func(t *testing.T, engine string)) {
	for _, kind := range []string{udpio.Portable, udpio.Epoll, udpio.IOURing} {
		t.Run(kind, func(t *testing.T) {
			e, err := udpio.New(kind, udpio.Options{})
			if errors.Is(err, udpio.ErrUnavailable) {
				t.Skipf("engine %s: %v", kind, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			e.Close()
			f(t, kind)
		})
	}
}

// freeMediaRange finds n ports (from an even one) that nothing on this host holds now, at a
// random place below the kernel's ephemeral range, for a hushd whose whole range a test
// scans: the scan then reaches that hushd's sockets and nobody else's.
func freeMediaRange(t *testing.T, n int) (int, int) {
	t.Helper()
	for range 50 {
		lo := 20000 + 2*rand.IntN(5000-n)
		ok := true
		var held []*net.UDPConn
		for p := lo; p < lo+n && ok; p++ {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(p))))
			if ok = err == nil; ok {
				held = append(held, c)
			}
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return lo, lo + n - 1
		}
	}
	t.Fatal("no free port range")
	return 0, 0
}

// latchEvents reads a watch stream until want(events so far) holds, and returns what came.
func latchEvents(w *watcher, want func(map[string]*hushv1.SessionEvent) bool) map[string]*hushv1.SessionEvent {
	w.t.Helper()
	got := map[string]*hushv1.SessionEvent{}
	for range 1000 {
		ev := w.next()
		switch {
		case ev.GetLatched() != nil:
			got["latched "+ev.GetLatched().Leg.String()+" "+ev.GetLatched().Kind] = ev
		case ev.GetLatchRejected() != nil:
			r := ev.GetLatchRejected()
			got["rejected "+r.Leg.String()+" "+r.Reason] = ev
		}
		if want(got) {
			return got
		}
	}
	w.t.Fatal("events never came")
	return nil
}

func has(keys ...string) func(map[string]*hushv1.SessionEvent) bool {
	return func(m map[string]*hushv1.SessionEvent) bool {
		for _, k := range keys {
			if m[k] == nil {
				return false
			}
		}
		return true
	}
}

// TestMediaScanDoesNotHijackLeg is the reported attack through hushd, on every engine: the
// agent leg waits to latch and an attacker on another host sends one RTP packet to every
// port of hushd's media range. The real agent then latches, gets all 250 of the customer's
// packets byte for byte, and the attacker none. The watch stream reports the attempts
// (latch_rejected on both legs, naming the attacker), so do the leg's counters and
// hush_latch_rejected_total; an attempt during the call is refused and reported too.
func TestMediaScanDoesNotHijackLeg(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, engine string) {
		// A small range of its own (two sessions' worth), all of which the attacker scans.
		lo, hi := freeMediaRange(t, 8)
		d := startDaemon(t, "--media-engine", engine, "--media-port-min", strconv.Itoa(lo), "--media-port-max", strconv.Itoa(hi))
		attacker := newEndpoint(t, "udp4", attackerHost)
		cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "scan-" + engine, AgentId: "agent-3",
			Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{},
			Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}}})
		if err != nil {
			t.Fatal(err)
		}
		w := d.watch(s.SessionId)
		scan := newStream(66).next(t)
		for port := lo; port <= hi; port++ {
			attacker.send(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String(), scan)
		}
		fromAgent, fromCust := newStream(7), newStream(8)
		for range relay.LatchProbation {
			agent.send(s.Agent.LocalAddr, fromAgent.next(t))
		}
		evs := latchEvents(w, has("latched LEG_NAME_AGENT rtp", "rejected LEG_NAME_AGENT competing_source", "rejected LEG_NAME_CUSTOMER other_source"))
		if got := evs["latched LEG_NAME_AGENT rtp"].GetLatched().RemoteAddr; got != agent.addr().String() {
			t.Fatalf("the agent leg latched to %s, not the agent %v", got, agent.addr())
		}
		for _, k := range []string{"rejected LEG_NAME_AGENT competing_source", "rejected LEG_NAME_CUSTOMER other_source"} {
			if r := evs[k].GetLatchRejected(); r.SourceAddr != attacker.addr().String() || r.Count != 1 {
				t.Errorf("%s: %v, want the attacker %v, count 1", k, r, attacker.addr())
			}
		}
		for i := range 250 {
			pkt := fromCust.next(t)
			cust.send(s.Customer.LocalAddr, pkt)
			if got, src := agent.recv(); !bytes.Equal(got, pkt) || src.String() != s.Agent.LocalAddr {
				t.Fatalf("customer packet %d: the agent got %d bytes from %v", i, len(got), src)
			}
		}
		// During the call: the attacker sends a stream of its own at the agent's port.
		for range 5 {
			attacker.send(s.Agent.LocalAddr, fromAgent.next(t))
		}
		pkt := fromCust.next(t)
		settle(t, cust, agent, s.Customer.LocalAddr, pkt)
		if r := latchEvents(w, has("rejected LEG_NAME_AGENT other_source"))["rejected LEG_NAME_AGENT other_source"].GetLatchRejected(); r.SourceAddr != attacker.addr().String() {
			t.Errorf("attempt during the call: %v", r)
		}
		settle(t, agent, cust, s.Agent.LocalAddr, fromAgent.next(t))
		if attacker.pending() {
			t.Fatal("the attacker received media")
		}
		got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
		if err != nil || got.Agent.RemoteAddr != agent.addr().String() || !got.Agent.Latched ||
			got.Agent.Stats.LatchRejected != 6 || got.Customer.Stats.LatchRejected != 1 {
			t.Fatalf("session %v %v", got, err)
		}
		for sample, want := range map[string]float64{
			`hush_latch_rejected_total{leg="agent",reason="competing_source"}`: 1,
			`hush_latch_rejected_total{leg="agent",reason="other_source"}`:     5,
			`hush_latch_rejected_total{leg="customer",reason="other_source"}`:  1,
			`hush_latch_rejected_total{leg="agent",reason="unexpected_ip"}`:    0,
		} {
			if v := d.metric(sample); v != want {
				t.Errorf("%s = %v, want %v", sample, v, want)
			}
		}
	})
}

// TestExpectedIPLatches: a leg given expected_ip latches to the first packet from that IP,
// on any port, and never to another host, however consistent its stream; the refusals are
// reported as unexpected_ip.
func TestExpectedIPLatches(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, engine string) {
		d := startDaemon(t, "--media-engine", engine)
		attacker := newEndpoint(t, "udp4", attackerHost)
		cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "expect-" + engine,
			Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{ExpectedIp: "127.0.0.1"},
			Policy: &hushv1.Policy{CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}}})
		if err != nil {
			t.Fatal(err)
		}
		if s.Agent.ExpectedIp != "127.0.0.1" {
			t.Fatalf("agent leg %v", s.Agent)
		}
		w := d.watch(s.SessionId)
		bad := newStream(9)
		for range 2 * relay.LatchProbation {
			attacker.send(s.Agent.LocalAddr, bad.next(t))
		}
		r := latchEvents(w, has("rejected LEG_NAME_AGENT unexpected_ip"))["rejected LEG_NAME_AGENT unexpected_ip"].GetLatchRejected()
		if r.SourceAddr != attacker.addr().String() {
			t.Errorf("refusal %v", r)
		}
		good := newStream(10)
		agent.send(s.Agent.LocalAddr, good.next(t)) // one packet
		l := latchEvents(w, has("latched LEG_NAME_AGENT rtp"))["latched LEG_NAME_AGENT rtp"].GetLatched()
		if l.RemoteAddr != agent.addr().String() {
			t.Fatalf("latched to %s, want %v", l.RemoteAddr, agent.addr())
		}
		settle(t, cust, agent, s.Customer.LocalAddr, newStream(11).next(t))
		if attacker.pending() {
			t.Fatal("the other host received media")
		}
		got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
		if err != nil || got.Agent.Stats.LatchRejected != 2*relay.LatchProbation {
			t.Fatalf("agent leg %v %v", got.GetAgent(), err)
		}
		if v := d.metric(`hush_latch_rejected_total{leg="agent",reason="unexpected_ip"}`); v != 2*relay.LatchProbation {
			t.Errorf("unexpected_ip refusals %v", v)
		}
	})
}
