package record

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/g711"
)

// run is the writer goroutine: it drains the rings on a timer, when a
// ring is half full, and on Flush/Checkpoint/Close. The work itself runs
// on the background pool's low-priority threads when there is one
// (WithPool), this goroutine waiting for it.
func (r *Recorder) run() {
	defer close(r.done)
	var tick <-chan time.Time
	var t *time.Timer
	slot := drainNext.Add(1)
	if r.cfg.drainEvery > 0 {
		t = time.NewTimer(untilDrain(time.Now(), r.cfg.drainEvery, slot))
		defer t.Stop()
		tick = t.C
	}
	pool, done := r.cfg.pool, make(chan struct{}, 1)
	step := r.step // bound once: a drain allocates nothing
	for {
		select {
		case now := <-tick:
			pool.Run(step, done)
			t.Reset(untilDrain(now, r.cfg.drainEvery, slot))
		case <-r.kick:
			pool.Run(step, done)
		case c := <-r.cmds:
			switch c.kind {
			case cmdFlush:
				pool.Run(func() {
					r.step()
					if r.ok() && len(r.tl.out) > 0 {
						r.writeOut()
					}
				}, done)
				c.reply <- r.Err()
			case cmdCheckpoint:
				pool.Run(func() {
					r.step()
					if r.ok() {
						r.checkpoint()
					}
				}, done)
				c.reply <- r.Err()
			case cmdClose:
				pool.Run(func() { r.closeErr = r.finish() }, done)
				c.reply <- r.closeErr
				return
			case cmdKill:
				if r.f != nil {
					r.f.Close()
				}
				c.reply <- nil
				return
			}
		}
	}
}

// Recorders drain on a shared grid: drainSlots instants per period, each
// recorder on one of them in turn. With a ticker each, started whenever
// its call did, 500 recordings woke the process 2 000 times a second at
// scattered instants, most of them waking an idle thread (runtime
// scheduling was 2.3% of hushd); on the grid the recorders of a slot wake
// together. One instant for all was worse: 500 writers runnable at once
// held the packet worker, preempted after its 10 ms slice, behind them for
// tens of milliseconds. A slot's share is a few writers' work.
const drainSlots = 25

var (
	drainEpoch = time.Now()
	drainNext  atomic.Uint32 // the slot the next recorder takes
)

// untilDrain is how long from now to the next instant of slot on the drain
// grid of period every (at least a millisecond: a late wake-up does not
// drain twice in a row).
func untilDrain(now time.Time, every time.Duration, slot uint32) time.Duration {
	since := now.Sub(drainEpoch) - every*time.Duration(slot%drainSlots)/drainSlots
	d := every - (since%every+every)%every
	if d < time.Millisecond {
		d += every
	}
	return d
}

func (r *Recorder) ok() bool { return r.err.Load() == nil }

// drain moves every frame in the rings onto the timeline, then applies
// queued control items (after the frames, so RTP-timestamp masks see the
// newest anchor).
func (r *Recorder) drain() {
	ok := r.ok() // only this goroutine fails the recording
	for leg, q := range r.rings {
		// The counters are loaded once and head stored once per batch:
		// the producer's core writes tail, and each store is a barrier.
		h, t := q.head.Load(), q.tail.Load()
		for ; h != t; h++ {
			if ok {
				r.tl.placeSlot(leg, &q.slots[h&q.mask], &r.scratch)
				r.frames[leg]++
			}
			if h&(drainBatch-1) == drainBatch-1 {
				q.head.Store(h + 1)
			}
		}
		q.head.Store(h)
	}
	r.ctl.Lock()
	r.work, r.inbox = r.inbox, r.work[:0]
	r.ctl.Unlock()
	for i := range r.work {
		if r.ok() {
			r.apply(&r.work[i])
		}
		r.work[i] = ctlItem{}
	}
	r.work = r.work[:0]
	r.applyPatches()
	r.noteUndecodable()
	for i := range r.tl.counts {
		r.late[i].Store(r.tl.counts[i].late)
		r.reanchors[i].Store(r.tl.counts[i].reanchors)
		r.drift[i].Store(r.tl.counts[i].drift)
	}
}

// drainBatch is how many slots drain frees at a time: the producer gets
// them back within a few microseconds however full the ring was.
const drainBatch = 32

// applyPatches writes held audio into the file where its place was
// already written (timeline.patch): read the stereo frames, set the leg's
// channel, write them back, patchFrames at a time. Once at the end of a
// talk spurt the tap held, or of the call; and after a stall of hush's own
// (media/relay dates such audio by its receive time), a run of frames.
func (r *Recorder) applyPatches() {
	tl := r.tl
	for _, p := range tl.patches {
		if !r.ok() {
			break
		}
		pcm := tl.patchPCM[p.leg][p.off : p.off+int64(p.n)]
		for len(pcm) > 0 {
			k := min(len(pcm), patchFrames)
			b := r.patchBuf[:int64(k)*r.fb]
			off := r.hdrSize + p.at*r.fb
			if _, err := r.f.ReadAt(b, off); err != nil {
				r.fail(fmt.Errorf("patch %s: %w", r.wavPath, err))
				break
			}
			for i, v := range pcm[:k] {
				if r.format == FormatULaw {
					b[i*NumChannels+p.leg] = g711.LinearToUlaw(v)
				} else {
					binary.LittleEndian.PutUint16(b[i*frameBytes+p.leg*2:], uint16(v))
				}
			}
			if _, err := r.f.WriteAt(b, off); err != nil {
				r.fail(fmt.Errorf("patch %s: %w", r.wavPath, err))
				break
			}
			pcm, p.at = pcm[k:], p.at+int64(k)
		}
	}
	tl.patches = tl.patches[:0]
	for i := range tl.patchPCM {
		tl.patchPCM[i] = tl.patchPCM[i][:0]
	}
}

// step is one writer round: drain, flush the timeline up to the jitter
// window behind now, write when a chunk is ready, checkpoint when due.
// Now is read before the drain: every frame and control item stamped
// before it is then in the rings and the inbox, so the flush cannot run
// past a pause this round has not applied, however long the round stalls.
func (r *Recorder) step() {
	now := r.Position()
	r.drain()
	if !r.ok() {
		return
	}
	r.tl.flushTo(now - r.tl.window)
	if len(r.tl.out) >= writeChunk {
		r.writeOut()
	}
	if r.ok() && now-r.lastCkpt >= r.ckpt {
		r.checkpoint()
	}
}

func (r *Recorder) apply(it *ctlItem) {
	r.dirty = true
	switch it.kind {
	case ctlPause:
		pos := r.tl.pause(it.pos, it.behavior == PauseSkip)
		r.pauses = append(r.pauses, PauseSpan{
			StartSample: pos,
			StartTime:   r.timeAt(pos),
			Behavior:    it.behavior,
			Actor:       it.act.Actor,
			RequestID:   it.act.RequestID,
			Reason:      it.act.Reason,
		})
		r.actions = append(r.actions, ActionRecord{Time: it.at, Actor: it.act.Actor, Action: "pause:" + string(it.behavior), RequestID: it.act.RequestID, Reason: it.act.Reason})
	case ctlResume:
		pos := r.tl.resume(it.pos)
		if k := len(r.pauses) - 1; k >= 0 && r.pauses[k].EndTime.IsZero() {
			p := &r.pauses[k]
			p.EndSample = pos
			p.EndTime = r.timeAt(pos)
			p.ResumeActor = it.act.Actor
			p.ResumeRequestID = it.act.RequestID
		}
		r.actions = append(r.actions, ActionRecord{Time: it.at, Actor: it.act.Actor, Action: "resume", RequestID: it.act.RequestID, Reason: it.act.Reason})
	case ctlMask:
		r.masks = append(r.masks, maskRec{leg: it.leg, start: it.start, end: it.end})
	case ctlMaskRTP:
		start, end := it.pos, it.pos+int64(int32(it.tsEnd-it.tsStart))
		if L := r.tl.legs[it.leg]; L.anchored {
			start = L.basePos + int64(int32(it.tsStart-L.baseTS))
			end = L.basePos + int64(int32(it.tsEnd-L.baseTS))
		}
		r.masks = append(r.masks, maskRec{leg: it.leg, start: max(start, 0), end: max(end, 0)})
	case ctlNote:
		r.actions = append(r.actions, ActionRecord{Time: it.at, Actor: it.act.Actor, Action: it.name, RequestID: it.act.RequestID, Reason: it.act.Reason})
	}
}

// writeOut appends the buffered PCM to the file in one write. Pause and
// mask spans applied since the sidecar was last written go to the sidecar
// first: Repair keeps every byte on disk, so the spans that describe it
// must be there before it.
func (r *Recorder) writeOut() {
	b := r.tl.out
	if len(b) == 0 {
		return
	}
	if r.dirty && !r.finishing {
		if err := r.putSidecar(r.sidecar(StatusInProgress)); err != nil {
			r.fail(fmt.Errorf("write sidecar: %w", err))
			return
		}
		r.dirty = false
	}
	if r.format == FormatULaw {
		// Half the bytes: each 16-bit sample becomes its mu-law code.
		n := len(b) / 2
		r.enc = slices.Grow(r.enc[:0], n)[:n]
		for i := range n {
			r.enc[i] = g711.LinearToUlaw(int16(binary.LittleEndian.Uint16(b[2*i:])))
		}
		b = r.enc
	}
	if r.dataBytes+int64(len(b)) > r.format.maxData() {
		r.fail(fmt.Errorf("write %s: %w", r.wavPath, ErrTooLong))
		return
	}
	n, err := r.f.WriteAt(b, r.hdrSize+r.dataBytes)
	r.dataBytes += int64(n)
	r.bytesWritten.Add(uint64(n))
	if err != nil {
		r.fail(fmt.Errorf("write %s: %w", r.wavPath, err))
		return
	}
	r.tl.out = r.tl.out[:0]
}

// checkpoint makes the file playable up to what is written: data, then
// the header sizes, then fsync. The sidecar is rewritten only when a
// pause, mask or action changed it.
func (r *Recorder) checkpoint() {
	r.writeOut()
	if !r.ok() {
		return
	}
	r.lastCkpt = r.Position()
	if r.dataBytes == r.ckptBytes && !r.dirty {
		return // nothing new since the last one (a long skip pause)
	}
	r.ckptBytes = r.dataBytes
	if err := r.writeHeader(); err != nil {
		r.fail(fmt.Errorf("checkpoint %s: %w", r.wavPath, err))
		return
	}
	r.checkpoints.Add(1)
	if r.dirty {
		if err := r.putSidecar(r.sidecar(StatusInProgress)); err != nil {
			r.fail(fmt.Errorf("checkpoint sidecar: %w", err))
			return
		}
		r.dirty = false
	}
}

func (r *Recorder) writeHeader() error {
	putFormatHeader(r.hdr[:], r.format, uint32(r.dataBytes))
	if _, err := r.f.WriteAt(r.hdr[:r.hdrSize], 0); err != nil {
		return err
	}
	return r.f.Sync()
}

// finish is Close on the writer goroutine.
func (r *Recorder) finish() error {
	r.finishing = true // the final sidecar follows: no in-progress one before the last audio
	r.drain()
	if err := r.Err(); err != nil {
		return err
	}
	end := max(r.Position(), r.tl.hi, r.tl.flushed)
	if k := len(r.pauses) - 1; k >= 0 && r.pauses[k].EndTime.IsZero() {
		r.tl.resume(end)
		r.pauses[k].EndSample = end
		r.pauses[k].EndTime = r.timeAt(end)
	}
	r.tl.flushTo(end)
	r.actions = append(r.actions, ActionRecord{Time: r.timeAt(end), Action: "stop"})
	r.writeOut()
	if err := r.Err(); err != nil {
		return err
	}
	if err := r.writeHeader(); err != nil {
		r.fail(fmt.Errorf("close %s: %w", r.wavPath, err))
		return r.Err()
	}
	if sf, ok := r.f.(*sealedFile); ok {
		// The final record: from now on a cut file is told from a whole one.
		err := sf.finish()
		if err == nil {
			err = sf.Sync()
		}
		if err != nil {
			r.fail(fmt.Errorf("close %s: %w", r.wavPath, err))
			return r.Err()
		}
	}
	sum, err := hashFile(r.f, r.hdrSize+r.dataBytes)
	if err != nil {
		r.fail(fmt.Errorf("hash %s: %w", r.wavPath, err))
		return r.Err()
	}
	f := r.f
	r.f = nil
	if err := f.Close(); err != nil {
		r.fail(fmt.Errorf("close %s: %w", r.wavPath, err))
		return r.Err()
	}
	sc := r.sidecar(StatusComplete)
	sc.SHA256 = sum
	if err := r.putSidecar(sc); err != nil {
		r.fail(fmt.Errorf("close sidecar: %w", err))
		return r.Err()
	}
	return nil
}

// fail stops the recording once: the file is closed, the sidecar marked
// failed if the disk still takes it, and OnFailure is called. Writes are
// refused from now on; the call is not affected.
func (r *Recorder) fail(err error) {
	r.failOnce.Do(func() {
		r.err.Store(&err)
		r.state.Store(stateFailed)
		size := r.hdrSize + r.dataBytes
		if r.f != nil {
			// What is on disk, whatever a short write left behind.
			if st, serr := r.f.Stat(); serr == nil {
				size = st.Size()
			}
			r.f.Close()
			r.f = nil
		}
		sc := r.sidecar(StatusFailed)
		sc.Failure = err.Error()
		sc.Size = size
		_ = r.putSidecar(sc) // best effort: the disk is failing; WithOnSidecar still hears of it
		if r.cfg.onFailure != nil {
			// On its own goroutine: the callback may call Close or Flush,
			// which wait for this writer.
			go r.cfg.onFailure(err)
		}
	})
}

// putSidecar writes sc and tells WithOnSidecar, whether the disk took it
// or not.
func (r *Recorder) putSidecar(sc *Sidecar) error {
	err := writeSidecar(r.cfg.fs, r.dir, sc, r.key)
	if r.cfg.onSidecar != nil {
		r.cfg.onSidecar(sc)
	}
	return err
}

// content is what the counts say of the file's audio.
func (r *Recorder) content() (Content, [NumChannels]uint64) {
	var ud [NumChannels]uint64
	for i := range ud {
		ud[i] = r.undecodable[i].n.Load()
	}
	switch {
	case ud == [NumChannels]uint64{}:
		return ContentFull, ud
	case r.frames == [NumChannels]uint64{}:
		return ContentUndecodable, ud
	}
	return ContentPartial, ud
}

// noteUndecodable reports the first undecodable packet of each leg.
func (r *Recorder) noteUndecodable() {
	for leg := range r.udSeen {
		u := &r.undecodable[leg]
		if r.udSeen[leg] || u.n.Load() == 0 {
			continue
		}
		r.udSeen[leg] = true
		r.dirty = true // the sidecar says so at the next write
		if f := r.cfg.onUndec; f != nil {
			go f(Leg(leg), uint8(u.pt.Load()))
		}
	}
}

// sidecar builds the sidecar document from the writer's state.
func (r *Recorder) sidecar(st Status) *Sidecar {
	dur := r.tl.flushed
	content, ud := r.content()
	r.revision++
	sc := &Sidecar{
		Version:             sidecarVersion,
		RecordingID:         r.meta.RecordingID,
		SessionID:           r.meta.SessionID,
		CallID:              r.meta.CallID,
		AgentID:             r.meta.AgentID,
		Labels:              r.meta.Labels,
		Content:             content,
		Revision:            r.revision,
		Status:              st,
		Start:               r.start,
		DurationSamples:     dur,
		DurationSeconds:     float64(dur) / SampleRate,
		FileSamples:         r.dataBytes / r.fb,
		SampleRate:          SampleRate,
		BitsPerSample:       r.format.bits(),
		Encoding:            r.format.encoding(),
		Channels:            legNames[:],
		Pauses:              make([]PauseSpan, len(r.pauses)),
		Masks:               make([]MaskSpan, len(r.masks)),
		Actions:             append([]ActionRecord(nil), r.actions...),
		WAV:                 r.meta.RecordingID + ".wav",
		Encrypted:           r.key != nil,
		RetainUntil:         r.meta.RetainUntil,
		Size:                r.hdrSize + r.dataBytes,
		Segment:             r.meta.Segment,
		PreviousRecordingID: r.meta.PreviousRecordingID,
	}
	if st != StatusInProgress {
		sc.End = r.timeAt(dur)
	}
	copy(sc.Pauses, r.pauses)
	for i := range sc.Pauses {
		p := &sc.Pauses[i]
		if p.EndTime.IsZero() {
			p.EndSample = max(dur, p.StartSample) // open: paused through the end so far
		}
		p.FileStartSample = r.tl.fileOffset(p.StartSample)
		p.FileEndSample = r.tl.fileOffset(p.EndSample)
	}
	for i, m := range r.masks {
		sc.Masks[i] = MaskSpan{
			Leg:             m.leg.String(),
			StartSample:     m.start,
			EndSample:       m.end,
			FileStartSample: r.tl.fileOffset(m.start),
			FileEndSample:   r.tl.fileOffset(m.end),
			StartTime:       r.timeAt(m.start),
			EndTime:         r.timeAt(m.end),
		}
	}
	sc.Dropped = DropCounts{
		CustomerRingFull: r.rings[LegCustomer].dropped.Load(),
		CustomerLate:     r.tl.counts[LegCustomer].late,
		AgentRingFull:    r.rings[LegAgent].dropped.Load(),
		AgentLate:        r.tl.counts[LegAgent].late,

		CustomerUndecodable: ud[LegCustomer],
		AgentUndecodable:    ud[LegAgent],
	}
	return sc
}

// hashFile streams the first size bytes of f through SHA-256.
func hashFile(f io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
