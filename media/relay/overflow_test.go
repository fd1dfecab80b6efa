package relay

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
	"github.com/hushmedia/hush/media/udpio"
)

// Mask overflow (DropMaskOverflow) of audio that the masker had analysed
// and could have sent, masked. The delay line holds Slots packets; a
// packet is released once it is due (its arrival + look-ahead) and decided
// (the detector has seen MaskLag samples past it), in order. Both tests
// drive one masked direction's receiver on a simulated clock, as an
// engine would (staleRig), with no queueing bound (as cmd/hushd's tests
// run hushd: --media-max-queue-delay 0s).

const ovTePT = 101

// ovPkt is one datagram of the phone, with when it reaches the socket.
type ovPkt struct {
	at  time.Duration
	b   []byte
	seq uint16
	// audio: an audio packet the phone sent (not a telephone-event).
	audio bool
}

// ovPhone builds a phone's stream: PCMU audio at 20 ms, and RFC 4733
// telephone-events of one key press over ticks [evFrom, evTo) when evTo >
// evFrom, with the audio left out there (a phone that sends only events
// while a key is down). pcm is the audio of every tick.
func ovPhone(pcm []int16, ticks, evFrom, evTo int) []ovPkt {
	const ssrc = 0x4733
	var out []ovPkt
	seq := uint16(1000)
	for i := range ticks {
		at := time.Duration(i) * 20 * time.Millisecond
		ts := uint32(i * sFrame)
		if i < evFrom || i >= evTo {
			h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}
			b := make([]byte, h.MarshalSize()+sFrame)
			n, _ := h.MarshalTo(b)
			g711.EncodeUlaw(b[n:], pcm[i*sFrame:(i+1)*sFrame])
			out = append(out, ovPkt{at: at, b: b, seq: seq, audio: true})
			seq++
			continue
		}
		// The event's duration grows by a packet each tick; the last one
		// (E bit) goes three times (RFC 4733 section 2.5.1.4).
		k := i - evFrom
		end := i == evTo-1
		for r := 0; r < 1 || end && r < 3; r++ {
			h := rtp.Header{Version: 2, PayloadType: ovTePT, SequenceNumber: seq,
				Timestamp: uint32(evFrom * sFrame), SSRC: ssrc, Marker: k == 0 && r == 0}
			b := make([]byte, h.MarshalSize()+4)
			n, _ := h.MarshalTo(b)
			b[n] = 5 // key '5'
			b[n+1] = 10
			if end {
				b[n+1] |= 0x80
			}
			binary.BigEndian.PutUint16(b[n+2:], uint16((k+1)*sFrame))
			out = append(out, ovPkt{at: at, b: b, seq: seq})
			seq++
		}
	}
	return out
}

// newOverflowRig is newStaleRig with the customer's telephone-event
// payload type declared, and the customer-to-agent direction masked in
// ModeTone (masking tone stands in where the phone sends only events).
func newOverflowRig(t *testing.T) *staleRig {
	t.Helper()
	useEngine(t, udpio.Portable)
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("127.0.0.1:5000"), TelephoneEventPT: ovTePT},
		Agent:    LegConfig{Remote: ap("127.0.0.1:9")}}, WithMaxQueueDelay(0))
	g := &staleRig{c: c, sent: map[uint16]time.Duration{}, pay: map[uint16][]byte{}}
	tx := func(_ udpio.Socket, b []byte, _ netip.AddrPort) error {
		var h rtp.Header
		if _, err := h.Unmarshal(b); err != nil {
			t.Fatalf("sent a packet that is not RTP: %v", err)
		}
		if h.PayloadType == ovTePT {
			t.Fatalf("a telephone-event (seq %d) left a masked direction", h.SequenceNumber)
		}
		g.sent[h.SequenceNumber] = g.now
		g.pay[h.SequenceNumber] = bytes.Clone(h.Payload(b))
		return nil
	}
	g.r = newReceiver(c, Customer, kindRTP, tx, 0)
	t.Cleanup(g.r.Close)
	if err := c.SetMaskPolicy(CustomerToAgent, mask.Policy{Mode: mask.ModeTone}); err != nil {
		t.Fatal(err)
	}
	return g
}

// ovRun plays pkts into the rig a millisecond at a time until end. reach
// gives when each datagram reaches the socket; the engine does not run
// while stalled reports true (what reached the socket meanwhile waits
// there, and is read at the next wake-up with its kernel receive age). A
// wake-up runs as the epoll and io_uring engines' do: expiries not caught
// up, the socket read dry, then caught-up expiries.
func ovRun(g *staleRig, pkts []ovPkt, reach func(ovPkt) time.Duration, stalled func(time.Duration) bool, end time.Duration) {
	next := 0
	for g.now = 0; g.now <= end; g.now += time.Millisecond {
		if stalled(g.now) {
			continue
		}
		at := g.c.epoch.Add(g.now)
		if due, ok := g.r.Due(at); ok && !due.After(at) {
			g.r.Expire(at, false)
		}
		for next < len(pkts) && reach(pkts[next]) <= g.now {
			g.read(pkts[next].b, g.now-reach(pkts[next]))
			next++
		}
		if due, ok := g.r.Due(at); ok && !due.After(at) {
			g.r.Expire(at, true)
		}
	}
}

// TestMaskOverflowBacklogOverEventsOnlyPress: the phone sends at its
// normal pace; the relay is starved (the engine's worker does not run) for
// 800 ms from just before a key press during which the phone sends only
// RFC 4733 events (200 ms, 10 event packets and the end's two
// repetitions), then reads the backlog at once. The backlog is 1 audio
// packet, the press's 12 event packets (10 tone stand-ins queued) and 29
// audio packets after it. Every audio packet the phone sent must reach the
// agent: the resumed audio decides the stand-ins (it has passed their
// stretches) and the audio before them; nothing in it is a tone.
//
// The trap: the masker dates a stand-in by extrapolating the stream's audio
// clock (the last audio's arrival plus the samples ahead), and the relay
// believes at most 100 ms of kernel age for due times (maxTimedAge), so
// every packet of the backlog "arrived" 100 ms before it was read and the
// stand-ins come out due up to LookAhead after the read, while the audio
// behind them is due already. The stand-in at the front is decided but
// not due; without PopFull it held everything behind it, and past Slots
// the newest audio was dropped as mask_overflow. The same stall over
// audio alone loses nothing (the control case).
func TestMaskOverflowBacklogOverEventsOnlyPress(t *testing.T) {
	const (
		ticks  = 120
		evFrom = 30 // the key goes down at tick 30 (600 ms) ...
		evTo   = 40 // ... and up at tick 40 (800 ms)
	)
	stallFrom, stallTo := 570*time.Millisecond, 1370*time.Millisecond
	pcm := quietSpeech(ticks*sFrame, 7)
	for _, tc := range []struct {
		name         string
		evFrom, evTo int
	}{{"events-only press", evFrom, evTo}, {"audio only", 0, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newOverflowRig(t)
			pkts := ovPhone(pcm, ticks, tc.evFrom, tc.evTo)
			ovRun(g, pkts, func(p ovPkt) time.Duration { return p.at },
				func(now time.Duration) bool { return now >= stallFrom && now < stallTo },
				time.Duration(ticks)*20*time.Millisecond+time.Second)
			audio, lost := 0, 0
			for _, p := range pkts {
				if !p.audio {
					continue
				}
				audio++
				if _, ok := g.sent[p.seq]; !ok {
					lost++
				}
			}
			stand := len(g.sent) - (audio - lost)
			if lost > 0 || g.drops(DropMaskOverflow) > 0 {
				t.Errorf("%d of %d audio packets never left, %d mask_overflow drops (%d tone stand-ins sent); "+
					"the phone sent at its pace, the relay read a %v backlog",
					lost, audio, g.drops(DropMaskOverflow), stand, stallTo-stallFrom)
			}
			if want := tc.evTo - tc.evFrom; stand != want {
				t.Errorf("%d tone stand-ins sent, want %d", stand, want)
			}
		})
	}
}

// TestMaskOverflowBurst: the phone's packets of 800 ms reach the relay in
// one burst (a sender or network path that stalled, then flushed what it
// held; the relay itself keeps up), with a key pressed in-band inside the
// burst. The masker analyses each packet as it comes, so by the time the
// queue is full the oldest ones are decided long since; they are due only
// LookAhead after their arrival, though, so nothing leaves during the burst
// and past Slots the newest audio is dropped (mask_overflow). Every audio
// packet must reach the agent, and the key must not: what the agent gets
// holds no DTMF, and no packet of the key leaves as the phone sent it.
func TestMaskOverflowBurst(t *testing.T) {
	const (
		ticks     = 100
		burstFrom = 20 // ticks [burstFrom, burstTo) reach the relay together, at burstTo's time
		burstTo   = 60
		keyAt     = 24 // the key, in-band, over ticks [keyAt, keyAt+6): near the burst's start, so it is at the front when the queue fills
	)
	sig := make([]float64, ticks*sFrame)
	tone{key: '7', at: keyAt * sFrame, dur: 6 * sFrame, dbm0: -10}.add(sig, rand.New(rand.NewPCG(35, 36)))
	pcm := toPCM(sig)
	g := newOverflowRig(t)
	pkts := ovPhone(pcm, ticks, 0, 0)
	reach := func(p ovPkt) time.Duration {
		if b := time.Duration(burstTo) * 20 * time.Millisecond; p.at >= time.Duration(burstFrom)*20*time.Millisecond && p.at < b {
			return b
		}
		return p.at
	}
	ovRun(g, pkts, reach, func(time.Duration) bool { return false }, time.Duration(ticks)*20*time.Millisecond+time.Second)

	lost := 0
	var out []int16
	for i, p := range pkts {
		pay, ok := g.pay[p.seq]
		if !ok {
			lost++
			out = append(out, make([]int16, sFrame)...)
			continue
		}
		if i >= keyAt && i < keyAt+6 && bytes.Equal(pay, rtpPayload(p.b)) {
			t.Errorf("packet %d of the key left unmasked", i)
		}
		dec := make([]int16, len(pay))
		g711.DecodeUlaw(dec, pay)
		out = append(out, dec...)
	}
	if n := g.r.dl.mk.Stats().LateMasks; n != 0 {
		t.Errorf("%d masks began on samples already sent", n)
	}
	if d := detect(out); d != "" {
		t.Errorf("the agent's audio holds DTMF %q", d)
	}
	if in := detect(pcm); in != "7" {
		t.Fatalf("the phone's audio holds %q, want the key \"7\"", in)
	}
	if lost > 0 || g.drops(DropMaskOverflow) > 0 {
		t.Errorf("%d of %d audio packets never left, %d mask_overflow drops, for a burst of %d packets",
			lost, len(pkts), g.drops(DropMaskOverflow), burstTo-burstFrom)
	}
}
