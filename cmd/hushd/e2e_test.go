package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/hushmedia/hush/media/relay"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// rtpStream makes varied RTP packets with pion/rtp: CSRCs, header extensions, padding and
// markers, so byte-exact forwarding is checked on more than the plain case.
type rtpStream struct {
	rng  *rand.Rand
	seq  uint16
	ts   uint32
	ssrc uint32
}

func newStream(seed uint64) *rtpStream {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &rtpStream{rng: r, seq: uint16(r.Uint32()), ts: r.Uint32(), ssrc: r.Uint32()}
}

func (s *rtpStream) next(t *testing.T) []byte {
	t.Helper()
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(s.rng.Uint32())
	}
	p := rtp.Packet{
		Header: rtp.Header{
			Version: 2, PayloadType: 8, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc,
			Marker: s.seq%7 == 0,
		},
		Payload: payload,
	}
	if s.seq%5 == 0 {
		p.CSRC = []uint32{s.rng.Uint32(), s.rng.Uint32()}
	}
	if s.seq%3 == 0 {
		if err := p.Header.SetExtension(1, []byte{0xaa, 0xbb}); err != nil {
			t.Fatal(err)
		}
	}
	if s.seq%4 == 0 {
		p.Padding, p.PaddingSize = true, 4
	}
	s.seq++
	s.ts += 160
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// receiverReport is a minimal RTCP RR (RFC 3550 6.4.2) with no report blocks.
func receiverReport(ssrc uint32) []byte {
	b := make([]byte, 8)
	b[0], b[1] = 0x80, 201
	binary.BigEndian.PutUint16(b[2:], 1)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	return b
}

func TestForwardBothWaysByteExact(t *testing.T) {
	d := startDaemon(t)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	// The customer's address is given; the agent's is latched from its packets. Unmasked
	// both ways (masking toward the agent is on by default): this is about forwarding.
	off := &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId: "call-forward", RequestId: "req-1", AgentId: "agent-1",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Policy:   &hushv1.Policy{CustomerToAgent: off},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	if ev := w.next(); ev.GetSnapshot().GetSessionId() != s.SessionId {
		t.Fatalf("first event is not the snapshot: %v", ev)
	}

	custIn, agentIn := s.Customer.LocalAddr, s.Agent.LocalAddr
	fromAgent, fromCust := newStream(1), newStream(2)
	// The agent's first packets are its latching probation (strict source: they wait); the
	// next one latches it and is forwarded.
	for range relay.LatchProbation - 1 {
		agent.send(agentIn, fromAgent.next(t))
	}
	const n = 200
	for i := 0; i < n; i++ {
		pkt := fromAgent.next(t)
		agent.send(agentIn, pkt)
		got, src := cust.recv()
		if !bytes.Equal(got, pkt) {
			t.Fatalf("agent->customer packet %d differs", i)
		}
		if src.String() != custIn {
			t.Fatalf("customer got media from %v, want hush's customer port %v (symmetric RTP)", src, custIn)
		}
		if i == 0 {
			ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetLatched() != nil })
			if l := ev.GetLatched(); l.Leg != hushv1.LegName_LEG_NAME_AGENT || l.RemoteAddr != agent.addr().String() {
				t.Fatalf("latched event %v", l)
			}
		}
		pkt = fromCust.next(t)
		cust.send(custIn, pkt)
		got, _ = agent.recv()
		if !bytes.Equal(got, pkt) {
			t.Fatalf("customer->agent packet %d differs", i)
		}
	}

	// RTCP both ways: to hush's RTCP ports, forwarded to the other party's RTCP address
	// (given: customer port+1; the agent's learned from its first RTCP packet).
	custRTCP := newEndpoint(t, "udp4", fmt.Sprintf("127.0.0.1:%d", cust.addr().Port()+1))
	agentRTCP := newEndpoint(t, "udp4", "127.0.0.1:0")
	rrA := receiverReport(0xa)
	agentRTCP.send(s.Agent.LocalRtcpAddr, rrA)
	if got, _ := custRTCP.recv(); !bytes.Equal(got, rrA) {
		t.Fatal("agent RTCP not forwarded byte-exact")
	}
	rrC := receiverReport(0xc)
	custRTCP.send(s.Customer.LocalRtcpAddr, rrC)
	if got, _ := agentRTCP.recv(); !bytes.Equal(got, rrC) {
		t.Fatal("customer RTCP not forwarded byte-exact")
	}

	settle(t, cust, agent, custIn, fromCust.next(t))
	settle(t, agent, cust, agentIn, fromAgent.next(t))
	settle(t, custRTCP, agentRTCP, s.Customer.LocalRtcpAddr, receiverReport(0xc1))
	settle(t, agentRTCP, custRTCP, s.Agent.LocalRtcpAddr, receiverReport(0xa1))
	got, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.Customer.Stats; st.RtpPacketsReceived != n+1 || !counted(float64(st.RtpPacketsSent), n+1) || st.RtcpPacketsReceived != 2 {
		t.Fatalf("customer stats %v", st)
	}
	if !got.Agent.Latched || got.Agent.RemoteAddr != agent.addr().String() {
		t.Fatalf("agent leg %v", got.Agent)
	}
	for _, dir := range []string{"customer_to_agent", "agent_to_customer"} {
		if v := d.metric(`hush_rtp_packets_total{direction="` + dir + `"}`); !counted(v, n+1) {
			t.Errorf("%s packets metric = %v, want %d", dir, v, n+1)
		}
		if v := d.metric(`hush_rtcp_packets_total{direction="` + dir + `"}`); !counted(v, 2) {
			t.Errorf("%s rtcp metric = %v, want 2", dir, v)
		}
	}

	fin, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: s.SessionId, RequestId: "del-1"})
	if err != nil || fin.State != hushv1.SessionState_SESSION_STATE_ENDED || fin.EndReason != hushv1.EndReason_END_REASON_DELETED {
		t.Fatalf("delete: %v %v", fin, err)
	}
	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetEnded() != nil })
	if ev.GetEnded().Reason != hushv1.EndReason_END_REASON_DELETED {
		t.Fatalf("ended event %v", ev)
	}
	if err := <-w.end; err.Error() != "EOF" {
		t.Fatalf("watch stream ended with %v, want EOF", err)
	}
	if v := d.metric(`hush_sessions_ended_total{reason="deleted"}`); v != 1 {
		t.Fatalf("ended metric %v", v)
	}
	if v := d.metric(`hush_sessions_active`); v != 0 {
		t.Fatalf("active metric %v", v)
	}
	// Ports are released: a session on the same range can be made again at once.
	if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "call-forward"}); err != nil {
		t.Fatalf("re-create after delete: %v", err)
	}
}

func TestStrictSourceDropsStrangers(t *testing.T) {
	d := startDaemon(t)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	stranger := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-strict",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := newStream(3)
	for i := 0; i < 10; i++ {
		stranger.send(s.Customer.LocalAddr, st.next(t))
	}
	real := st.next(t)
	cust.send(s.Customer.LocalAddr, real)
	if got, _ := agent.recv(); !bytes.Equal(got, real) {
		t.Fatal("real packet not forwarded")
	}
	// The stranger's packets were sent first on the same socket: they are all counted by now.
	if v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="source_mismatch"}`); v != 10 {
		t.Fatalf("source_mismatch drops = %v, want 10", v)
	}
	if agent.pending() {
		t.Fatal("a stranger's packet reached the agent")
	}
	got, _ := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId})
	if got.Customer.Stats.PacketsDropped != 10 {
		t.Fatalf("dropped stat %d", got.Customer.Stats.PacketsDropped)
	}

	// With strict source off for a session, the stranger's packets flow.
	s2, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-loose",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
		Policy:   &hushv1.Policy{StrictSource: hushv1.StrictSource_STRICT_SOURCE_OFF},
	})
	if err != nil {
		t.Fatal(err)
	}
	pkt := st.next(t)
	stranger.send(s2.Customer.LocalAddr, pkt)
	if got, _ := agent.recv(); !bytes.Equal(got, pkt) {
		t.Fatal("loose session did not forward")
	}
}

func TestRTCPMux(t *testing.T) {
	d := startDaemon(t)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-mux",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String(), RtcpMux: true},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String(), RtcpMux: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Customer.LocalRtcpAddr != s.Customer.LocalAddr {
		t.Fatalf("mux leg has a separate RTCP port: %v", s.Customer)
	}
	st := newStream(4)
	for i := 0; i < 5; i++ {
		for _, pkt := range [][]byte{st.next(t), receiverReport(uint32(i))} {
			cust.send(s.Customer.LocalAddr, pkt)
			if got, _ := agent.recv(); !bytes.Equal(got, pkt) {
				t.Fatal("customer->agent on mux differs")
			}
			agent.send(s.Agent.LocalAddr, pkt)
			if got, _ := cust.recv(); !bytes.Equal(got, pkt) {
				t.Fatal("agent->customer on mux differs")
			}
		}
	}
	settle(t, cust, agent, s.Customer.LocalAddr, receiverReport(99))
	if v := d.metric(`hush_rtcp_packets_total{direction="customer_to_agent"}`); !counted(v, 5) {
		t.Fatalf("mux RTCP counted %v", v)
	}
}

func TestReinviteMovesMedia(t *testing.T) {
	d := startDaemon(t)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	oldAgent := newEndpoint(t, "udp4", "127.0.0.1:0")
	newAgent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId:   "call-reinvite",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: oldAgent.addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	st := newStream(5)
	pkt := st.next(t)
	cust.send(s.Customer.LocalAddr, pkt)
	if got, _ := oldAgent.recv(); !bytes.Equal(got, pkt) {
		t.Fatal("before re-INVITE")
	}
	up, err := d.session.UpdateSession(d.ctx(), &hushv1.UpdateSessionRequest{
		SessionId: s.SessionId, RequestId: "reinvite-1",
		Agent:      &hushv1.Leg{RemoteAddr: newAgent.addr().String()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"agent.remote_addr"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.Agent.RemoteAddr != newAgent.addr().String() || up.Agent.LocalAddr != s.Agent.LocalAddr {
		t.Fatalf("after update: %v", up.Agent)
	}
	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetUpdated() != nil })
	if p := ev.GetUpdated().Paths; len(p) != 1 || p[0] != "agent.remote_addr" || ev.RequestId != "reinvite-1" {
		t.Fatalf("updated event %v", ev)
	}
	for i := 0; i < 20; i++ {
		pkt := st.next(t)
		cust.send(s.Customer.LocalAddr, pkt)
		if got, _ := newAgent.recv(); !bytes.Equal(got, pkt) {
			t.Fatal("after re-INVITE")
		}
	}
	if oldAgent.pending() {
		t.Fatal("old address still gets media after re-INVITE")
	}
	// The new agent address is now the one strict source accepts.
	pkt = st.next(t)
	newAgent.send(s.Agent.LocalAddr, pkt)
	if got, _ := cust.recv(); !bytes.Equal(got, pkt) {
		t.Fatal("new agent address not accepted")
	}
	// An unsupported path is refused.
	_, err = d.session.UpdateSession(d.ctx(), &hushv1.UpdateSessionRequest{
		SessionId: s.SessionId, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"call_id"}},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad mask path: %v", err)
	}
}

// TestIdleTimeoutEndsSession: once media has flowed, a session whose media stops ends after
// its idle timeout.
func TestIdleTimeoutEndsSession(t *testing.T) {
	d := startDaemon(t)
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId: "call-idle",
		Policy: &hushv1.Policy{IdleTimeout: durationpb.New(200e6)},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	// Three packets: a leg latches (and its media counts as started) only after a
	// consistent run, so one stray packet cannot turn the setup timeout into the idle one.
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	st := newStream(7)
	for range 3 {
		cust.send(s.Customer.LocalAddr, st.next(t))
	}
	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetEnded() != nil })
	if ev.GetEnded().Reason != hushv1.EndReason_END_REASON_IDLE_TIMEOUT {
		t.Fatalf("ended with %v", ev.GetEnded().Reason)
	}
	if _, err := d.session.GetSession(d.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); status.Code(err) != codes.NotFound {
		t.Fatalf("get after idle end: %v", err)
	}
	if v := d.metric(`hush_sessions_ended_total{reason="idle_timeout"}`); v != 1 {
		t.Fatalf("idle metric %v", v)
	}
}

// TestSetupTimeoutWaitsForMedia: a session whose media never started outlives its idle
// timeout (a call may still be ringing) and ends at media.setup_timeout, counted from its
// creation; a session the README walkthrough creates no longer vanishes before hang-up.
func TestSetupTimeoutWaitsForMedia(t *testing.T) {
	const idle, setup = 200 * time.Millisecond, 1500 * time.Millisecond
	d := startDaemon(t, "--media-setup-timeout", setup.String())
	start := time.Now()
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{
		CallId: "call-ringing", Policy: &hushv1.Policy{IdleTimeout: durationpb.New(idle)},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := d.watch(s.SessionId)
	ev := w.until(func(e *hushv1.SessionEvent) bool { return e.GetEnded() != nil })
	if took := time.Since(start); took < setup {
		t.Fatalf("a session without media ended after %v, before media.setup_timeout %v (idle timeout %v)", took, setup, idle)
	}
	if ev.GetEnded().Reason != hushv1.EndReason_END_REASON_IDLE_TIMEOUT {
		t.Fatalf("ended with %v", ev.GetEnded().Reason)
	}
	if !d.log.waitFor("no media since it was created", wait) {
		t.Fatalf("the log does not say why the session ended:\n%s", d.log)
	}
}
