package mask

import (
	"math"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/rtp"
)

// analyse feeds a G.711 payload to the detector (mapping the
// RTP timeline onto the detector's: a forward gap, from loss or a silent
// stretch, is fed as silence; a reordered or repeated packet is analysed
// where it arrives), updates the spans, hands the samples to the recording
// tap, and returns the samples' timeline position and count.
func (k *Masker) analyse(h *rtp.Header, payload []byte, codec Codec) (int64, int) {
	if h.SSRC != k.ssrc {
		// A new audio stream: its timestamps are unrelated to the last, and
		// so are those of events that rode on the last one.
		if k.evStream && k.evSSRC == k.ssrc {
			k.endEventStream()
		}
		k.ssrc, k.tsValid = h.SSRC, false
	}
	n := len(payload)
	law := g711.Ulaw
	if codec == CodecPCMA {
		law = g711.Alaw
	}
	if k.tsValid {
		if gap := int32(h.Timestamp - k.nextTS); gap > 0 {
			k.evs = k.det.Skip(int64(min(gap, maxSkip)), k.evs[:0])
			k.pos = k.det.Pos()
			k.detectorEvents()
		}
	}
	pos0 := k.pos
	k.lastTS, k.lastPos = h.Timestamp, pos0
	end := h.Timestamp + uint32(n)
	if !k.tsValid || int32(end-k.nextTS) > 0 {
		k.nextTS, k.nextAt = end, k.rec.now // rec.now: this packet's arrival (Push, Observe)
	}
	k.tsValid = true
	k.noteAudio(h.PayloadType, codec, h.Timestamp, n)
	k.rec.push(k, h.SSRC, h.Timestamp, pos0, law, payload)
	k.evs = k.det.ProcessG711(law, payload, k.evs[:0])
	k.pos = k.det.Pos()
	k.detectorEvents()
	k.tspans = k.tracker.Advance(k.tspans[:0], h.Timestamp)
	k.eventSpans()
	k.rec.emit(k, false)
	return pos0, n
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
			if k.rec.on && e.Pos < k.rec.released {
				k.st.RecordLateMasks++
			}
			k.openSpan = k.addSpan(span{start: e.Pos, end: math.MaxInt64})
		case dtmf.MaskEnd:
			if k.openSpan >= 0 {
				k.spans[k.openSpan].end = e.Pos + k.tail
				k.openSpan = -1
			}
		case dtmf.NotchStart, dtmf.NotchEnd:
			k.notchEvent(e)
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

// marks sets mark[i] for each sample i of a run of len(mark) samples at
// timeline position pos0 and RTP timestamp ts that falls in a detector span
// or an RFC 4733 span, and reports whether any did.
func (k *Masker) marks(mark []bool, pos0 int64, ts uint32) bool {
	n := len(mark)
	p1 := pos0 + int64(n)
	any := false
	for i := range k.nspans {
		sp := k.spans[i]
		for p := max(sp.start, pos0); p < min(sp.end, p1); p++ {
			mark[p-pos0] = true
			any = true
		}
	}
	for i := range k.nev {
		e := k.ev[i]
		lo := int64(int32(e.start - ts))
		hi := int64(n)
		if !e.open {
			hi = min(hi, int64(int32(e.end-ts)))
		}
		for j := max(lo, 0); j < hi; j++ {
			mark[j] = true
			any = true
		}
	}
	return any
}

// prune forgets spans that end before everything still queued for
// forwarding or recording.
func (k *Masker) prune() {
	if k.nspans == 0 && k.nev == 0 && k.nnotches == 0 {
		return // the usual case: no need to look at the queues' heads
	}
	low, lowTS := k.pos, k.nextTS
	if k.q.size > 0 {
		s := k.front()
		low, lowTS = min(low, s.pos0), s.ts
	}
	if f, ok := k.rec.oldest(); ok {
		low = min(low, f.pos0)
		if int32(f.ts-lowTS) < 0 {
			lowTS = f.ts
		}
	}
	for i := 0; i < k.nspans; {
		if i != k.openSpan && k.spans[i].end <= low {
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
	for i := 0; i < k.nnotches; {
		if k.notches[i].end <= low {
			k.nnotches--
			k.notches[i] = k.notches[k.nnotches]
			continue
		}
		i++
	}
	for i := 0; i < k.nev; {
		if e := k.ev[i]; !e.open && int32(e.end-lowTS) <= 0 {
			k.nev--
			k.ev[i] = k.ev[k.nev]
			continue
		}
		i++
	}
}
