package mask

import (
	"time"

	"github.com/hushmedia/hush/media/rtp"
)

// RFC 4733 events as masking audio. Some phones stop sending audio while
// a key is down and send only telephone-events (RFC 4733 §2.5.1.1 lets a
// sender do either). Withholding the events then leaves the listener a gap;
// in ModeTone the listener should hear that a key was pressed. So each
// event packet that extends its event queues an audio packet of masking
// tone for the new stretch, [Start+previous duration, Start+duration), in
// the event packet's place (its sequence number, SSRC and arrival; the
// payload type of the stream's audio). It is sent only if no audio packet
// covers its stretch: phones that send audio and events together have that
// audio masked instead, and their listener gets no extra packets. That is
// decided as soon as audio overlapping the stretch arrives, once the stream's
// audio has passed the stretch (event packets may run ahead of the audio
// they accompany), or when no audio came for StallGrace after the stretch's
// own audio was due: then the phone suppresses audio during the key press,
// and the tone stands in for it (a little late, then catching up when the
// audio resumes). That due time follows the stream's audio clock (when its
// audio reaches the stretch's end, from the last audio packet's arrival and
// timestamp), not the event packet's arrival: an event that runs ahead of
// its audio, or audio that comes a little late, must not let the tone out
// where audio follows.

const (
	covLen      = 32  // recent audio packets remembered for the coverage check
	maxConvert  = 480 // samples queued per event packet at most (60 ms)
	convertMode = ModeTone
	// maxEventLead bounds how far ahead of the stream's audio an event's
	// stretch is waited for: a stand-in that waits holds the audio queued
	// behind it, and timestamps further ahead than this do not follow the
	// audio clock anyway.
	maxEventLead = 100 * time.Millisecond
)

// covEntry is the timestamp range of one analysed audio packet.
type covEntry struct {
	ts uint32
	n  uint32
}

// noteAudio remembers an audio packet's timestamp range and payload type
// (analyse calls it).
func (k *Masker) noteAudio(pt uint8, codec Codec, ts uint32, n int) {
	k.audioPT, k.audioCodec = pt, codec
	k.cov[k.covI%covLen] = covEntry{ts: ts, n: uint32(n)}
	k.covI++
}

// audioPassed reports whether the stream's audio has reached past the
// synthetic slot's stretch, so coverage is known.
func (k *Masker) audioPassed(s *slot) bool {
	return k.tsValid && int32(k.nextTS-(s.ts+uint32(s.synth))) >= 0
}

// audioReaches estimates when the stream's audio reaches ts: the audio
// packet that ended at nextTS arrived at nextAt, and audio comes at the
// sample rate. It is never before now nor more than maxEventLead after it.
func (k *Masker) audioReaches(ts uint32, now time.Duration) time.Duration {
	ahead := int32(ts - k.nextTS)
	if !k.tsValid || ahead <= 0 {
		return now
	}
	return min(max(k.nextAt+time.Duration(ahead)*sampleDur, now), now+maxEventLead)
}

// covered reports whether an audio packet overlapping [ts, ts+n) was
// analysed.
func (k *Masker) covered(ts uint32, n int) bool {
	for _, c := range k.cov[:min(k.covI, covLen)] {
		if c.n > 0 && int32(c.ts-(ts+uint32(n))) < 0 && int32(ts-(c.ts+c.n)) < 0 {
			return true
		}
	}
	return false
}

// convert queues masking audio for the stretch the event packet h added,
// and reports whether it did.
func (k *Masker) convert(h *rtp.Header, now time.Duration) bool {
	if k.policy.Mode != convertMode || k.audioCodec == CodecUnknown {
		return false
	}
	queued := false
	for _, sp := range k.tspans {
		if sp.New || sp.Start != k.convStart {
			k.convStart, k.convDur = sp.Start, 0
		}
		if sp.Duration <= k.convDur {
			continue
		}
		n := int(min(sp.Duration-k.convDur, maxConvert))
		ts := sp.Start + k.convDur
		k.convDur = sp.Duration
		hdr := rtp.Header{Version: rtp.Version, PayloadType: k.audioPT, SequenceNumber: h.SequenceNumber,
			Timestamp: ts, SSRC: h.SSRC, CSRCCount: h.CSRCCount, CSRC: h.CSRC}
		if k.q.full() || hdr.MarshalSize()+n > SlotSize {
			k.st.Overflows++
			continue
		}
		s := k.enqueue()
		off, err := hdr.MarshalTo(s.buf[:])
		if err != nil {
			k.q.unpush()
			continue
		}
		s.n, s.payOff, s.codec, s.ts = off+n, off, k.audioCodec, ts
		s.samples, s.synth = 0, n
		s.pos0 = k.lastPos + int64(int32(ts-k.lastTS))
		// Due when the stretch's own audio would be: StallGrace after that
		// the stand-in goes unless audio decided it.
		s.due = k.audioReaches(ts+uint32(n), now) + k.policy.LookAhead
		k.st.Pushed++
		queued = true
	}
	return queued
}

// synthesize writes the masking tone into a synthetic slot being sent.
func (k *Masker) synthesize(s *slot) {
	mark := k.mark[:s.synth]
	for i := range mark {
		mark[i] = true
	}
	m := k.gen.fill(s.buf[s.payOff:s.payOff+s.synth], mark, s.pos0, s.codec)
	clear(mark)
	k.st.Converted++
	k.st.MaskedSamples += uint64(m)
	k.met.MaskedSamples.Add(float64(m))
}
