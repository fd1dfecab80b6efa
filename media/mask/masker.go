package mask

import (
	"math"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// Queue geometry. A slot holds one packet; Slots of them cover
// MaxLookAhead with 10 ms packets, plus room for jitter bursts.
const (
	// Slots is the delay line's capacity in packets.
	Slots = 32
	// SlotSize is the largest packet the delay line holds: 120 ms of G.711
	// (960 octets) with header, CSRCs and extensions. A larger packet in a
	// masked direction is dropped (fail closed).
	SlotSize = 1200
)

// Verdict says what Push did with a packet.
type Verdict uint8

const (
	// Queued: the packet is in the delay line; Pop releases it.
	Queued Verdict = iota
	// DropUndecodable: a payload type hush cannot decode (fail closed).
	DropUndecodable
	// DropOverflow: the delay line is full or the packet larger than
	// SlotSize; it was not analysed, so it is not sent.
	DropOverflow
	// DropEvent: an RFC 4733 telephone-event packet, consumed (tracked,
	// captured) and never forwarded.
	DropEvent
	// DropMalformed: a telephone-event payload shorter than RFC 4733 §2.3.
	DropMalformed
)

var verdictNames = [...]string{"queued", "undecodable", "overflow", "event", "malformed"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "verdict(?)"
}

// Counter is the part of prometheus.Counter the masker uses.
// Implementations must be safe for concurrent use and must not allocate.
type Counter interface{ Add(float64) }

// Metrics are a masker's instruments; nil fields are not updated.
type Metrics struct {
	// MaskedSamples counts samples replaced (8 per millisecond).
	MaskedSamples Counter
	// Digits counts digits delivered while capturing (the count only).
	Digits Counter
	// LateMasks counts masks that began on samples already released: a
	// tone first seen after its first samples left. 0 with a proper L.
	LateMasks Counter
}

type nopCounter struct{}

func (nopCounter) Add(float64) {}

// Stats are a masker's counters, read on its own goroutine.
type Stats struct {
	Pushed, Released       uint64
	MaskedSamples          uint64
	Digits                 uint64
	LateMasks              uint64
	Undecodable, Overflows uint64
	Events, Malformed      uint64
}

// Option configures a Masker.
type Option func(*Masker)

// WithMetrics sets the instruments.
func WithMetrics(m Metrics) Option {
	return func(k *Masker) {
		for _, p := range []struct {
			dst *Counter
			src Counter
		}{
			{&k.met.MaskedSamples, m.MaskedSamples}, {&k.met.Digits, m.Digits}, {&k.met.LateMasks, m.LateMasks},
		} {
			if p.src != nil {
				*p.dst = p.src
			}
		}
	}
}

// WithDigits sets the function that receives captured digits, on the
// goroutine that calls Push, while the policy's Capture is on. It must not
// block. The digit is card data: never log it.
func WithDigits(fn func(Digit)) Option {
	return func(k *Masker) { k.onDigit = fn }
}

// WithTailGuard sets how long masking continues after the detector's
// MaskEnd (default DefaultTailGuard) and after an RFC 4733 event's end.
func WithTailGuard(d time.Duration) Option {
	return func(k *Masker) { k.tail = int64(max(d, 0) / sampleDur) }
}

// DefaultTailGuard covers the detector's end estimate rounding and a
// G.711 decoder's ringing; with the detector's own overshoot the mask ends
// well within 40 ms of the tone.
const DefaultTailGuard = 10 * time.Millisecond

// slot is one queued packet.
type slot struct {
	buf     [SlotSize]byte
	n       int // packet length
	payOff  int // payload offset
	codec   Codec
	ts      uint32
	samples int   // G.711 samples (0 for CN)
	pos0    int64 // detector timeline position of the first sample
	due     time.Duration
}

// span is a masked interval on the detector timeline [start, end).
type span struct{ start, end int64 }

// evSpan is a masked interval on the RTP timeline; open until ended.
type evSpan struct {
	start, end uint32
	open       bool
}

const (
	maxSpans = 8
	// maxSkip bounds the silence fed for a timestamp gap: enough to close
	// any open mask and flush the analysis, and a jump (a new talk-spurt,
	// a sender's clock step) does not cost more.
	maxSkip = 8000
	// maxSamples is the most samples one packet can carry into a slot.
	maxSamples = SlotSize
)

// Masker is the look-ahead delay line and masking stage of one direction:
// Push analyses each packet on arrival and queues it; Pop releases it
// LookAhead later with every sample inside a DTMF span replaced. It is
// pure (no I/O, no goroutines, no clock: callers pass the time as a
// monotonic duration), not safe for concurrent use, and allocates nothing
// after New.
type Masker struct {
	policy  Policy // effective
	codecs  *CodecMap
	gen     generator
	tail    int64
	onDigit func(Digit)
	met     Metrics
	st      Stats

	slots      []slot
	head, size int

	det      *dtmf.Detector
	evs      []dtmf.Event
	tracker  *dtmf.EventTracker
	tspans   []dtmf.Span
	pcm      [maxSamples]int16
	mark     [maxSamples]bool
	spans    [maxSpans]span
	nspans   int
	openSpan int // index in spans of the open detector span, -1 none
	ev       [maxSpans]evSpan
	nev      int

	// RTP-to-timeline mapping of the stream.
	ssrc     uint32
	tsValid  bool
	nextTS   uint32
	lastTS   uint32 // timestamp and timeline position of the last audio packet
	lastPos  int64
	released int64 // timeline position released so far
	relTS    uint32
	relValid bool

	dig digitDedup
}

var defaultCodecs = DefaultCodecs()

// New returns a masker with policy Policy{Mode: ModeSilence} and the
// default codec map; the relay calls Configure before each packet.
func New(opts ...Option) *Masker {
	k := &Masker{
		tail:     int64(DefaultTailGuard / sampleDur),
		slots:    make([]slot, Slots),
		det:      dtmf.NewDetector(),
		evs:      make([]dtmf.Event, 0, 16),
		tracker:  dtmf.NewEventTracker(0),
		tspans:   make([]dtmf.Span, 0, 4),
		openSpan: -1,
		codecs:   &defaultCodecs,
		gen:      generator{noise: 0x9e3779b9},
	}
	k.met = Metrics{MaskedSamples: nopCounter{}, Digits: nopCounter{}, LateMasks: nopCounter{}}
	for _, o := range opts {
		o(k)
	}
	k.Configure(Policy{Mode: ModeSilence}, nil)
	return k
}

// Configure sets the policy and the payload type map (nil: defaults). It
// is cheap: the relay calls it with the values it loaded for each packet.
// A new LookAhead applies to packets pushed from now on.
func (k *Masker) Configure(p Policy, codecs *CodecMap) {
	if codecs == nil {
		codecs = &defaultCodecs
	}
	k.codecs = codecs
	if p == k.policy {
		return
	}
	e := p.Effective()
	if e.Mode == ModeOff || e.Mode >= numModes {
		e.Mode = ModeSilence // Configure is only called for masked directions: fail closed
	}
	if CheckToneHz(e.ToneHz) != nil {
		e.ToneHz = DefaultToneHz
	}
	e.LookAhead = min(max(e.LookAhead, MinLookAhead), MaxLookAhead)
	k.policy = e
	k.gen.mode, k.gen.hz = e.Mode, int64(e.ToneHz)
}

// Policy returns the effective policy in use.
func (k *Masker) Policy() Policy { return k.policy }

// Stats returns the counters. Call it on the goroutine that drives the
// masker (or after it stopped).
func (k *Masker) Stats() Stats { return k.st }

// Len is the number of queued packets.
func (k *Masker) Len() int { return k.size }

// Reset empties the queue and forgets all analysis (the direction was
// unmasked and its queue flushed; a later masking starts afresh). The
// detector timeline keeps counting, so positions stay monotonic.
func (k *Masker) Reset() {
	k.head, k.size = 0, 0
	k.nspans, k.openSpan, k.nev = 0, -1, 0
	k.tsValid, k.relValid = false, false
	k.tracker.Reset()
	// Close whatever the detector had open by feeding it silence past its
	// analysis, so a tone in progress does not carry into the next use.
	k.evs = k.det.Skip(maxSkip, k.evs[:0])
	k.released = k.det.Pos()
	k.dig = digitDedup{}
}

// Push analyses one packet (h is its decoded header, pkt the whole
// datagram) that arrived at now, and queues a copy of it unless the
// verdict says otherwise. pkt is not retained.
func (k *Masker) Push(h *rtp.Header, pkt []byte, now time.Duration) Verdict {
	codec := k.codecs.Lookup(h.PayloadType)
	switch codec {
	case CodecTelephoneEvent:
		return k.pushEvent(h, pkt)
	case CodecPCMU, CodecPCMA, CodecCN:
	default:
		k.st.Undecodable++
		return DropUndecodable
	}
	if len(pkt) > SlotSize || k.size == len(k.slots) {
		k.st.Overflows++
		return DropOverflow
	}
	s := &k.slots[(k.head+k.size)%len(k.slots)]
	s.n = copy(s.buf[:], pkt)
	s.payOff = h.HeaderLength
	s.codec = codec
	s.ts = h.Timestamp
	s.due = now + k.policy.LookAhead
	s.samples = 0
	s.pos0 = k.det.Pos()
	k.size++
	k.st.Pushed++
	if codec == CodecCN {
		return Queued
	}
	if h.SSRC != k.ssrc {
		// A new audio stream: its timestamps are unrelated to the last.
		k.ssrc, k.tsValid = h.SSRC, false
	}
	payload := h.Payload(pkt)
	n := len(payload)
	if codec == CodecPCMU {
		g711.DecodeUlaw(k.pcm[:n], payload)
	} else {
		g711.DecodeAlaw(k.pcm[:n], payload)
	}
	// Map the RTP timeline onto the detector's: a forward gap (loss, a
	// silent stretch) is fed as silence; a reordered or repeated packet is
	// analysed where it arrives.
	if k.tsValid {
		if gap := int32(h.Timestamp - k.nextTS); gap > 0 {
			k.evs = k.det.Skip(int64(min(gap, maxSkip)), k.evs[:0])
			k.detectorEvents()
		}
	}
	s.pos0 = k.det.Pos()
	s.samples = n
	k.lastTS, k.lastPos = h.Timestamp, s.pos0
	end := h.Timestamp + uint32(n)
	if !k.tsValid || int32(end-k.nextTS) > 0 {
		k.nextTS = end
	}
	k.tsValid = true
	k.evs = k.det.Process(k.pcm[:n], k.evs[:0])
	k.detectorEvents()
	k.tspans = k.tracker.Advance(k.tspans[:0], h.Timestamp)
	k.eventSpans()
	return Queued
}

// pushEvent feeds an RFC 4733 packet to the tracker. It is never queued:
// a masked listener must not receive a digit (RFC 4733 §2.5.2 receivers
// would regenerate the tone).
func (k *Masker) pushEvent(h *rtp.Header, pkt []byte) Verdict {
	var err error
	k.tspans, err = k.tracker.Push(k.tspans[:0], h.Timestamp, h.Marker, h.SequenceNumber, h.Payload(pkt))
	if err != nil {
		k.st.Malformed++
		return DropMalformed
	}
	k.st.Events++
	k.eventSpans()
	return DropEvent
}

// detectorEvents applies the events in k.evs.
func (k *Masker) detectorEvents() {
	for _, e := range k.evs {
		switch e.Kind {
		case dtmf.MaskStart:
			if e.Pos < k.released {
				k.st.LateMasks++
				k.met.LateMasks.Add(1)
			}
			k.openSpan = k.addSpan(span{start: e.Pos, end: math.MaxInt64})
		case dtmf.MaskEnd:
			if k.openSpan >= 0 {
				k.spans[k.openSpan].end = e.Pos + k.tail
				k.openSpan = -1
			}
		case dtmf.DigitStart:
			k.digit(e.Digit, SourceInBand, k.lastTS+uint32(e.Pos-k.lastPos))
		case dtmf.DigitEnd:
			k.dig.extend(SourceInBand, k.lastTS+uint32(e.Pos-k.lastPos))
		}
	}
}

// addSpan stores s, evicting a span that ends before everything still
// queued (or, if none, the one that ends first).
func (k *Masker) addSpan(s span) int {
	if k.nspans < maxSpans {
		k.spans[k.nspans] = s
		k.nspans++
		return k.nspans - 1
	}
	victim := 0
	for i := 1; i < k.nspans; i++ {
		if i != k.openSpan && (victim == k.openSpan || k.spans[i].end < k.spans[victim].end) {
			victim = i
		}
	}
	k.spans[victim] = s
	return victim
}

// eventSpans applies the RFC 4733 spans in k.tspans.
func (k *Masker) eventSpans() {
	for _, sp := range k.tspans {
		if sp.New {
			if k.relValid && int32(sp.Start-k.relTS) < 0 {
				k.st.LateMasks++
				k.met.LateMasks.Add(1)
			}
			i := k.findEv(sp.Start)
			if i < 0 {
				i = k.addEv()
			}
			k.ev[i] = evSpan{start: sp.Start}
			if sp.Digit != 0 {
				k.digit(sp.Digit, SourceRFC4733, sp.Start)
			}
		}
		i := k.findEv(sp.Start)
		if i < 0 {
			continue
		}
		k.ev[i].end = sp.End() + uint32(k.tail)
		k.ev[i].open = !sp.Ended
		if sp.Digit != 0 {
			k.dig.extend(SourceRFC4733, sp.End())
		}
	}
}

func (k *Masker) findEv(start uint32) int {
	for i := range k.nev {
		if k.ev[i].start == start {
			return i
		}
	}
	return -1
}

func (k *Masker) addEv() int {
	if k.nev < maxSpans {
		k.nev++
		return k.nev - 1
	}
	victim := 0
	for i := 1; i < k.nev; i++ {
		if !k.ev[i].open && (k.ev[victim].open || int32(k.ev[i].end-k.ev[victim].end) < 0) {
			victim = i
		}
	}
	return victim
}

// StallGrace is how long a due packet waits for the samples after it when
// the stream stalls (end of a talk-spurt, network stall): without them the
// detector cannot decide about a tone starting in its last samples, so the
// packet waits this long for them and then leaves with what is known.
const StallGrace = 80 * time.Millisecond

// ready reports whether the head slot may leave at now: it is due and the
// detector has seen far enough past it (dtmf.MaskLag) to have opened any
// mask its samples need, or the stream stalled for StallGrace more.
func (k *Masker) ready(s *slot, now time.Duration) bool {
	if now < s.due {
		return false
	}
	if s.samples == 0 || k.det.Pos() >= s.pos0+int64(s.samples)+dtmf.MaskLag-1 {
		return true
	}
	return now >= s.due+StallGrace
}

// NextDue returns when Pop can next release a packet, and false when the
// queue is empty. Wake up then, or at the next arrival.
func (k *Masker) NextDue() (time.Duration, bool) {
	if k.size == 0 {
		return 0, false
	}
	s := &k.slots[k.head]
	if s.samples == 0 || k.det.Pos() >= s.pos0+int64(s.samples)+dtmf.MaskLag-1 {
		return s.due, true
	}
	return s.due + StallGrace, true
}

// Pop releases the oldest packet if it is ready at now: masked, ready to
// send. The slice is valid until the next Push. Call it until it returns
// false.
func (k *Masker) Pop(now time.Duration) ([]byte, bool) {
	if k.size == 0 || !k.ready(&k.slots[k.head], now) {
		return nil, false
	}
	return k.release(), true
}

// Drain releases the oldest packet whether due or not, masked with what is
// known (an open mask covers it): for flushing the queue when the direction
// is unmasked.
func (k *Masker) Drain() ([]byte, bool) {
	if k.size == 0 {
		return nil, false
	}
	return k.release(), true
}

func (k *Masker) release() []byte {
	s := &k.slots[k.head]
	k.head = (k.head + 1) % len(k.slots)
	k.size--
	k.st.Released++
	if s.samples > 0 {
		k.apply(s)
		k.released = s.pos0 + int64(s.samples)
		k.relTS, k.relValid = s.ts+uint32(s.samples), true
		k.prune()
	}
	return s.buf[:s.n]
}

// apply masks the samples of s that fall in a detector span or an RFC 4733
// span.
func (k *Masker) apply(s *slot) {
	n := s.samples
	p0, p1 := s.pos0, s.pos0+int64(n)
	mark := k.mark[:n]
	any := false
	for i := range k.nspans {
		sp := k.spans[i]
		lo, hi := max(sp.start, p0), min(sp.end, p1)
		for p := lo; p < hi; p++ {
			mark[p-p0] = true
			any = true
		}
	}
	for i := range k.nev {
		e := k.ev[i]
		lo := int64(int32(e.start - s.ts))
		hi := int64(n)
		if !e.open {
			hi = min(hi, int64(int32(e.end-s.ts)))
		}
		for j := max(lo, 0); j < hi; j++ {
			mark[j] = true
			any = true
		}
	}
	if !any {
		return
	}
	m := k.gen.fill(s.buf[s.payOff:s.payOff+n], mark, p0, s.codec)
	clear(mark)
	k.st.MaskedSamples += uint64(m)
	k.met.MaskedSamples.Add(float64(m))
}

// prune forgets spans wholly released.
func (k *Masker) prune() {
	for i := 0; i < k.nspans; {
		if i != k.openSpan && k.spans[i].end <= k.released {
			k.nspans--
			last := k.nspans
			k.spans[i] = k.spans[last]
			if k.openSpan == last {
				k.openSpan = i
			}
			continue
		}
		i++
	}
	for i := 0; i < k.nev; {
		if e := k.ev[i]; !e.open && int32(e.end-k.relTS) <= 0 {
			k.nev--
			k.ev[i] = k.ev[k.nev]
			continue
		}
		i++
	}
}
