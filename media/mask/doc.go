// Package mask is the look-ahead delay line and DTMF masking stage of one
// forwarding direction. It is pure: no I/O, no goroutines, no clock (the
// caller passes a monotonic time), and no allocation after New.
//
// # How it works
//
// [Masker.Push] takes each packet as it arrives: it copies it into one of
// Slots fixed slots of SlotSize (a FIFO queue of them, most recently freed
// slot reused first), decodes G.711 (payload types mapped by a
// [CodecMap] array, RFC 3551 section 6 statics by default), and feeds the
// samples to a dtmf.Detector. RTP timestamps are mapped onto the detector's
// sample timeline: a forward gap (loss) is fed as silence with Skip, a
// reordered packet is analysed where it arrives, so each slot knows the
// timeline positions of its samples. RFC 4733 telephone-events (RFC 4733
// section 2.5.2) go to a dtmf.EventTracker and are never queued: a masked
// listener never receives a digit. The detector's MaskStart/MaskEnd become
// spans on the sample timeline (MaskEnd plus a tail guard, 10 ms); an
// event's [Start, End) becomes a span on the RTP timeline, open (masking
// everything after Start) until the event ends.
//
// [Masker.Pop] releases the oldest packet once its due time (arrival +
// LookAhead) has passed, replacing every sample inside a span, re-encoded
// in place in the packet's own law; header, sequence number, timestamp,
// SSRC and length stay, so the listener sees the same packets, later.
// Spans are applied at release, not at detection, so a mask that closes
// after masking was first decided costs nothing extra.
//
// In ModeTone an RFC 4733 packet that extends its event also queues, in
// its place, an audio packet of masking tone for the new stretch (its
// sequence number, the audio's payload type), sent only if no audio packet
// covers that stretch: phones that stop their audio during a key press
// still let the listener hear that a key was pressed, and phones that send
// both add nothing (convert.go). Other modes only withhold the events.
//
// # Look-ahead
//
// The detector promises MaskStart by the time it has been fed MaskLag (260
// samples) past the event's Pos, which is at or before the tone's first
// sample. A packet of samples [p0, p1) is therefore safe to release once
// the detector has been fed to p1+MaskLag-1: two more 20 ms packets, 40 ms
// after its arrival. Pop checks exactly that, besides the due time: a
// packet that is due but not yet analysed far enough waits for the next
// packets (or, if the stream stalls, StallGrace more, and then leaves with
// what is known; a mask opened later on its samples counts as a late
// mask). A short look-ahead therefore costs a little jitter, never a leak.
// DefaultLookAhead is dtmf.LookAhead(160) = 419 samples (52.4 ms) rounded
// up to whole 20 ms packets, 60 ms: the 40 ms the guard needs with 20 ms
// packets plus one packet of arrival jitter, so the delay stays exactly L.
// Measured (TestOnsetDelayMeasured, 1280 tones, every onset phase, -10 to
// -33 dBm0): MaskStart always came with the packet after the one holding
// the onset (20 ms past its end; the guard allows 32.4 ms), and its Pos
// lay 4.4 ms (median) to 7.2 ms (max) before the onset. So L = 40 ms also
// works with 20 ms packets; the guard then absorbs arrival jitter by
// waiting for the next packet instead of leaking.
//
// # Masking audio
//
// ModeSilence writes the law's zero code; ModeComfortNoise white noise at
// about -60 dBm0; ModeTone one sine at ToneLevel (-20 dBm0), at ToneHz
// (default 400 Hz, 100-3400 Hz, never within 5 % of a DTMF frequency),
// computed from the timeline position so it is phase-continuous across
// packets. None can decode as a digit: DTMF needs two tones, one of each
// group (the tests feed every mode to the detector and to multimon-ng).
//
// # The notch
//
// Where the detector sees weaker evidence (NotchStart/NotchEnd: a key
// under loud speech or music, or what looks like one), the masker removes
// the bands of the DTMF frequencies the event names, the four high ones
// and a low one once seen, instead of replacing the audio: three
// second-order sections per frequency, at least 12 dB down over +-2.5 %,
// each starting from rest where its notched samples begin, on the
// forwarded packets (Stats.NotchedSamples, Metrics.NotchedSamples) and on
// the recording tap's frames (Stats.RecordNotchedSamples) alike. The two
// share the work: a stretch one has filtered, the other takes where its
// codes, notched tones and filter state are the same to the bit. No
// decoder finds a key without its high tone; a voice keeps nearly all of
// itself. docs/MASKING.md has the figures.
//
// # Fail closed
//
// In a masked direction a payload type hush cannot decode is dropped
// (DropUndecodable), as is a packet larger than a slot or one that finds
// the queue full (DropOverflow): nothing leaves unanalysed. A caller makes
// room first with PopFull, which lets the oldest packet out ahead of its
// due time only when the detector has decided about it and analysed a
// look-ahead past it (a burst brings many packets at once; their due times
// say nothing about what was analysed after them). Comfort noise
// (RFC 3389) carries no tone and passes through the delay line untouched.
//
// # Capture
//
// With Policy.Capture, digits (detector DigitStart and new RFC 4733
// events) go to the WithDigits callback. Phones often send a key press
// both ways; a report that overlaps the other source's last unmatched
// report of the same key (within 100 ms) is the same press and is not
// delivered again. Digits never reach logs: Digit.String hides them.
//
// # Recording tap
//
// WithRecordSink (or WithRecordTap, with a function) delivers every audio
// frame, as G.711 codes with the DTMF samples (both kinds) flagged to be
// recorded as silence, RecordDelay (80 ms) behind on the sample timeline, with no
// timer: a frame is final once the detector has been fed RecordDelay past
// it. Observe feeds the analysis for a direction forwarded without delay,
// so the tap does not depend on the forwarding policy. FlushRecord delivers
// the rest at the end of the stream. Each frame carries the arrival of its
// first sample (the now given to Push or Observe), since the last frames of
// a talk spurt are final only once the next spurt (or the end) is analysed.
// Masked stretches are reported once each, joined across frames, for the
// recording's sidecar.
//
// # What the tests hold it to
//
// The masked path (decode, detect, queue, mask, encode) allocates nothing
// (BenchmarkMaskedPath); the detector is most of its cost, which is why
// the relay runs a masker only for masked directions or with a recording
// tap or key watch. TestMaskBounds (128 tones, 40-500 ms, -10 and -25 dBm0, all onset phases
// of a packet): every tone sample replaced; the mask starts at most 7.1 ms
// before a tone and ends at most 17 ms after it; no late masks; nothing
// else changes but what the notch takes out within 40 ms of a tone. TestMultimonJudge: multimon-ng finds 16/16 digits in every
// input and 0 in every masked output (4 durations x 2 levels x 2 laws).
package mask
