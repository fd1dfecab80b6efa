package mask

import (
	"time"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/internal/prefault"
)

// The recording tap: every audio packet's G.711 codes, DTMF always
// marked for silence (in-band and RFC 4733, whatever the forwarding
// policy), delayed on the sample timeline rather than by a clock: a frame
// is final once the detector has been fed RecordDelay past its end, so it
// needs no timer. What is still queued when the call ends is flushed by
// FlushRecord.

// DefaultRecordDelay is the recording look-ahead L_rec: 640 samples, well
// past the detector's MaskLag, and free for a recording.
const DefaultRecordDelay = 80 * time.Millisecond

const (
	recFrames   = poolSize
	recFrameMax = 480 // samples per frame; longer packets are split
)

type recFrame struct {
	ssrc, ts uint32
	pos0     int64
	at       time.Duration // arrival of the first sample
	n        int
	law      g711.Law
	codes    [recFrameMax]byte
}

// RecordFrame is one frame of a direction's audio for the recording: the
// G.711 codes as they arrived, and which samples to record as silence
// (DTMF). Handing over codes rather than PCM halves what the packet path
// copies and what crosses to the recorder's core; the recorder decodes.
type RecordFrame struct {
	Law   g711.Law
	Codes []byte
	// Silent is nil, or one flag per code: true for a sample to record as
	// silence.
	Silent []bool
	// Arrival is when the frame's first sample arrived, on the clock of the
	// now given to Push or Observe, less any Backlog. A frame is handed over once the tap has
	// analysed what follows it, which at the end of a talk spurt (or of the
	// call) can be long after; the recording places it by Arrival.
	Arrival time.Duration
}

// PCM decodes the frame into dst (at least len(Codes) long) with the
// silent samples zeroed, and returns the samples written.
func (f *RecordFrame) PCM(dst []int16) []int16 {
	out := dst[:f.Law.Decode(dst, f.Codes)]
	for i, s := range f.Silent[:min(len(f.Silent), len(out))] {
		if s {
			out[i] = 0
		}
	}
	return out
}

// recorder is the tap's queue of frames waiting to become final.
type recorder struct {
	on     bool
	delay  int64 // samples
	sink   RecordSink
	masked func(ssrc, startTS, endTS uint32)

	notch    notchFilter
	frames   []recFrame
	q        poolQueue // of frames
	out      RecordFrame
	released int64         // timeline position delivered so far
	now      time.Duration // arrival of the packet being analysed
	// arrived is when that packet reached the host: now less the backlog
	// (Masker.Backlog), the time the frames are placed by.
	arrived, backlog time.Duration

	// The masked run being built, reported when it ends.
	run                     bool
	runSSRC, runStart, runE uint32
}

// RecordSink takes the recording tap's frames: see WithRecordSink.
type RecordSink interface {
	// RecordAudio gets one frame: the sender's SSRC, its RTP timestamp and
	// the frame (valid during the call only).
	RecordAudio(ssrc, ts uint32, f *RecordFrame)
}

// RecordFunc adapts a function to RecordSink.
type RecordFunc func(ssrc, ts uint32, f *RecordFrame)

// RecordAudio calls fn.
func (fn RecordFunc) RecordAudio(ssrc, ts uint32, f *RecordFrame) { fn(ssrc, ts, f) }

// WithRecordSink makes the masker deliver every audio frame, DTMF marked
// for silence, to sink, delay (0: DefaultRecordDelay) behind the analysis
// on the sample timeline, on the goroutine that calls Push or Observe (or
// FlushRecord). masked, if not nil, receives each replaced stretch
// [startTS, endTS) once it ends, for the recording's sidecar. Neither may
// block.
func WithRecordSink(delay time.Duration, sink RecordSink, masked func(ssrc, startTS, endTS uint32)) Option {
	return func(k *Masker) {
		if delay <= 0 {
			delay = DefaultRecordDelay
		}
		k.rec = recorder{on: sink != nil, delay: int64(delay / sampleDur), sink: sink, masked: masked,
			frames: make([]recFrame, recFrames)}
		prefault.Slice(k.rec.frames)
		k.rec.q.reset()
		k.memo = nil
		if sink != nil {
			k.memo = new(notchMemo)
		}
	}
}

// WithRecordTap is WithRecordSink with a function for the sink (nil: no
// tap).
func WithRecordTap(delay time.Duration, audio func(ssrc, ts uint32, f *RecordFrame), masked func(ssrc, startTS, endTS uint32)) Option {
	var sink RecordSink
	if audio != nil {
		sink = RecordFunc(audio)
	}
	return WithRecordSink(delay, sink, masked)
}

// arrive notes the arrival of the packet Push or Observe is given at now,
// taking the backlog Backlog set for it.
func (r *recorder) arrive(now time.Duration) {
	r.now, r.arrived, r.backlog = now, now-r.backlog, 0
}

// push queues a packet's codes at timeline position pos0.
func (r *recorder) push(k *Masker, ssrc, ts uint32, pos0 int64, law g711.Law, codes []byte) {
	if !r.on {
		return
	}
	first := pos0
	for len(codes) > 0 {
		if r.q.full() {
			// Full (a delay longer than the queue holds): the oldest frame
			// is dropped, not delivered half-analysed; the recording has a
			// gap (silence) there.
			r.q.pop()
			k.st.RecordOverflows++
		}
		f := &r.frames[r.q.push()]
		f.ssrc, f.ts, f.pos0, f.law = ssrc, ts, pos0, law
		f.at = r.arrived + time.Duration(pos0-first)*sampleDur
		f.n = copy(f.codes[:], codes)
		codes = codes[f.n:]
		ts += uint32(f.n)
		pos0 += int64(f.n)
	}
}

// oldest returns the oldest queued frame.
func (r *recorder) oldest() (*recFrame, bool) {
	if r.q.size == 0 {
		return nil, false
	}
	return &r.frames[r.q.front()], true
}

// emit delivers the frames that are final (all: every frame).
func (r *recorder) emit(k *Masker, all bool) {
	if !r.on {
		return
	}
	pos := k.pos
	for range len(r.frames) {
		f, ok := r.oldest()
		if !ok || !all && f.pos0+int64(f.n)+r.delay > pos {
			break
		}
		mark := k.mark[:f.n]
		first, last := -1, -1
		r.out = RecordFrame{Law: f.law, Codes: f.codes[:f.n], Arrival: f.at}
		masked := k.marks(mark, f.pos0, f.ts)
		if k.nnotches > 0 {
			// Forwarding notches these samples too: if it has yet to, it may take them.
			share := k.q.size > 0 && f.pos0 >= k.released
			k.st.RecordNotchedSamples += uint64(r.notch.apply(f.codes[:f.n], mark, f.pos0, f.law, k.notches[:k.nnotches], k.memo, share))
		}
		if masked {
			n := 0
			for i, m := range mark {
				if m {
					if first < 0 {
						first = i
					}
					last, n = i, n+1
				}
			}
			r.out.Silent = mark
			k.st.RecordMaskedSamples += uint64(n) // not last-first+1: a frame may hold two spans
		}
		r.runs(f, first, last)
		r.sink.RecordAudio(f.ssrc, f.ts, &r.out)
		if r.out.Silent != nil {
			clear(mark)
		}
		r.released = f.pos0 + int64(f.n)
		r.q.pop()
	}
	if all {
		r.runs(nil, -1, -1)
	}
	k.prune()
}

// runs joins the masked stretches of consecutive frames and reports each
// when it ends (f nil: the end of the stream).
func (r *recorder) runs(f *recFrame, first, last int) {
	if r.run && (f == nil || first != 0 || f.ssrc != r.runSSRC || f.ts != r.runE) {
		if r.masked != nil {
			r.masked(r.runSSRC, r.runStart, r.runE)
		}
		r.run = false
	}
	if f == nil || first < 0 {
		return
	}
	if !r.run {
		r.run, r.runSSRC, r.runStart = true, f.ssrc, f.ts+uint32(first)
	}
	r.runE = f.ts + uint32(last+1)
	if last != f.n-1 {
		// The stretch ends inside this frame.
		if r.masked != nil {
			r.masked(r.runSSRC, r.runStart, r.runE)
		}
		r.run = false
	}
}

// FlushRecord delivers every queued recording frame now, masked with what
// is known (an open mask covers the rest): call it when the stream ends.
func (k *Masker) FlushRecord() { k.rec.emit(k, true) }
