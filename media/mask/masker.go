package mask

import (
	"math"
	"time"
	"unsafe"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/internal/cpucache"
	"github.com/hushmedia/hush/media/internal/prefault"
	"github.com/hushmedia/hush/media/rtp"
)

// Queue geometry. A slot holds one packet; Slots of them cover
// MaxLookAhead with 10 ms packets, plus room for jitter bursts.
const (
	// Slots is the delay line's capacity in packets.
	Slots = poolSize
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
	// Converted: an RFC 4733 packet, consumed like DropEvent, whose new
	// stretch of the event was queued as masking audio (ModeTone), to be
	// sent only if no audio packet covers that stretch (convert.go).
	Converted
)

var verdictNames = [...]string{"queued", "undecodable", "overflow", "event", "malformed", "converted"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "verdict(?)"
}

// Counter is the part of prometheus.Counter the masker and the relay use,
// so that media/ does not import prometheus. Implementations must be safe
// for concurrent use and must not allocate.
type Counter interface{ Add(float64) }

// Metrics are a masker's instruments; nil fields are not updated.
type Metrics struct {
	// MaskedSamples counts samples replaced (8 per millisecond).
	MaskedSamples Counter
	// NotchedSamples counts samples whose DTMF bands were removed and
	// that were not replaced (8 per millisecond).
	NotchedSamples Counter
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
	Pushed, Released uint64
	MaskedSamples    uint64
	// NotchedSamples counts samples whose DTMF bands were removed (and
	// not replaced).
	NotchedSamples         uint64
	Digits                 uint64
	LateMasks              uint64
	Undecodable, Overflows uint64
	Events, Malformed      uint64
	// Converted counts masking-audio packets sent for RFC 4733 stretches
	// no audio covered; Superseded those withheld because audio did.
	Converted, Superseded uint64
	// The recording tap's counters.
	RecordMaskedSamples, RecordLateMasks, RecordOverflows uint64
	RecordNotchedSamples                                  uint64
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
			{&k.met.MaskedSamples, m.MaskedSamples}, {&k.met.NotchedSamples, m.NotchedSamples},
			{&k.met.Digits, m.Digits}, {&k.met.LateMasks, m.LateMasks},
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

// slot is one queued packet. Its bookkeeping comes right before the packet,
// so both usually start on the same cache line: releasing a slot reads both,
// and with a thousand streams a line of its own was a cache miss of its own.
type slot struct {
	n       int   // packet length
	payOff  int   // payload offset
	samples int   // G.711 samples analysed (0 for CN and synthetic)
	synth   int   // > 0: masking audio of this many samples standing in for an RFC 4733 event (convert.go)
	pos0    int64 // detector timeline position of the first sample
	// decideAt is the detector position from which an audio slot is
	// decided (decided); math.MinInt64 for a slot with nothing to decide.
	decideAt int64
	due      time.Duration
	ts       uint32
	codec    Codec
	buf      [SlotSize]byte
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
	// What every packet reads or writes comes first, together: with a
	// thousand streams each packet finds its masker out of cache.
	slots []slot
	q     poolQueue // of slots
	// pos is det.Pos(), copied after each call that feeds the detector:
	// releasing reads it for every packet, and the detector is memory of
	// its own.
	pos      int64
	det      *dtmf.Detector
	codecs   *CodecMap
	raw      Policy // as configured
	policy   Policy // effective
	nspans   int
	openSpan int // index in spans of the open detector span, -1 none
	nev      int

	// RTP-to-timeline mapping of the stream.
	ssrc     uint32
	tsValid  bool
	relValid bool
	nextTS   uint32
	nextAt   time.Duration // arrival of the audio packet that ended at nextTS
	lastTS   uint32        // timestamp and timeline position of the last audio packet
	relTS    uint32
	lastPos  int64
	released int64 // timeline position released so far

	rec recorder

	// Also read or written by every packet: the prefix up to here is what
	// WarmPush covers.
	st         Stats
	evs        []dtmf.Event
	tspans     []dtmf.Span
	tracker    dtmf.EventTracker
	evSSRC     uint32 // the stream the tracker follows, when evStream
	evStream   bool
	audioPT    uint8 // RFC 4733 conversion (convert.go)
	audioCodec Codec
	covI       int

	gen     generator
	tail    int64
	onDigit func(Digit)
	met     Metrics

	spans [maxSpans]span
	ev    [maxSpans]evSpan

	// The notch spans (detector NotchStart/NotchEnd) and the forwarded
	// output's notch filter.
	notches  [maxSpans]notchSpan
	nnotches int
	fwdNotch notchFilter
	// memo lets the recording's notch filter and the forwarded one share
	// their work (with a recording tap).
	memo *notchMemo

	dig digitDedup

	convStart, convDur uint32
	cov                [covLen]covEntry

	// Scratch, all false between uses (only a masked stretch writes it).
	mark [maxSamples]bool
}

var defaultCodecs = DefaultCodecs()

// enqueue appends a free slot to the queue and returns it; the caller
// checked that the queue is not full.
func (k *Masker) enqueue() *slot { return &k.slots[k.q.push()] }

// front returns the oldest queued slot; the queue is not empty.
func (k *Masker) front() *slot { return &k.slots[k.q.front()] }

// dequeue removes the oldest slot from the queue and frees it. It stays
// valid until the next enqueue.
func (k *Masker) dequeue() *slot { return &k.slots[k.q.pop()] }

// New returns a masker with policy Policy{Mode: ModeSilence} and the
// default codec map; the relay calls Configure before each packet.
func New(opts ...Option) *Masker {
	k := &Masker{
		tail:     int64(DefaultTailGuard / sampleDur),
		slots:    make([]slot, Slots),
		det:      dtmf.NewDetector(),
		evs:      make([]dtmf.Event, 0, 16),
		tracker:  *dtmf.NewEventTracker(0),
		tspans:   make([]dtmf.Span, 0, 4),
		openSpan: -1,
		codecs:   &defaultCodecs,
		gen:      generator{noise: 0x9e3779b9},
	}
	prefault.Slice(k.slots) // the packet path's first writes must not fault (media/internal/prefault)
	k.q.reset()
	k.pos = k.det.Pos()
	k.met = Metrics{MaskedSamples: nopCounter{}, NotchedSamples: nopCounter{}, Digits: nopCounter{}, LateMasks: nopCounter{}}
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
	if p == k.raw && k.policy.LookAhead != 0 {
		return
	}
	k.raw = p
	e := p.Effective()
	if e.Mode <= ModeOff || e.Mode >= numModes {
		e.Mode = ModeSilence // fail closed: Observe (unmasked directions) never fills audio
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
func (k *Masker) Len() int { return k.q.size }

// Reset empties the queue and forgets all analysis (the direction was
// unmasked and its queue flushed; a later masking starts afresh). The
// detector timeline keeps counting, so positions stay monotonic. The
// recording queue, if any, is flushed first.
func (k *Masker) Reset() {
	k.FlushRecord()
	k.q.reset()
	k.nspans, k.openSpan, k.nev = 0, -1, 0
	k.nnotches = 0
	k.tsValid, k.relValid = false, false
	k.tracker.Reset()
	k.evStream = false
	// Close whatever the detector had open by feeding it silence past its
	// analysis, so a tone in progress does not carry into the next use.
	k.evs = k.det.Skip(maxSkip, k.evs[:0])
	k.pos = k.det.Pos()
	k.released = k.pos
	k.dig = digitDedup{}
}

// Push analyses one packet (h is its decoded header, pkt the whole
// datagram) that arrived at now, and queues a copy of it unless the
// verdict says otherwise. pkt is not retained.
func (k *Masker) Push(h *rtp.Header, pkt []byte, now time.Duration) Verdict {
	k.rec.arrive(now)
	codec := k.codecs.Lookup(h.PayloadType)
	switch codec {
	case CodecTelephoneEvent:
		return k.pushEvent(h, pkt, now, true)
	case CodecPCMU, CodecPCMA, CodecCN:
	default:
		k.st.Undecodable++
		return DropUndecodable
	}
	if len(pkt) > SlotSize || k.q.full() {
		k.st.Overflows++
		return DropOverflow
	}
	s := k.enqueue()
	s.n = copy(s.buf[:], pkt)
	s.payOff = h.HeaderLength
	s.codec = codec
	s.ts = h.Timestamp
	s.due = now + k.policy.LookAhead
	s.samples, s.synth = 0, 0
	s.pos0 = k.pos
	k.st.Pushed++
	if codec != CodecCN {
		s.pos0, s.samples = k.analyse(h, h.Payload(pkt), codec)
	}
	s.decideAt = math.MinInt64
	if s.samples > 0 {
		s.decideAt = s.pos0 + int64(s.samples) + dtmf.MaskLag - 1
	}
	return Queued
}

// Backlog says that the next packet given to Push or Observe reached the
// host d before the now it comes with: time it waited unread that the
// analysis clock leaves out (a relay behind on its socket counts a
// backlog only so far toward due times). The recording tap places that
// packet's frames by the earlier time, so a recording keeps audio that
// arrived in time while the relay was stalled. Push and Observe use it
// once and clear it.
func (k *Masker) Backlog(d time.Duration) { k.rec.backlog = max(d, 0) }

// Observe analyses a packet of a direction that is forwarded without
// delay, which arrived at now: only the recording tap and the detector
// state need it. RFC 4733 packets update the event spans; codecs hush
// cannot decode are ignored.
func (k *Masker) Observe(h *rtp.Header, pkt []byte, now time.Duration) {
	k.rec.arrive(now)
	switch codec := k.codecs.Lookup(h.PayloadType); codec {
	case CodecTelephoneEvent:
		k.pushEvent(h, pkt, 0, false)
	case CodecPCMU, CodecPCMA:
		if len(pkt) <= SlotSize {
			k.analyse(h, h.Payload(pkt), codec)
		}
	}
}

// endEventStream closes the tracker's stream: a new SSRC's timestamps are
// unrelated to the old one's, so its events would read as stale (a digit
// neither captured nor masked by its span). An event still open ends at
// its last known end.
func (k *Masker) endEventStream() {
	k.tspans = k.tracker.Restart(k.tspans[:0])
	k.eventSpans()
	k.evStream = false
}

// pushEvent feeds an RFC 4733 packet to the tracker. It is never queued
// as an event: a masked listener must not receive a digit (RFC 4733
// §2.5.2 receivers would regenerate the tone). With queue (a masked
// direction) in ModeTone, its new stretch may be queued as masking audio.
func (k *Masker) pushEvent(h *rtp.Header, pkt []byte, now time.Duration, queue bool) Verdict {
	if k.evStream && h.SSRC != k.evSSRC {
		k.endEventStream()
	}
	k.evSSRC, k.evStream = h.SSRC, true
	var err error
	k.tspans, err = k.tracker.Push(k.tspans[:0], h.Timestamp, h.Marker, h.SequenceNumber, h.Payload(pkt))
	if err != nil {
		k.st.Malformed++
		return DropMalformed
	}
	k.st.Events++
	k.eventSpans()
	if queue && k.convert(h, now) {
		return Converted
	}
	return DropEvent
}

// ready reports whether the head slot may leave at now: it is due and the
// detector has seen far enough past it (dtmf.MaskLag) to have opened any
// mask its samples need, or (grace) the stream stalled for StallGrace more.
func (k *Masker) ready(s *slot, now time.Duration, grace bool) bool {
	if now < s.due {
		return false
	}
	if k.decided(s) {
		return true
	}
	return grace && now >= s.due+StallGrace
}

// decided reports whether a slot has all the look-ahead it waits for: the
// detector past it by MaskLag (audio), audio over or past its stretch
// (synthetic, convert.go), or nothing (CN).
func (k *Masker) decided(s *slot) bool {
	if s.synth > 0 {
		return k.audioPassed(s) || k.covered(s.ts, s.synth)
	}
	return k.pos >= s.decideAt
}

// StallGrace is how long a due packet waits for the samples after it when
// the stream stalls (end of a talk-spurt, network stall): without them the
// detector cannot decide about a tone starting in its last samples, so the
// packet waits this long for them and then leaves with what is known.
const StallGrace = 80 * time.Millisecond

// NextDue returns when Pop can next release a packet, and false when the
// queue is empty. Wake up then, or at the next arrival.
func (k *Masker) NextDue() (time.Duration, bool) {
	due, decided, ok := k.FrontDue()
	if ok && !decided {
		due += StallGrace
	}
	return due, ok
}

// FrontDue reports the oldest packet's due time and whether the detector
// has decided about it yet (if not, it leaves at due only once the
// samples that decide have come, at due+StallGrace at the latest); ok is
// false while nothing is queued.
func (k *Masker) FrontDue() (due time.Duration, decided, ok bool) {
	if k.q.size == 0 {
		return 0, false, false
	}
	s := k.front()
	return s.due, k.decided(s), true
}

// Pop releases the oldest packet if it is ready at now: masked, ready to
// send. The slice is valid until the next Push. Call it until it returns
// false.
func (k *Masker) Pop(now time.Duration) ([]byte, bool) { return k.pop(now, false, true) }

// PopDecided is Pop for a caller that may still have unread packets of
// this stream (an engine that fell behind): a packet the detector has not
// decided about waits, even past its StallGrace, since what decides it may
// be among them. Read them, then Pop.
func (k *Masker) PopDecided(now time.Duration) ([]byte, bool) { return k.pop(now, false, false) }

// PopFull makes room in a full queue: it releases the oldest packet ahead
// of its due time if the detector has decided about it and has analysed
// the stream a look-ahead past it (by detector position, so the samples
// that would have come during its look-ahead at the stream's own pace have
// come), and a stand-in that audio covered is withheld (Superseded), which
// frees its slot with nothing to send. A burst, or a backlog read at once,
// brings many packets at one instant: their due times (arrival + LookAhead)
// say nothing about how much of the stream was analysed after the oldest,
// and holding them all would drop the newest unanalysed (DropOverflow). An
// oldest packet not yet decided stays (fail closed). It reports false when
// nothing is to be sent (the queue is not full, or the oldest may not leave).
func (k *Masker) PopFull() ([]byte, bool) {
	if !k.q.full() {
		return nil, false
	}
	s := k.front()
	if s.synth > 0 && k.covered(s.ts, s.synth) {
		k.dequeue()
		k.st.Superseded++
		return nil, false
	}
	if !k.decided(s) || k.pos-(s.pos0+int64(max(s.samples, s.synth))) < int64(k.policy.LookAhead/sampleDur) {
		return nil, false
	}
	return k.release(), true
}

// Drain releases the oldest packet whether due or not, masked with what is
// known (an open mask covers it): for flushing the queue when the direction
// is unmasked.
func (k *Masker) Drain() ([]byte, bool) { return k.pop(0, true, false) }

func (k *Masker) pop(now time.Duration, force, grace bool) ([]byte, bool) {
	for k.q.size > 0 {
		s := k.front()
		if s.synth > 0 && k.covered(s.ts, s.synth) {
			// Audio carried this stretch of the event: it is masked there,
			// and the audio queued behind need not wait for the stand-in.
			k.dequeue()
			k.st.Superseded++
			continue
		}
		if !force && !k.ready(s, now, grace) {
			return nil, false
		}
		return k.release(), true
	}
	return nil, false
}

func (k *Masker) release() []byte {
	s := k.dequeue() // its buffer stays untouched until the next Push
	k.st.Released++
	if s.synth > 0 {
		k.synthesize(s)
	}
	if s.samples > 0 {
		mark := k.mark[:s.samples]
		codes := s.buf[s.payOff : s.payOff+s.samples]
		masked := k.marks(mark, s.pos0, s.ts)
		if k.nnotches > 0 {
			// The recording notches these samples too: if it has yet to, it may take them.
			share := k.rec.on && s.pos0 >= k.rec.released
			if n := k.fwdNotch.apply(codes, mark, s.pos0, s.codec.law(), k.notches[:k.nnotches], k.memo, share); n > 0 {
				k.st.NotchedSamples += uint64(n)
				k.met.NotchedSamples.Add(float64(n))
			}
		}
		if masked {
			m := k.gen.fill(codes, mark, s.pos0, s.codec)
			clear(mark)
			k.st.MaskedSamples += uint64(m)
			k.met.MaskedSamples.Add(float64(m))
		}
		k.released = s.pos0 + int64(s.samples)
		k.relTS, k.relValid = s.ts+uint32(s.samples), true
		k.prune()
	}
	return s.buf[:s.n]
}

// WarmLevels is how many levels WarmPush and WarmPop have.
const WarmLevels = 2

// WarmPush asks the processor to start loading what the next Push reads and
// writes, one pointer level at a time, so that a caller with a batch of
// maskers can overlap their cache misses: it runs level 0 for every masker,
// then level 1, up to WarmLevels. Level 0 hints the masker's own per-packet
// fields (it reads nothing); level 1 reads them and hints what they point
// at: the slot Push will fill, the coverage entry it writes, the recording
// frames it fills and hands on, the detector. It changes nothing; a level
// out of range does nothing.
func (k *Masker) WarmPush(level int) {
	switch level {
	case 0:
		cpucache.PrefetchRange(unsafe.Pointer(k), unsafe.Offsetof(k.covI)+unsafe.Sizeof(k.covI))
	case 1:
		k.warmPushData()
	}
}

func (k *Masker) warmPushData() {
	if k.q.nfree > 0 {
		s := &k.slots[k.q.free[k.q.nfree-1]]
		cpucache.PrefetchRange(unsafe.Pointer(s), slotPrefetch)
	}
	cpucache.Prefetch(unsafe.Pointer(&k.cov[k.covI%covLen]))
	if r := &k.rec; r.on {
		if r.q.nfree > 0 {
			cpucache.PrefetchRange(unsafe.Pointer(&r.frames[r.q.free[r.q.nfree-1]]), framePrefetch)
		}
		if r.q.size > 0 {
			cpucache.PrefetchRange(unsafe.Pointer(&r.frames[r.q.front()]), framePrefetch)
		}
		if r.q.size > 1 {
			// emit reads the next frame's position to find it not yet final.
			cpucache.Prefetch(unsafe.Pointer(&r.frames[r.q.second()]))
		}
	}
	k.det.Prefetch()
}

// WarmPop is WarmPush for releasing the oldest packet (Pop, PopDecided):
// level 0 hints the masker's fields up to the detector's pointer, level 1
// the oldest slot and the bookkeeping of the one after it, which the
// release reads next to find it not yet due. (Releasing reads nothing of
// the detector: the masker keeps its position.)
func (k *Masker) WarmPop(level int) {
	switch level {
	case 0:
		cpucache.PrefetchRange(unsafe.Pointer(k), unsafe.Offsetof(k.det)+unsafe.Sizeof(k.det))
	case 1:
		if k.q.size == 0 {
			return
		}
		s := k.front()
		cpucache.PrefetchRange(unsafe.Pointer(s), slotPrefetch)
		if k.q.size > 1 {
			cpucache.Prefetch(unsafe.Pointer(&k.slots[k.q.second()]))
		}
	}
}

// framePrefetch is how much of a recording frame the hints cover: its
// bookkeeping and a 20 ms packet's codes.
const framePrefetch = unsafe.Offsetof(recFrame{}.codes) + 160

// slotPrefetch is how much of a slot the hints cover: its bookkeeping and
// a 20 ms G.711 packet (12-byte header, 160 samples).
const slotPrefetch = unsafe.Offsetof(slot{}.buf) + 12 + 160
