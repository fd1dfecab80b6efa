package relay

import (
	"bytes"
	"errors"
	"math"
	"net"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
)

// silentRead reports whether nothing arrives on c within a short, non-zero wait. Call it
// once a later packet of the same direction, through the same goroutine (RTCP on an
// rtcp-mux socket), has arrived: anything forwarded before it would be queued by then.
func silentRead(t testing.TB, c *net.UDPConn) bool {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err == nil {
		t.Logf("unexpected % x", buf[:min(n, 16)])
	}
	return err != nil
}

// eventPacket is an RFC 4733 packet of payload type pt.
func eventPacket(pt uint8, seq uint16, ts uint32, ev byte, end bool, dur uint16) []byte {
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 0x5eed}
	b := make([]byte, h.MarshalSize()+4)
	n, _ := h.MarshalTo(b)
	b[n] = ev
	if end {
		b[n+1] = 0x80
	}
	b[n+2], b[n+3] = byte(dur>>8), byte(dur)
	return b
}

// flowEnv is a call whose customer uses rtcp-mux, so its RTP and RTCP share a socket and
// a goroutine: an RTCP packet that comes through proves every RTP packet sent before it
// was handled.
func flowEnv(t *testing.T, opts ...Option) (*env, *Call, DirectionMetrics, [NumDropReasons]*eventCounter) {
	e := newEnv(t, lo4, true, false)
	cfg := e.explicit()
	cfg.Customer.TelephoneEventPT = 101
	m, drops := dropCounters()
	c := e.start(cfg, append(opts, WithMetrics(CustomerToAgent, m))...)
	return e, c, m, drops
}

// proveHandled sends an RTCP packet from the customer and waits for it at the agent.
func proveHandled(t *testing.T, e *env, c *Call) {
	t.Helper()
	rr := rtcpRR(7)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), rr)
	expect(t, e.b.s.RTCP, rr, c.LocalRTCP(Agent))
}

// TestFlowBlockAndSilence: a blocked direction forwards no RTP at all (audio and RFC 4733
// events), while its RTCP flows; a silenced one forwards every G.711 packet with its
// payload replaced by the silence code and header, sequence, timestamp, SSRC and length
// kept, comfort noise untouched, events and payloads it cannot silence dropped. Masked or
// not, the same; forwarding again is byte-exact. The other direction is never touched.
func TestFlowBlockAndSilence(t *testing.T) { forEngines(t, testFlowBlockAndSilenceOnEngine) }

func testFlowBlockAndSilenceOnEngine(t *testing.T) {
	e, c, _, drops := flowEnv(t)
	pcmu, pcma := rtpPacket(t, 0, 10, 160), rtpPacket(t, 8, 11, 160)
	cn, g722 := rtpPacket(t, 13, 12, 1), rtpPacket(t, 9, 13, 160)
	ev := eventPacket(101, 14, 3200, 5, false, 160)

	// Forward: byte-exact.
	for _, p := range [][]byte{pcmu, pcma, ev} {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
	}

	if err := c.SetFlow(CustomerToAgent, FlowBlock); err != nil {
		t.Fatal(err)
	}
	if c.Flow(CustomerToAgent) != FlowBlock || c.Flow(AgentToCustomer) != FlowForward {
		t.Fatalf("flows %v %v", c.Flow(CustomerToAgent), c.Flow(AgentToCustomer))
	}
	for _, p := range [][]byte{pcmu, pcma, cn, ev} {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
	}
	proveHandled(t, e, c)
	if !silentRead(t, e.b.s.RTP) {
		t.Fatal("a blocked direction forwarded RTP")
	}
	if n := drops[DropBlocked].sum.Load(); n != 4 {
		t.Fatalf("%d packets counted blocked, want 4", n)
	}
	// The other direction flows.
	back := rtpPacket(t, 0, 500, 160)
	send(t, e.b.s.RTP, c.LocalRTP(Agent), back)
	expect(t, e.a.s.RTP, back, c.LocalRTP(Customer))

	if err := c.SetFlow(CustomerToAgent, FlowSilence); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{pcmu, pcma} {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		got, _ := recv(t, e.b.s.RTP)
		checkSilenced(t, got, p)
	}
	send(t, e.a.s.RTP, c.LocalRTP(Customer), cn)
	expect(t, e.b.s.RTP, cn, c.LocalRTP(Agent))
	for _, p := range [][]byte{ev, g722} {
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
	}
	proveHandled(t, e, c)
	if !silentRead(t, e.b.s.RTP) {
		t.Fatal("a silenced direction forwarded an event or a payload it cannot silence")
	}
	if drops[DropBlocked].sum.Load() != 5 || drops[DropUndecodable].sum.Load() != 1 {
		t.Fatalf("blocked %d (want 5), undecodable %d (want 1)", drops[DropBlocked].sum.Load(), drops[DropUndecodable].sum.Load())
	}

	// Masked: the delay line's releases are silenced too.
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone}); err != nil {
		t.Fatal(err)
	}
	send(t, e.a.s.RTP, c.LocalRTP(Customer), pcmu)
	got, _ := recv(t, e.b.s.RTP)
	checkSilenced(t, got, pcmu)
	if err := c.SetFlow(CustomerToAgent, FlowBlock); err != nil {
		t.Fatal(err)
	}
	send(t, e.a.s.RTP, c.LocalRTP(Customer), pcma)
	for drops[DropBlocked].sum.Load() < 6 {
		drops[DropBlocked].wait(t, "a masked, blocked packet")
	}
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetFlow(CustomerToAgent, FlowForward); err != nil {
		t.Fatal(err)
	}
	p := rtpPacket(t, 8, 40, 160)
	send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
	expect(t, e.b.s.RTP, p, c.LocalRTP(Agent))
	if err := c.SetFlow(CustomerToAgent, numFlows); !errors.Is(err, ErrInvalidFlow) {
		t.Fatalf("SetFlow(out of range) = %v", err)
	}
}

// checkSilenced checks that got is sent with its payload all silence codes and
// everything else as sent.
func checkSilenced(t *testing.T, got, sent []byte) {
	t.Helper()
	var g, s rtp.Header
	if _, err := g.Unmarshal(got); err != nil {
		t.Fatal(err)
	}
	s.Unmarshal(sent)
	code := byte(0xff)
	if s.PayloadType == 8 {
		code = 0xd5
	}
	if len(got) != len(sent) || !bytes.Equal(got[:g.HeaderLength], sent[:s.HeaderLength]) {
		t.Fatalf("silenced packet's header or length changed: % x", got[:16])
	}
	for i, b := range g.Payload(got) {
		if b != code {
			t.Fatalf("payload octet %d is %#x, want silence %#x", i, b, code)
		}
	}
}

// TestFlowRecordsSilence: the recording hears a blocked or silenced direction as silence
// from the packet that arrived after the change to the packet that arrived before the
// next one, although the tap hands its frames over 80 ms later: a frame is judged by the
// flow it arrived under.
func TestFlowRecordsSilence(t *testing.T) { forEngines(t, testFlowRecordsSilenceOnEngine) }

func testFlowRecordsSilenceOnEngine(t *testing.T) {
	sink := &tapSink{}
	e, c, _, drops := flowEnv(t, WithRecordTap(sink.tap(true)))
	pcm := make([]int16, 30*sFrame)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/sRate))
	}
	pkts := (&g711Stream{pt: 0, ssrc: 9, ts: 1000}).all(pcm)
	flows := []Flow{FlowForward, FlowBlock, FlowForward, FlowSilence, FlowForward}
	blocked := int64(0)
	for i, p := range pkts {
		f := flows[i*len(flows)/len(pkts)]
		if f != c.Flow(CustomerToAgent) {
			if err := c.SetFlow(CustomerToAgent, f); err != nil {
				t.Fatal(err)
			}
		}
		send(t, e.a.s.RTP, c.LocalRTP(Customer), p)
		switch f {
		case FlowBlock:
			blocked++
			for drops[DropBlocked].sum.Load() < blocked {
				drops[DropBlocked].wait(t, "a blocked packet")
			}
		default:
			recv(t, e.b.s.RTP)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	rec := sink.pcm[CustomerToAgent]
	if len(rec) != len(pcm) {
		t.Fatalf("recorded %d samples of %d", len(rec), len(pcm))
	}
	for i := range pkts {
		f := flows[i*len(flows)/len(pkts)]
		var energy float64
		for _, s := range rec[i*sFrame : (i+1)*sFrame] {
			energy += float64(s) * float64(s)
		}
		if silent := energy == 0; silent != (f != FlowForward) {
			t.Errorf("packet %d sent under %v: recorded silent %v", i, f, silent)
		}
	}
}

// TestFlowAllocs: the egress stage allocates nothing, whatever the flow.
func TestFlowAllocs(t *testing.T) { forEngines(t, testFlowAllocsOnEngine) }

func testFlowAllocsOnEngine(t *testing.T) {
	c, p := processFixture(t)
	if _, _, r := c.process(Customer, kindRTP, p); r != DropNone {
		t.Fatal(r)
	}
	orig := append([]byte(nil), p.Buf...)
	for f := range numFlows {
		if err := c.SetFlow(CustomerToAgent, f); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			copy(p.Buf, orig)
			c.egress(CustomerToAgent, p)
			c.egressQueued(CustomerToAgent, p.Buf)
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per packet", f, allocs)
		}
	}
}
