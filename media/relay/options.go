package relay

import (
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/udpio"
)

// DefaultLatencySampling: one packet in 16 is timed for the latency
// observer, so the two clock reads cost next to nothing per packet.
const DefaultLatencySampling = 16

// Option configures a Call.
type Option func(*options)

type options struct {
	rateLimit   uint32
	metrics     [NumDirections]DirectionMetrics
	onLatch     func(LatchEvent)
	onReject    func(LatchRejectEvent)
	sampleEvery uint32
	now         func() time.Time
	onDigit     func(DigitEvent)
	tap         *RecordTap
	engine      udpio.Engine
	maxQueue    time.Duration
}

// DefaultMaxQueueDelay is WithMaxQueueDelay's bound when the option is not
// given: ten times a packet's duration, beyond which a listener hears a
// drop-out either way and the backlog only postpones everything after it.
const DefaultMaxQueueDelay = 200 * time.Millisecond

func defaultOptions() options {
	return options{sampleEvery: DefaultLatencySampling, now: time.Now, maxQueue: DefaultMaxQueueDelay}
}

// WithMetrics sets the instruments of one direction.
func WithMetrics(dir Direction, m DirectionMetrics) Option {
	return func(o *options) {
		if int(dir) < NumDirections {
			o.metrics[dir] = m
		}
	}
}

// WithOnLatch sets a function called once per latch, on the packet
// goroutine that latched; it must return quickly and must not block (hand the
// event to a channel with a non-blocking send, for example). It must not
// call the Call's Close, which waits for that goroutine.
func WithOnLatch(fn func(LatchEvent)) Option {
	return func(o *options) { o.onLatch = fn }
}

// WithOnLatchReject sets a function told about refused attempts to latch a
// leg (LatchReject): at a leg's 1st, 2nd, 4th, 8th... refusal, so that a
// flood of them costs a handful of calls. Like WithOnLatch it runs on the
// packet goroutine, must return quickly, never block and not call Close.
func WithOnLatchReject(fn func(LatchRejectEvent)) Option {
	return func(o *options) { o.onReject = fn }
}

// WithLatencySampling times one packet in every n (n >= 1).
func WithLatencySampling(n int) Option {
	return func(o *options) { o.sampleEvery = uint32(max(n, 1)) }
}

// WithClock sets the clock LastActivity reads (tests inject a fake one);
// the packet loop never reads it. Latency is always measured with the real
// monotonic clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithDigits sets the function that receives digits captured under secure
// capture (mask.Policy.Capture), once per key press, on the packet
// goroutine. It must return quickly and never block (hand the event to a
// buffered channel with a non-blocking send) and must not call Close. The
// digit is card data: never log it.
func WithDigits(fn func(DigitEvent)) Option {
	return func(o *options) { o.onDigit = fn }
}

// RecordTap receives each direction's audio for the recording: G.711 codes
// with DTMF (in-band and RFC 4733) always marked for silence, whatever the
// forwarding policy, Delay behind on the sample timeline (no timer: a
// frame is final once the detector has analysed Delay past it). The
// functions run on the packet goroutines (one per direction), and once more
// from Close for the frames still queued; they must not block or keep the frame.
// The detector then runs on both directions' audio (about 1 us a packet).
type RecordTap struct {
	// Delay is L_rec; 0 means mask.DefaultRecordDelay (80 ms).
	Delay time.Duration
	// Sink gets each frame: the leg it came from, the sender's SSRC and RTP
	// timestamp, when the frame's first sample reached hush, and the frame
	// (valid during the call only; its PCM method decodes it as it is to be
	// recorded). A frame comes Delay after it arrived while its direction
	// keeps sending; the last frames of a talk spurt come when the next
	// spurt has been analysed far enough, or at Close. A Sink that is also
	// a RecordWarmer has its state warmed with each packet's.
	Sink RecordSink
	// Audio is the same as a function without the arrival, used when Sink
	// is nil.
	Audio func(dir Direction, ssrc, ts uint32, f *mask.RecordFrame)
	// Masked, if set, gets each stretch [startTS, endTS) of RTP timestamps
	// replaced in the recording, once it ends (for the sidecar).
	Masked func(dir Direction, ssrc, startTS, endTS uint32)
}

// RecordSink takes a call's audio for the recording: see RecordTap. from is
// the leg the audio came from (the direction's Direction.From).
// media/record's *Recorder is one.
type RecordSink interface {
	RecordAudio(from Leg, ssrc, ts uint32, at time.Time, f *mask.RecordFrame)
}

// RecordWarmer is a RecordSink that can start loading what its next
// RecordAudio(from) touches, in WarmLevels levels, level k reading only
// what the levels below it loaded: the engines run each level for a batch
// of packets before the next, so that their cache misses overlap (see
// warm.go). It must change nothing. media/record's Recorder is one.
type RecordWarmer interface {
	WarmLevels() int
	Warm(from Leg, level int)
}

// UndecodableRecorder is a RecordSink that wants to know of audio it gets
// nothing of: RecordUndecodable runs on the packet goroutine for each RTP
// packet from the leg whose payload type hush cannot decode (not G.711, CN or
// the leg's telephone-event), which the recording therefore hears as
// silence. It must not block or allocate.
type UndecodableRecorder interface {
	RecordUndecodable(from Leg, pt uint8)
}

// SwitchSink is a RecordSink whose sink is set during the call: a call
// whose recording may start later gets one as its tap's Sink, and Set hands
// it the recording when it starts. Until then it passes nothing on; after,
// everything, at one atomic load a frame. The zero value is ready.
type SwitchSink struct{ p atomic.Pointer[switchTarget] }

type switchTarget struct {
	sink RecordSink
	ud   UndecodableRecorder // sink as one, or nil
}

// Set makes s pass frames on to sink (nil: to nothing) from now on.
func (s *SwitchSink) Set(sink RecordSink) {
	if sink == nil {
		s.p.Store(nil)
		return
	}
	t := &switchTarget{sink: sink}
	t.ud, _ = sink.(UndecodableRecorder)
	s.p.Store(t)
}

// RecordAudio is RecordSink.
func (s *SwitchSink) RecordAudio(from Leg, ssrc, ts uint32, at time.Time, f *mask.RecordFrame) {
	if t := s.p.Load(); t != nil {
		t.sink.RecordAudio(from, ssrc, ts, at, f)
	}
}

// RecordUndecodable is UndecodableRecorder.
func (s *SwitchSink) RecordUndecodable(from Leg, pt uint8) {
	if t := s.p.Load(); t != nil && t.ud != nil {
		t.ud.RecordUndecodable(from, pt)
	}
}

// audioSink adapts RecordTap.Audio to RecordSink.
type audioSink func(dir Direction, ssrc, ts uint32, f *mask.RecordFrame)

func (fn audioSink) RecordAudio(from Leg, ssrc, ts uint32, _ time.Time, f *mask.RecordFrame) {
	fn(Direction(from), ssrc, ts, f)
}

// WithRecordTap sets the recording tap (see RecordTap).
func WithRecordTap(t RecordTap) Option {
	return func(o *options) {
		if t.Sink == nil && t.Audio != nil {
			t.Sink = audioSink(t.Audio)
		}
		if t.Sink != nil {
			o.tap = &t
		}
	}
}

// WithRateLimit caps the packets per second each of the call's sockets accepts (after the
// source check); packets over the cap are dropped as DropRateLimit. 0 means no cap. The
// rate is measured over windows of rateWindow packets so the loop reads the clock only
// once per window.
func WithRateLimit(pps int) Option {
	return func(o *options) { o.rateLimit = uint32(max(pps, 0)) }
}

// WithMaxQueueDelay bounds how long an RTP packet may wait inside hush beyond
// its masking look-ahead, from when the kernel received it: when the host
// falls behind (a competing process, a stalled worker), packets over the
// bound are dropped as DropStale instead of sent late, so the call skips the
// backlog and is back on time once hush catches up. A masked packet dropped
// so was still analysed (its digits are captured) and recorded. 0 turns the
// bound off: everything is sent, however late. The bound is checked against
// the kernel's receive timestamp where the engine reads one (epoll,
// io_uring); the portable engine has none and never drops for it.
func WithMaxQueueDelay(d time.Duration) Option {
	return func(o *options) { o.maxQueue = max(d, 0) }
}

// WithEngine serves the call's sockets with e (see udpio.New); without it,
// or with nil, the call uses the portable engine (a goroutine per socket).
func WithEngine(e udpio.Engine) Option {
	return func(o *options) { o.engine = e }
}
