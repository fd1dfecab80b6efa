package relay

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
)

// Playing a DTMF key toward a listener (rtpengine's "play DTMF"). The key rides on the
// party's own packets, as rtpengine's injection does: while it sounds, every RTP packet
// of the direction carries the key instead of the party's audio, in the same packet with
// the same sequence number and SSRC, so the stream's sequence and timestamps stay
// continuous and nothing is inserted or renumbered. Toward a listener whose SDP offers
// telephone-event the key is sent as RFC 4733 events (the event's timestamp is that of
// its first packet, the duration grows with each packet, the end packet goes three
// times, §2.5.1.4); otherwise in-band, as the key's tone pair (ITU-T Q.23) in G.711,
// followed by the pause in silence. A key is never played
// into a masked, blocked or silenced direction, and it is added after the detector and
// the recording tap: it is never captured nor recorded as the party's key.

// Tone is a DTMF key to play toward a direction's listener (PlayDTMF).
type Tone struct {
	// Event is the key's RFC 4733 event code (§3.2): 0-9, 10 '*', 11 '#', 12-15 'A'-'D'.
	Event uint8
	// Duration is how long the key sounds, MinToneDuration..MaxToneDuration.
	Duration time.Duration
	// Pause is the gap after it before the next key, 0..MaxTonePause.
	Pause time.Duration
	// Volume is the level of each of the key's two tones in -dBm0, 0-63 (RFC 4733
	// §2.3.4). In-band tones are at most -3 dBm0 each, so the pair never clips.
	Volume uint8
	// EventPT is the listener's telephone-event payload type, from its own SDP: the key
	// goes as RFC 4733 events of this type. 0: the listener takes no events; the key
	// goes in band.
	EventPT uint8
}

// Bounds of a Tone, and of a direction's queue of keys.
const (
	MinToneDuration = 40 * time.Millisecond
	// MaxToneDuration keeps an event's duration within RFC 4733's 16 bits at 8 kHz.
	MaxToneDuration = 8 * time.Second
	MaxTonePause    = 5 * time.Second
	// MaxQueuedTones is how many keys a direction holds waiting to be played.
	MaxQueuedTones = 16
)

// samplesPerSecond is the RTP clock of every codec the player works with (G.711 and
// telephone-event at 8 kHz).
const samplesPerSecond = 8000

// queuedTone is a Tone as the player uses it, resolved when it was queued.
type queuedTone struct {
	event      uint8
	volume     uint8
	rfc        bool  // sent as RFC 4733 events with payload type pt
	pt         uint8 // the listener's telephone-event payload type
	dur, pause uint32
	amp        int32 // in-band: Q15 scale of the 0 dBm0 sine table
}

// toneQueue is a direction's keys waiting to be played: a single-consumer ring. The
// control plane pushes under mu; the packet loop pops with atomics only (it owns head,
// and keeps a copy of it in its player).
type toneQueue struct {
	mu   sync.Mutex
	buf  [MaxQueuedTones]queuedTone
	tail atomic.Uint32
	head atomic.Uint32
}

func (q *toneQueue) push(t queuedTone) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	tail := q.tail.Load()
	if tail-q.head.Load() >= MaxQueuedTones {
		return ErrToneQueueFull
	}
	q.buf[tail%MaxQueuedTones] = t
	q.tail.Store(tail + 1) // publishes buf[tail] to the loop
	return nil
}

// pending reports whether a key waits (the packet loop: one atomic load).
func (q *toneQueue) pending(pl *player) bool { return q.tail.Load() != pl.head }

// pop takes the next key; the loop checked pending.
func (q *toneQueue) pop(pl *player) queuedTone {
	t := q.buf[pl.head%MaxQueuedTones]
	pl.head++
	q.head.Store(pl.head)
	return t
}

// player is a direction's key being played; it belongs to the goroutine of the
// direction's RTP socket.
type player struct {
	head   uint32 // the queue's head
	on     bool
	t      queuedTone
	ssrc   uint32 // the party's stream the key rides on
	start  uint32 // RTP timestamp of the key's first sample: the event's timestamp
	lastTS uint32
	step   uint32 // samples per packet, for payloads that do not tell
	ends   uint8  // RFC 4733: end packets sent
	endDur uint32 // RFC 4733: the event's final duration
	begun  bool   // RFC 4733: the event's first packet went (it carries the marker)
}

// cancel drops the key being played and every key waiting.
func (pl *player) cancel(q *toneQueue) {
	pl.on = false
	pl.head = q.tail.Load()
	q.head.Store(pl.head)
}

// PlayDTMF queues a key to be played toward a direction's listener, after the keys
// already queued (see the package's egress stage). It is refused (ErrMasked, ErrBlocked)
// when the direction is masked, blocked or silenced, and becoming so later drops it; it
// needs the party's media to have started (ErrNoMedia), since the key rides on its
// packets. With t.EventPT the key goes as RFC 4733 events, otherwise in band.
func (c *Call) PlayDTMF(dir Direction, t Tone) error {
	if int(dir) >= NumDirections {
		return ErrInvalidLeg
	}
	switch {
	case t.Event > 15:
		return fmt.Errorf("%w: event %d is not a DTMF key", ErrInvalidTone, t.Event)
	case t.Duration < MinToneDuration || t.Duration > MaxToneDuration:
		return fmt.Errorf("%w: duration %v not within %v..%v", ErrInvalidTone, t.Duration, MinToneDuration, MaxToneDuration)
	case t.Pause < 0 || t.Pause > MaxTonePause:
		return fmt.Errorf("%w: pause %v not within 0..%v", ErrInvalidTone, t.Pause, MaxTonePause)
	case t.Volume > 63:
		return fmt.Errorf("%w: volume -%d dBm0 below -63", ErrInvalidTone, t.Volume)
	case t.EventPT > 127:
		return fmt.Errorf("%w: payload type %d", ErrInvalidTone, t.EventPT)
	}
	if c.closing.Load() {
		return ErrClosed
	}
	if c.policy[dir].Load() != nil {
		return ErrMasked
	}
	if c.out[dir].flow.Load() != nil {
		return ErrBlocked
	}
	if c.legs[dir.From()].admitted[kindRTP].Load() == 0 {
		return ErrNoMedia
	}
	q := queuedTone{event: t.Event, volume: t.Volume, rfc: t.EventPT != 0, pt: t.EventPT,
		dur:   uint32(t.Duration * samplesPerSecond / time.Second),
		pause: uint32(t.Pause * samplesPerSecond / time.Second),
		amp:   int32(math.Round(32768 * math.Pow(10, -float64(max(t.Volume, 3))/20))),
	}
	return c.out[dir].tones.push(q)
}

// startable reports whether a packet of codec can carry the start of a key: audio, not
// the party's comfort noise or events (the key waits for its audio).
func startable(codec mask.Codec) bool {
	return codec != mask.CodecCN && codec != mask.CodecTelephoneEvent
}

// play runs the key being played, or starts the next one, on one outgoing RTP packet of
// an unmasked, forwarded direction. It returns the packet to send (buf rewritten in
// place, or resliced within its capacity), or the reason to drop it.
func (pl *player) play(q *toneQueue, buf []byte, h *rtp.Header, codecs *mask.CodecMap) ([]byte, DropReason) {
	codec := codecs.Lookup(h.PayloadType)
	// Bounded: at most one key ends and the next begins on the same packet, or a key
	// that cannot be played in-band on this codec is dropped.
	for range 2 * MaxQueuedTones {
		if !pl.on {
			if !q.pending(pl) || !startable(codec) {
				return buf, DropNone
			}
			t := q.pop(pl)
			if !t.rfc && codec != mask.CodecPCMU && codec != mask.CodecPCMA {
				continue // hush cannot encode a tone in this codec: the key is dropped
			}
			*pl = player{head: pl.head, on: true, t: t, ssrc: h.SSRC, start: h.Timestamp, lastTS: h.Timestamp, step: 160}
		}
		if h.SSRC != pl.ssrc {
			pl.on = false // the party's stream changed under the key: it ends
			continue
		}
		off := h.Timestamp - pl.start
		if int32(off) < 0 {
			return buf, DropNone // late: from before the key
		}
		if d := h.Timestamp - pl.lastTS; d > 0 && d <= samplesPerSecond/10 {
			pl.step = d
		}
		pl.lastTS = h.Timestamp
		n := pl.step
		if codec == mask.CodecPCMU || codec == mask.CodecPCMA {
			n = uint32(len(h.Payload(buf)))
		}
		var out []byte
		var r DropReason
		var done bool
		if pl.t.rfc {
			out, r, done = pl.event(buf, h, off, n)
		} else {
			out, r, done = pl.inband(buf, h, off, codec)
		}
		if !done {
			return out, r
		}
		pl.on = false
	}
	return buf, DropNone
}

// event plays the key as RFC 4733 events on a packet off samples into it, carrying n
// samples. done means the key and its pause are over and the packet is untouched.
func (pl *player) event(buf []byte, h *rtp.Header, off, n uint32) ([]byte, DropReason, bool) {
	t := &pl.t
	var ev [4]byte
	switch {
	case pl.ends == 0:
		d := min(off+n, 0xffff)
		end := d >= t.dur
		if end {
			pl.endDur, pl.ends = d, 1
		}
		putEvent(&ev, t, end, d)
	case pl.ends < 3: // the end packet goes three times (RFC 4733 §2.5.1.4)
		pl.ends++
		putEvent(&ev, t, true, pl.endDur)
	default:
		if off >= pl.endDur+t.pause {
			return buf, DropNone, true
		}
		return buf, DropNone, false // the pause: the party's audio flows
	}
	hl := h.HeaderLength
	if cap(buf) < hl+len(ev) {
		return buf, DropStage, false
	}
	buf = buf[:hl+len(ev)]
	buf[0] &^= 0x20 // no padding
	marker := byte(0)
	if !pl.begun {
		pl.begun, marker = true, 0x80 // the event's first packet (RFC 4733 §2.5.1.2)
	}
	buf[1] = marker | t.pt&0x7f
	putU32(buf[4:8], pl.start)
	copy(buf[hl:], ev[:])
	return buf, DropNone, false
}

// putEvent encodes an RFC 4733 §2.3 event payload.
func putEvent(ev *[4]byte, t *queuedTone, end bool, dur uint32) {
	ev[0] = t.event
	ev[1] = t.volume & 0x3f
	if end {
		ev[1] |= 0x80
	}
	ev[2], ev[3] = byte(dur>>8), byte(dur)
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// inband plays the key as its tone pair on a G.711 packet off samples into it, then the
// pause as silence; anything else that comes while the key sounds (comfort noise, the
// party's own events) is dropped, so nothing contradicts it. done means the key and its
// pause are over and the packet is untouched.
func (pl *player) inband(buf []byte, h *rtp.Header, off uint32, codec mask.Codec) ([]byte, DropReason, bool) {
	t := &pl.t
	if off >= t.dur+t.pause {
		return buf, DropNone, true
	}
	enc, silence := g711.LinearToUlaw, g711.UlawSilence
	switch codec {
	case mask.CodecPCMU:
	case mask.CodecPCMA:
		enc, silence = g711.LinearToAlaw, g711.AlawSilence
	default:
		return buf, DropStage, false
	}
	f := &dtmfFreqs[t.event&15]
	pay := h.Payload(buf)
	for i := range pay {
		pos := off + uint32(i)
		if pos >= t.dur {
			pay[i] = silence
			continue
		}
		p := pos % samplesPerSecond
		s := (int32(dtmfSine[p*f[0]%samplesPerSecond]) + int32(dtmfSine[p*f[1]%samplesPerSecond])) * t.amp >> 15
		pay[i] = enc(int16(min(max(s, math.MinInt16), math.MaxInt16)))
	}
	return buf, DropNone, false
}

// dtmfFreqs are each key's low and high frequency in Hz (ITU-T Q.23), by RFC 4733 event.
var dtmfFreqs = [16][2]uint32{
	{941, 1336}, {697, 1209}, {697, 1336}, {697, 1477}, {770, 1209}, {770, 1336}, {770, 1477},
	{852, 1209}, {852, 1336}, {852, 1477}, {941, 1209}, {941, 1477},
	{697, 1633}, {770, 1633}, {852, 1633}, {941, 1633},
}

// dtmfSine is one period of a 0 dBm0 sine sampled at 8000 points: the sample at
// position pos of a tone of f Hz (an integer, as every DTMF frequency is) is
// dtmfSine[pos*f mod 8000], phase-continuous across packets. Read-only after start-up.
var dtmfSine = func() *[samplesPerSecond]int16 {
	var t [samplesPerSecond]int16
	for i := range t {
		t[i] = int16(math.Round(g711.Peak0dBm0 * math.Sin(2*math.Pi*float64(i)/samplesPerSecond)))
	}
	return &t
}()
