package cluster

import (
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/srtp"
)

// legStats is a leg's counters on the node running the session now.
func legStats(t *testing.T, tn *testNode, id string, l session.Leg) session.LegStats {
	t.Helper()
	in, err := tn.reg.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return in.Leg(l).Stats
}

func drops(st session.LegStats, reason string) uint64 {
	for _, d := range st.Drops {
		if d.Reason == reason {
			return d.N
		}
	}
	return 0
}

// TestTakeoverKeepsFlowsSRTPFailsClosed: what a session was told after it began survives
// a crash of its node. A direction blocked before the crash forwards nothing after the
// standby takes the call over (the other direction, still forwarded, proves the path). An
// SRTP leg, whose keys the directory never holds, comes back SRTP without keys: its
// packets are dropped (srtp_no_key) and nothing goes to it, never plain RTP; the move
// names the leg, and the directory's entry holds no key. Keys given again by an update
// bring the leg back.
func TestTakeoverKeepsFlowsSRTPFailsClosed(t *testing.T) {
	f := newFleet(t)
	a := f.node("a", "127.0.0.1", "127.0.0.1")
	b := f.node("b", "127.0.0.1", "127.0.0.1")

	// Call 1: plain, the customer blocked toward the agent.
	cust1, agent1 := newPhone(t, 1), newPhone(t, 2)
	blocked := a.call(t, "call-1", cust1, agent1)
	block := session.FlowBlock
	if _, err := a.reg.Update(blocked.ID, session.Update{Actor: "test", Flows: [2]*session.MediaFlow{session.CustomerToAgent: &block}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx(t), blocked.ID); err != nil {
		t.Fatal(err)
	}

	// Call 2: the customer plain, the agent's phone SRTP.
	agentKey, hushKey := testKey(), testKey()
	cust2, agent2 := newPhone(t, 3), newPhone(t, 4)
	sec, err := a.reg.Create(session.Spec{CallID: "call-2", AgentID: "agent-7",
		Customer: session.LegSpec{Remote: cust2.addr()},
		Agent:    session.LegSpec{Remote: agent2.addr(), SRTP: &srtp.Keys{Recv: agentKey, Send: hushKey}},
		Policy: session.Policy{StrictSource: true, IdleTimeout: wait,
			CustomerToAgent: session.MaskPolicy{Mode: session.MaskOff}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx(t), sec.ID); err != nil {
		t.Fatal(err)
	}
	_, data, ok, err := f.dir().load(ctx(t), sec.ID)
	if err != nil || !ok {
		t.Fatalf("directory entry: %v %v", ok, err)
	}
	for _, k := range []srtp.Key{agentKey, hushKey} {
		if s := string(data); containsAny(s, k.Inline(), k.Fingerprint()) {
			t.Fatalf("the directory holds an SRTP key: %s", data)
		}
	}

	a.crash()
	for _, id := range []string{blocked.ID, sec.ID} {
		waitFor(t, "the standby to run "+id, func() bool { _, err := b.reg.Get(id); return err == nil })
	}

	// Call 1: the agent is heard, the customer still is not.
	flows(t, agent1, cust1, blocked.Agent.Local)
	for range 3 {
		cust1.send(blocked.Customer.Local)
	}
	waitFor(t, "the blocked packets to be dropped", func() bool {
		return drops(legStats(t, b, blocked.ID, session.Customer), "blocked") >= 3
	})
	if n := legStats(t, b, blocked.ID, session.Agent).RTPPacketsSent; n != 0 {
		t.Errorf("%d packets of a blocked direction reached the agent after the takeover", n)
	}
	if in, _ := b.reg.Get(blocked.ID); in.Policy.CustomerToAgent.Flow != session.FlowBlock {
		t.Errorf("taken-over policy flow %v, want block", in.Policy.CustomerToAgent.Flow)
	}

	// Call 2: fails closed both ways.
	out, err := srtp.NewOutbound(agentKey)
	if err != nil {
		t.Fatal(err)
	}
	h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 4}
	pkt := make([]byte, h.MarshalSize()+160)
	n, _ := h.MarshalTo(pkt)
	for i := n; i < len(pkt); i++ {
		pkt[i] = 0xff
	}
	sealed, v := out.ProtectRTP(make([]byte, 0, 2048), pkt)
	if v != srtp.OK {
		t.Fatalf("protect: %v", v)
	}
	for range 3 {
		if _, err := agent2.conn.WriteToUDPAddrPort(sealed, sec.Agent.Local); err != nil {
			t.Fatal(err)
		}
		cust2.send(sec.Customer.Local)
	}
	waitFor(t, "the agent's SRTP packets to be dropped for want of a key", func() bool {
		return drops(legStats(t, b, sec.ID, session.Agent), "srtp_no_key") >= 3
	})
	waitFor(t, "the customer's packets to arrive", func() bool {
		return legStats(t, b, sec.ID, session.Customer).RTPPacketsReceived >= 3
	})
	if n := legStats(t, b, sec.ID, session.Customer).RTPPacketsSent; n != 0 {
		t.Errorf("%d packets of the keyless SRTP leg were forwarded to the customer", n)
	}
	if n := legStats(t, b, sec.ID, session.Agent).RTPPacketsSent; n != 0 {
		t.Errorf("%d packets were sent to the keyless SRTP leg (plain RTP, or sealed with no key)", n)
	}
	in, err := b.reg.Get(sec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in.Agent.SRTP == nil {
		t.Error("the agent's leg is plain RTP after the takeover")
	}
	if len(in.Moves) != 1 || len(in.Moves[0].SRTPWithoutKeys) != 1 || in.Moves[0].SRTPWithoutKeys[0] != session.Agent {
		t.Errorf("moves %+v: want one naming the agent's leg as SRTP without keys", in.Moves)
	}

	// Keys given again (UpdateSession with the leg's srtp): the leg carries media again.
	if _, err := b.reg.Update(sec.ID, session.Update{Actor: "test",
		Agent: &session.LegUpdate{SetSRTP: true, SRTP: &srtp.Keys{Recv: agentKey, Send: hushKey}}}); err != nil {
		t.Fatal(err)
	}
	h.SequenceNumber, h.Timestamp = 2, 320
	_, _ = h.MarshalTo(pkt)
	sealed, v = out.ProtectRTP(make([]byte, 0, 2048), pkt)
	if v != srtp.OK {
		t.Fatalf("protect: %v", v)
	}
	if _, err := agent2.conn.WriteToUDPAddrPort(sealed, sec.Agent.Local); err != nil {
		t.Fatal(err)
	}
	cust2.expect(pkt)
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if x != "" && strings.Contains(s, x) {
			return true
		}
	}
	return false
}
