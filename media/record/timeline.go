package record

import (
	"encoding/binary"
	"math"
	mathbits "math/bits"
	"slices"
)

// pendSamples is the per-channel capacity of the pending (not yet flushed)
// audio: 4 s, enough for the jitter window plus a leg running up to the
// resync threshold ahead of wall clock. Power of two for cheap wrapping.
const pendSamples = 1 << 15

// driftEpoch is how long (in samples) a leg's arrival-versus-timestamp
// deviation is watched before deciding it has drifted: long enough that
// a jitter burst does not look like drift.
const driftEpoch = 2 * SampleRate

// legState maps one leg's RTP timestamps onto the recording timeline.
type legState struct {
	anchored bool
	ssrc     uint32
	baseTS   uint32 // newest timestamp seen; deltas are taken from it
	basePos  int64  // its timeline position

	// Drift tracking over the current epoch: dev = arrival - position of
	// each newer frame. A sender whose sample clock runs slower or faster
	// than ours moves dev steadily; jitter only spreads it.
	epochEnd       int64
	minDev, maxDev int64
}

// legCounters are written by the writer and read by Stats.
type legCounters struct {
	late      uint64
	reanchors uint64
	drift     uint64
}

// pauseSpan is a pause on the timeline. end is math.MaxInt64 while open.
type pauseSpan struct {
	start, end int64
	skip       bool
}

// timeline aligns both legs on one sample timeline and turns it into
// interleaved stereo bytes. Position 0 is the recording start; one
// position is one sample (125 µs). It does no I/O and is owned by the
// writer goroutine.
type timeline struct {
	pend    [NumChannels][]int16 // circular, indexed by position & pendMask
	flushed int64                // positions below this are in out or on disk
	hi      int64                // end of the furthest audio placed
	window  int64                // jitter window in samples
	resync  int64                // re-anchor threshold in samples
	drift   int64                // drift correction threshold (window/2)
	target  int64                // deviation a drift correction aims for
	legs    [NumChannels]legState
	counts  [NumChannels]legCounters

	pauses  []pauseSpan // sorted, non-overlapping
	pidx    int         // first pause not entirely below flushed
	skipped int64       // samples left out by skip pauses so far

	out []byte // interleaved PCM awaiting a file write

	// Held audio for positions already on disk, for the writer to apply.
	patches  []diskPatch
	patchPCM [NumChannels][]int16 // per leg, so a leg's contiguous patches coalesce
}

const pendMask = pendSamples - 1

func newTimeline(window, resync int64) *timeline {
	t := &timeline{window: window, resync: resync, drift: window / 2, target: window / 8,
		out: make([]byte, 0, writeChunk+8<<10), patches: make([]diskPatch, 0, 8)}
	for i := range t.pend {
		t.pend[i] = make([]int16, pendSamples)
		t.patchPCM[i] = make([]int16, 0, 8*slotSamples)
	}
	return t
}

// place puts one leg frame on the timeline. arrival is the timeline
// position at which Write was called.
//
// The first frame of a leg, and any frame with a new SSRC (RFC 3550
// §8.2: a new SSRC is a new timestamp space), anchors the leg at its
// arrival position. Later frames are placed by the serial-number
// difference of their timestamp to the newest one seen (RFC 3550 §5.1,
// RFC 1982), which survives the 32-bit wrap. A newer frame more than
// resync away from its arrival (timestamp jump, stalled sender clock,
// a sender that stopped and resumed without advancing its clock) or an
// older one more than resync back (timestamp reset) re-anchors by wall
// clock. Frames that land before what was already flushed are late:
// dropped and counted; a frame only partly before it keeps the rest, and
// counts as late too.
//
// Slow clock drift between the sender and us is corrected in small
// steps: when every newer frame of a 2 s epoch arrived more than half
// the jitter window later than its position (the leg falls behind and
// would soon be late), or all of them earlier than that (it runs ahead),
// the leg is shifted so the deviation is back to an eighth of the window.
// The cost is a short silence (or overlap) once in a long while instead
// of lost audio.
func (t *timeline) place(leg int, ssrc, ts uint32, arrival int64, pcm []int16) {
	t.placeFrame(leg, ssrc, ts, arrival, pcm, nil, nil)
}

// placeSlot is place for the frame in a ring slot. G.711 is decoded
// straight into the pending audio, muted samples zeroed, when the frame is
// simply pending (not held, late or far ahead); else into scratch first.
func (t *timeline) placeSlot(leg int, s *slot, scratch *[slotSamples]int16) {
	if s.law == 0 {
		t.placeFrame(leg, s.ssrc, s.ts, s.arrival, s.pcm()[:s.n], nil, nil)
		return
	}
	t.placeFrame(leg, s.ssrc, s.ts, s.arrival, nil, s, scratch)
}

// placeFrame is place for pcm, or for the G.711 slot g (see placeSlot).
func (t *timeline) placeFrame(leg int, ssrc, ts uint32, arrival int64, pcm []int16, g *slot, scratch *[slotSamples]int16) {
	L := &t.legs[leg]
	if !L.anchored || ssrc != L.ssrc {
		if L.anchored {
			t.counts[leg].reanchors++
		}
		t.anchor(L, ssrc, ts, arrival)
	}
	d := int64(int32(ts - L.baseTS))
	pos := L.basePos + d
	switch {
	case d > 0:
		if pos-arrival > t.resync || arrival-pos > t.resync {
			t.counts[leg].reanchors++
			t.anchor(L, ssrc, ts, arrival)
			pos = arrival
			break
		}
		pos += t.trackDrift(leg, L, arrival, pos)
		L.baseTS, L.basePos = ts, pos
	case d < -t.resync:
		t.counts[leg].reanchors++
		t.anchor(L, ssrc, ts, arrival)
		pos = arrival
	}
	if g != nil {
		if t.putG711(leg, pos, g) {
			return
		}
		pcm = g.samples(scratch)
	}

	if pos < t.flushed && arrival < t.flushed {
		// Held upstream, not late: the frame reached hush in time and was
		// handed over once the tap could decide about it (the end of a talk
		// spurt, or of the call). Its place is already flushed: write it
		// there.
		k := min(pos+int64(len(pcm)), t.flushed) - pos
		t.patch(leg, pos, pcm[:k])
		pcm, pos = pcm[k:], pos+k
		if len(pcm) == 0 {
			return
		}
	}
	n := int64(len(pcm))
	end := pos + n
	if end <= t.flushed {
		t.counts[leg].late++
		return
	}
	if pos < t.flushed {
		// Partly late: the part whose place was written is lost, and the
		// frame counts as late, so a hole in the file is always counted.
		t.counts[leg].late++
		pcm = pcm[t.flushed-pos:]
		pos = t.flushed
	}
	if end-t.flushed > pendSamples {
		// A leg running far ahead of wall clock: make room by flushing
		// early rather than losing its audio.
		t.flushTo(end - pendSamples)
	}
	dst := t.pend[leg]
	i := pos & pendMask
	c := copy(dst[i:], pcm)
	copy(dst, pcm[c:])
	if end > t.hi {
		t.hi = end
	}
}

// putG711 decodes the G.711 slot g's frame at position pos straight into
// the pending audio, its muted samples zeroed. It reports false, having
// done nothing, when the frame is not simply pending audio (held, late, or
// far ahead): placeFrame's general path takes it then.
func (t *timeline) putG711(leg int, pos int64, g *slot) bool {
	codes := g.codes()[:g.n]
	end := pos + int64(len(codes))
	if pos < t.flushed || end-t.flushed > pendSamples {
		return false
	}
	dst := t.pend[leg]
	i := pos & pendMask
	c := g.law.Decode(dst[i:], codes)
	g.law.Decode(dst, codes[c:])
	if g.muted {
		for w, bits := range g.mute {
			for bits != 0 {
				j := int64(w*64 + mathbits.TrailingZeros64(bits))
				bits &= bits - 1
				dst[(pos+j)&pendMask] = 0
			}
		}
	}
	if end > t.hi {
		t.hi = end
	}
	return true
}

func (t *timeline) anchor(L *legState, ssrc, ts uint32, arrival int64) {
	*L = legState{anchored: true, ssrc: ssrc, baseTS: ts, basePos: arrival,
		epochEnd: arrival + driftEpoch, minDev: math.MaxInt64, maxDev: math.MinInt64}
}

// trackDrift records the deviation of a newer frame and, at the end of an
// epoch, returns the shift to apply to the leg (0 when it has not
// drifted beyond the threshold).
func (t *timeline) trackDrift(leg int, L *legState, arrival, pos int64) int64 {
	dev := arrival - pos
	L.minDev = min(L.minDev, dev)
	L.maxDev = max(L.maxDev, dev)
	if arrival < L.epochEnd {
		return 0
	}
	var shift int64
	switch {
	case L.minDev > t.drift:
		shift = L.minDev - t.target
	case L.maxDev < -t.drift:
		shift = L.maxDev + t.target
	}
	if shift != 0 {
		t.counts[leg].drift++
	}
	L.epochEnd = max(L.epochEnd+driftEpoch, arrival+driftEpoch/2)
	L.minDev, L.maxDev = math.MaxInt64, math.MinInt64
	return shift
}

// pauseAt reports the pause mode at position p and the next position at
// which that mode may change.
func (t *timeline) pauseAt(p int64) (paused, skip bool, next int64) {
	for t.pidx < len(t.pauses) && t.pauses[t.pidx].end <= p {
		t.pidx++
	}
	if t.pidx == len(t.pauses) {
		return false, false, math.MaxInt64
	}
	sp := t.pauses[t.pidx]
	if p < sp.start {
		return false, false, sp.start
	}
	return true, sp.skip, sp.end
}

// pauseState is pauseAt without moving the cursor, for positions already
// flushed.
func (t *timeline) pauseState(p int64) (paused, skip bool, next int64) {
	for _, sp := range t.pauses {
		if sp.end <= p {
			continue
		}
		if p < sp.start {
			return false, false, sp.start
		}
		return true, sp.skip, sp.end
	}
	return false, false, math.MaxInt64
}

// diskPatch is held audio of one leg for sample frames [at, at+n) of the
// file data already on disk; its samples are patchPCM[leg][off:off+n].
type diskPatch struct {
	leg     int
	at, off int64
	n       int
}

// patch writes held audio of leg at flushed positions [pos, pos+len(pcm))
// where it belongs: into out while it is still buffered, else as a disk
// patch for the writer (patches). Paused positions stay as they are
// (silence, or left out of the file).
func (t *timeline) patch(leg int, pos int64, pcm []int16) {
	outStart := t.flushed - t.skipped - int64(len(t.out)/frameBytes) // file frame of out[0]
	for len(pcm) > 0 {
		paused, _, next := t.pauseState(pos)
		n := min(int64(len(pcm)), next-pos)
		if !paused {
			fo := t.fileOffset(pos)
			run := pcm[:n]
			if d := min(outStart-fo, n); d > 0 {
				t.diskPatch(leg, fo, run[:d])
				run, fo = run[d:], fo+d
			}
			if len(run) > 0 {
				o := t.out[(fo-outStart)*frameBytes+int64(leg)*2:]
				for i, v := range run {
					binary.LittleEndian.PutUint16(o[i*frameBytes:], uint16(v))
				}
			}
		}
		pcm, pos = pcm[n:], pos+n
	}
}

// diskPatch queues pcm for file frame fo of leg's channel. A run that
// continues the leg's previous patch (a stall hands over many frames in a
// row) extends it, so the writer reads and rewrites the file once per run,
// not once per frame.
func (t *timeline) diskPatch(leg int, fo int64, pcm []int16) {
	for i := len(t.patches) - 1; i >= 0 && i >= len(t.patches)-NumChannels; i-- {
		p := &t.patches[i]
		if p.leg == leg && p.at+int64(p.n) == fo && p.off+int64(p.n) == int64(len(t.patchPCM[leg])) {
			p.n += len(pcm)
			t.patchPCM[leg] = append(t.patchPCM[leg], pcm...)
			return
		}
	}
	t.patches = append(t.patches, diskPatch{leg: leg, at: fo, off: int64(len(t.patchPCM[leg])), n: len(pcm)})
	t.patchPCM[leg] = append(t.patchPCM[leg], pcm...)
}

// flushTo moves the timeline up to target into out as interleaved
// little-endian stereo: unheard positions are silence, positions inside a
// silence pause are zeros, positions inside a skip pause are left out.
// Flushed pending samples are zeroed, so paused audio does not linger.
func (t *timeline) flushTo(target int64) {
	for t.flushed < target {
		p := t.flushed
		paused, skip, next := t.pauseAt(p)
		n := min(target, next) - p
		i := p & pendMask
		n = min(n, pendSamples-i)
		l := t.pend[0][i : i+n]
		r := t.pend[1][i : i+n]
		switch {
		case skip:
			t.skipped += n
		case paused:
			start := len(t.out)
			t.out = slices.Grow(t.out, int(n)*frameBytes)[:start+int(n)*frameBytes]
			clear(t.out[start:])
		default:
			start := len(t.out)
			t.out = slices.Grow(t.out, int(n)*frameBytes)[:start+int(n)*frameBytes]
			// One 32-bit store per stereo frame, bounds checked once: this
			// loop runs for every sample of every recording.
			o := t.out[start : start+len(l)*frameBytes]
			r = r[:len(l)]
			for k, v := range l {
				binary.LittleEndian.PutUint32(o[frameBytes*k:], uint32(uint16(v))|uint32(uint16(r[k]))<<16)
			}
		}
		clear(l)
		clear(r)
		t.flushed += n
	}
}

// pause opens a pause at pos (not before what is flushed). It returns the
// effective start.
func (t *timeline) pause(pos int64, skip bool) int64 {
	pos = max(pos, t.flushed)
	t.pauses = append(t.pauses, pauseSpan{start: pos, end: math.MaxInt64, skip: skip})
	return pos
}

// resume closes the open pause at pos and returns the effective end.
func (t *timeline) resume(pos int64) int64 {
	k := len(t.pauses) - 1
	if k < 0 || t.pauses[k].end != math.MaxInt64 {
		return pos
	}
	pos = max(pos, t.flushed, t.pauses[k].start)
	t.pauses[k].end = pos
	return pos
}

// fileOffset maps a timeline position to a sample offset in the WAV data,
// leaving out skip pauses before it.
func (t *timeline) fileOffset(pos int64) int64 {
	off := pos
	for _, sp := range t.pauses {
		if !sp.skip || sp.start >= pos {
			continue
		}
		off -= min(pos, sp.end) - sp.start
	}
	return off
}
