package relay

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
)

// The egress stage: what a direction's listener gets of the RTP leaving hush. It runs on
// every RTP packet on its way out, the zero-delay path and the delay line's releases
// alike, after masking and before the send, on the goroutine that serves the direction's
// RTP socket. Its control state is an immutable value behind an atomic.Pointer, loaded
// once per packet: no I/O, no lock, no allocation. RTCP is never touched.
//
// The detector, secure capture and the recording tap all see what the party sent, before
// this stage: blocking or silencing a direction changes what the listener hears, not what
// hush learns from the party.

// Flow is what a direction's listener gets of the party's RTP.
type Flow uint8

const (
	// FlowForward: the packets, as masking leaves them.
	FlowForward Flow = iota
	// FlowBlock: nothing. Every RTP packet of the direction is dropped (DropBlocked),
	// RFC 4733 events too; RTCP still flows.
	FlowBlock
	// FlowSilence: silence. G.711 audio is replaced by its silence code, keeping the
	// packets, their sequence numbers, timestamps and SSRC; RFC 4733 events are dropped
	// (DropBlocked), comfort noise passes, and a payload hush cannot silence is dropped
	// (DropUndecodable): fail closed.
	FlowSilence
	numFlows
)

var flowNames = [numFlows]string{"forward", "block", "silence"}

func (f Flow) String() string {
	if f < numFlows {
		return flowNames[f]
	}
	return fmt.Sprintf("flow(%d)", uint8(f))
}

// flowPolicy is a direction's flow as the packet loop sees it. There is one immutable
// value per Flow (nil for FlowForward), so publishing one allocates nothing and a packet
// tells a change by comparing pointers.
type flowPolicy struct{ flow Flow }

var flowPolicies = [numFlows]*flowPolicy{nil, {FlowBlock}, {FlowSilence}}

// maxFlowMarks bounds the flow changes remembered for the recording: changes are control
// actions, a handful per call, and only those within the recording's look-ahead matter.
const maxFlowMarks = 8

// flowMark is a change of whether the recording hears a direction: from the packet that
// arrived at at on (the delay line's clock).
type flowMark struct {
	at     time.Duration
	silent bool
}

// egress is one direction's egress state. flow and the tone queue's tail are written by
// the control plane; everything else belongs to the goroutine of the direction's RTP
// socket.
type egress struct {
	flow  atomic.Pointer[flowPolicy]
	tones toneQueue
	pl    player

	// The recording's view of the flow: the policy the last packet saw and the changes,
	// oldest first, so that each recorded frame is silenced by the flow its packet
	// arrived under, not the one in force when the frame leaves the tap's look-ahead.
	seen   *flowPolicy
	marks  [maxFlowMarks]flowMark
	nmarks int
	lost   bool // marks were dropped: frames older than the first are recorded as silence

	_ [64]byte // the two directions' egress state belong to different goroutines
}

// SetFlow sets what a direction's listener gets of the party's RTP; it applies from the
// next packet that leaves hush (in a masked direction, from the next one released from
// the delay line). Keys waiting to be played (PlayDTMF) are dropped when a direction is
// blocked or silenced.
func (c *Call) SetFlow(dir Direction, f Flow) error {
	if int(dir) >= NumDirections {
		return ErrInvalidLeg
	}
	if f >= numFlows {
		return fmt.Errorf("%w: %d", ErrInvalidFlow, f)
	}
	c.out[dir].flow.Store(flowPolicies[f])
	return nil
}

// Flow returns a direction's flow.
func (c *Call) Flow(dir Direction) Flow {
	if int(dir) >= NumDirections {
		return FlowForward
	}
	if p := c.out[dir].flow.Load(); p != nil {
		return p.flow
	}
	return FlowForward
}

// egress runs the egress stage on an RTP packet of the zero-delay path (an unmasked
// direction): p.Header is its decoded header and p.codecs its payload type map. It may
// rewrite p.Buf in place, or reslice it within its capacity (a key played as RFC 4733
// events). It returns the reason to drop it, or DropNone to send p.Buf.
func (c *Call) egress(dir Direction, p *Packet) DropReason {
	e := &c.out[dir]
	if pol := e.flow.Load(); pol != nil {
		if e.pl.on || e.tones.pending(&e.pl) {
			e.pl.cancel(&e.tones)
		}
		return applyFlow(pol.flow, p.Buf, &p.Header, p.codecs)
	}
	if !e.pl.on && !e.tones.pending(&e.pl) {
		return DropNone
	}
	buf, r := e.pl.play(&e.tones, p.Buf, &p.Header, p.codecs)
	p.Buf = buf
	return r
}

// egressQueued runs the egress stage on a packet the delay line releases (a masked
// direction): only the flow applies, and keys waiting to be played are dropped (a key is
// never played toward a masked listener). It returns the packet to send, or the reason
// to drop it.
func (c *Call) egressQueued(dir Direction, pkt []byte) ([]byte, DropReason) {
	e := &c.out[dir]
	if e.pl.on || e.tones.pending(&e.pl) {
		e.pl.cancel(&e.tones)
	}
	pol := e.flow.Load()
	if pol == nil {
		return pkt, DropNone
	}
	var h rtp.Header
	if _, err := h.Unmarshal(pkt); err != nil {
		return nil, DropMalformed
	}
	return pkt, applyFlow(pol.flow, pkt, &h, &c.legs[dir.From()].state.Load().codecs)
}

// applyFlow blocks or silences one RTP packet in place.
func applyFlow(f Flow, buf []byte, h *rtp.Header, codecs *mask.CodecMap) DropReason {
	if f == FlowBlock {
		return DropBlocked
	}
	var silence byte
	switch codecs.Lookup(h.PayloadType) {
	case mask.CodecPCMU:
		silence = g711.UlawSilence
	case mask.CodecPCMA:
		silence = g711.AlawSilence
	case mask.CodecCN:
		return DropNone
	case mask.CodecTelephoneEvent:
		return DropBlocked
	default:
		return DropUndecodable
	}
	pay := h.Payload(buf)
	for i := range pay {
		pay[i] = silence
	}
	return DropNone
}

// observeFlow notes, for the recording, the flow packet p, arriving now, sees. It runs on
// every RTP packet of a recorded direction before the tap analyses it, and reads the
// clock only when the flow changed, for the packet's arrival as the tap reckons it.
func (e *egress) observeFlow(d *delayLine, p *Packet) {
	pol := e.flow.Load()
	if pol == e.seen {
		return
	}
	silent := pol != nil
	if was := e.seen != nil; silent == was {
		e.seen = pol // block <-> silence: the recording hears nothing either way
		return
	}
	e.seen = pol
	if e.nmarks == maxFlowMarks {
		copy(e.marks[:], e.marks[1:])
		e.nmarks--
		e.lost = true
	}
	e.marks[e.nmarks] = flowMark{at: d.since(p.at) - p.timedAge(), silent: silent}
	e.nmarks++
}

// recordSilent reports whether a recorded frame whose first sample arrived at at is to be
// recorded as silence: its direction was blocked or silenced when it arrived.
func (e *egress) recordSilent(at time.Duration) bool {
	for i := e.nmarks - 1; i >= 0; i-- {
		if e.marks[i].at <= at {
			return e.marks[i].silent
		}
	}
	if e.nmarks == 0 {
		return false
	}
	// Before the oldest change remembered: the opposite of it, unless older changes were
	// forgotten (then silence: the safe side).
	return e.lost || !e.marks[0].silent
}

// silenceFrame marks every sample of a recording frame silent when its direction was
// blocked or silenced as it arrived.
func (e *egress) silenceFrame(f *mask.RecordFrame) {
	if e.nmarks == 0 || !e.recordSilent(f.Arrival) {
		return
	}
	f.Silent = allSilent[:len(f.Codes)]
}

// allSilent is the Silent slice of a frame recorded as silence: read-only.
var allSilent = func() []bool {
	s := make([]bool, mask.SlotSize)
	for i := range s {
		s[i] = true
	}
	return s
}()
