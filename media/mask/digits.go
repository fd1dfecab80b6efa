package mask

import "strconv"

// Source says how a captured digit arrived.
type Source uint8

const (
	// SourceInBand: DTMF tones in the audio, found by the detector.
	SourceInBand Source = iota + 1
	// SourceRFC4733: an RFC 4733 telephone-event.
	SourceRFC4733
)

func (s Source) String() string {
	switch s {
	case SourceInBand:
		return "inband"
	case SourceRFC4733:
		return "rfc4733"
	}
	return "source(?)"
}

// Digit is one captured key press. Digit is card data: never log it;
// String hides it.
type Digit struct {
	Digit        byte // '0'-'9', '*', '#', 'A'-'D'
	Source       Source
	RTPTimestamp uint32 // where the key press starts on the stream's RTP timeline
}

// String shows the source and timestamp, never the digit.
func (d Digit) String() string {
	return "digit(*) " + d.Source.String() + " ts=" + strconv.FormatUint(uint64(d.RTPTimestamp), 10)
}

// dedupSlack is how far apart, in RTP timestamp units, the in-band and
// RFC 4733 reports of one key press may start or end (100 ms): phones
// often send both, and the detector's onset estimate and the event's
// timestamp differ by a few milliseconds.
const dedupSlack = 800

// press is the last reported key press of one source.
type press struct {
	digit      byte
	start, end uint32
	valid      bool
	matched    bool // the other source's report of it was suppressed
}

// digitDedup makes one key press one digit when both the audio and RFC
// 4733 carry it: a report from one source that overlaps the last
// unmatched report of the other source with the same key is the same press.
type digitDedup struct {
	last [3]press // by Source
}

// seen records a report and says whether it is new.
func (d *digitDedup) seen(src Source, digit byte, ts uint32) bool {
	o := &d.last[3-src]
	if o.valid && !o.matched && o.digit == digit &&
		int32(ts-(o.start-dedupSlack)) >= 0 && int32(ts-(o.end+dedupSlack)) <= 0 {
		o.matched = true
		d.last[src] = press{digit: digit, start: ts, end: ts, valid: true, matched: true}
		return false
	}
	d.last[src] = press{digit: digit, start: ts, end: ts, valid: true}
	return true
}

// extend moves the end of the source's last press.
func (d *digitDedup) extend(src Source, end uint32) {
	if p := &d.last[src]; p.valid && int32(end-p.end) > 0 {
		p.end = end
	}
}

// digit delivers a digit if the policy captures or watches keys, and it is a new press.
func (k *Masker) digit(digit byte, src Source, ts uint32) {
	if !(k.policy.Capture || k.policy.Keys) || !k.dig.seen(src, digit, ts) {
		return
	}
	k.st.Digits++
	k.met.Digits.Add(1)
	if k.onDigit != nil {
		k.onDigit(Digit{Digit: digit, Source: src, RTPTimestamp: ts})
	}
}
