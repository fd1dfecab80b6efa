package dtmf

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/internal/cpucache"
)

// EventKind says what a detector Event marks.
type EventKind uint8

// Detector event kinds.
const (
	// MaskStart: DTMF-like energy begins at Pos (at or before the tone's
	// first sample). Mask from Pos until the matching MaskEnd.
	MaskStart EventKind = iota + 1
	// MaskEnd: the masked interval ends at Pos (at or after the tone's last
	// sample, exclusive).
	MaskEnd
	// DigitStart: a valid Q.24 digit (>= 40 ms) whose tone began near Pos.
	DigitStart
	// DigitEnd: the digit's tone ended near Pos.
	DigitEnd
	// NotchStart: weaker DTMF-like evidence (a steady pair, or a steady
	// high tone, that may be a key under speech or music) begins at Pos:
	// remove the bands of the DTMF frequencies in Tones from Pos until the
	// next NotchEnd. Another NotchStart before it adds tones (from its own
	// Pos, which may lie earlier).
	NotchStart
	// NotchEnd: every open notch ends at Pos (exclusive).
	NotchEnd
)

func (k EventKind) String() string {
	switch k {
	case MaskStart:
		return "MaskStart"
	case MaskEnd:
		return "MaskEnd"
	case DigitStart:
		return "DigitStart"
	case DigitEnd:
		return "DigitEnd"
	case NotchStart:
		return "NotchStart"
	case NotchEnd:
		return "NotchEnd"
	}
	return "EventKind(?)"
}

// Event is one detector output. Pos is a sample index on the detector's
// own timeline (samples fed since NewDetector or Reset, including skipped
// ones). Digit is set on DigitStart/DigitEnd only, Tones on NotchStart
// only (bit k for the k-th DTMF frequency, 697 Hz first: the four high
// ones always, and the low ones seen); both are card data, never log them
// (String hides them).
type Event struct {
	Kind  EventKind
	Digit byte
	Tones uint8
	Pos   int64
}

// NotchHigh is the Tones bits of the four high-group frequencies.
const NotchHigh uint8 = 0xf0

// String shows the kind and position, never the digit or the tones.
func (e Event) String() string {
	return e.Kind.String() + "@" + strconv.FormatInt(e.Pos, 10)
}

// MaskLag bounds, in samples, how far the detector's input runs ahead of a
// MaskStart's Pos before it decides: the event is returned by the Process
// call that feeds sample MaskStart.Pos+MaskLag-1 at the latest. A masker
// feeding frames of F samples must hold its output LookAhead(F) samples
// behind its input to mask every tone from its first sample. (A digit
// whose windows never passed twice in a row opens its mask when it is
// recognised, MaskLag back, and a notch from its onset.)
const MaskLag = onsetLookBack*subLen + edgeMargin + subLen + winLen // 260 (32.5 ms)

// LookAhead returns the delay, in samples, a masker that feeds the detector
// frames of frameLen samples needs so that MaskStart always arrives before
// the samples at MaskStart.Pos leave its delay line.
func LookAhead(frameLen int) int { return MaskLag + frameLen - 1 }

// thresholds is one set of per-window acceptance limits. Powers are tone
// powers A^2/2 in 16-bit linear units squared.
type thresholds struct {
	minPower  float64 // each tone, after offset correction
	twistLo   float64 // high/low power ratio limits
	twistHi   float64
	relPeak   float64 // chosen bin over every other bin of its group
	relPair   float64 // the product of the two groups' relPeak ratios
	harmonic  float64 // most power at twice a tone's frequency, relative to it (0: not checked)
	toTotal   float64 // (low+high)/window power
	maxOffset float64 // |df/f| limit from the phase estimate
}

func dbm0Power(dbm0 float64) float64 {
	return g711.Peak0dBm0 * g711.Peak0dBm0 / 2 * math.Pow(10, dbm0/10)
}

func db(x float64) float64 { return math.Pow(10, x/10) }

// Defaults. The digit set follows ITU-T Q.24: detect -25 dBm0, twist -8..+4
// dB, +-1.8 % offset; reject +-3.5 %. The mask set is looser in level,
// twist, purity and offset so that it covers every digit and more.
var (
	digitLimits = thresholds{
		minPower:  dbm0Power(-31),
		twistLo:   db(-11),
		twistHi:   db(7),
		relPeak:   db(5),
		toTotal:   0.8,
		maxOffset: 0.027,
	}
	maskLimits = thresholds{
		minPower:  dbm0Power(-43),
		twistLo:   db(-14),
		twistHi:   db(10),
		relPeak:   db(3),
		relPair:   db(16),
		harmonic:  db(-16),
		maxOffset: 0.025,
	}
	// strongLimits tighten the mask's neighbourhood checks for a window
	// that opens a mask with one other.
	strongLimits = thresholds{
		relPeak:  db(4),
		relPair:  db(20),
		harmonic: db(-20),
	}
)

// Option configures a Detector.
type Option func(*Detector)

// WithMaskLevel sets the weakest per-tone level, in dBm0, that the mask
// signal reacts to (default -43 dBm0, which covers tones down to -36 dBm0
// partly filling a window). Raising it trades sensitivity for less masking
// of speech.
func WithMaskLevel(dbm0 float64) Option {
	return func(d *Detector) { d.mask.minPower = dbm0Power(dbm0) }
}

// Timing, in analysis windows (one every 5 ms). A window passes while the
// tone fills most of it, so a tone of D ms passes in about (D-5)/5 windows:
// a 40 ms tone in 7, a 20 ms one in at most 4. Measured thresholds: tones
// of <= 25 ms are never digits, >= 35 ms always; gaps of <= 25 ms are
// bridged, >= 35 ms split.
const (
	digitMinHits = 6 // windows of one pair that make a digit
	digitGap     = 7 // consecutive misses that end it: a 10 ms break makes <= 5
	maskHang     = 3 // consecutive misses that close the mask
)

// holdRatio is how far (-6 dB) a held pair's bins may fall below their
// reference before a window counts as a miss.
var holdRatio float32 = 0.25

// holdDrift is how far a held tone's measured relative offset may move
// from its reference, and maskDrift how far a hit's may move from the
// offsets the mask opened with.
const (
	holdDrift float32 = 0.01
	maskDrift float32 = 0.01
)

// ringWins windows' bin powers are kept: enough for the notch to look
// NotchLag back.
const ringWins = 16

// Detector is a streaming DTMF detector for 8 kHz linear PCM. Create it
// with NewDetector (the zero value is not usable). It is not safe for
// concurrent use; it allocates nothing after NewDetector. About 2 KB.
type Detector struct {
	// Touched by every sample or window first, so that a packet's work
	// starts on few cache lines: with a thousand streams each packet finds
	// its detector out of cache, and every line is a miss.
	pos  int64 // samples fed
	fill int   // samples in the current sub-block
	en   int64 // its energy so far: a sum of int16 squares, exact
	nsub int64 // completed sub-blocks
	// gateEnergy is gateEnergyFor(mask.minPower): windows of less energy
	// are quiet (classify).
	gateEnergy float64

	// mask state
	masking     bool
	maskPend    uint8 // pair code of the previous window's hit, 0 none
	maskPendAt  int64 // its window start
	maskMiss    int
	maskLast    int64 // start of the last hit window
	maskCode    uint8 // its pair
	maskLastEnd int64 // Pos of the last MaskEnd, new masks start after it
	// The open mask's pair's powers in its rectangular bins when it was
	// clearly present: the mask holds while both stay within holdRatio.
	maskRefL, maskRefH float32
	// and its tones' offsets measured then (valid for maskOffCode).
	maskOffL, maskOffH float32
	maskOffCode        uint8
	// The open mask has seen a clean window (the pair carried most of the
	// window's energy): only then does it hold on the pair's bins alone.
	maskClean bool
	// The offsets of the open mask's pair when it opened (valid while
	// maskSteadySet): later hits must stay within maskDrift of them.
	maskSteadyL, maskSteadyH float32
	maskSteadySet            bool
	// The last mask hit's window, pair and tone offsets, and the offsets of
	// the pending hit before it.
	offW         int64
	offCode      uint8
	offL, offH   float32
	pendL, pendH float32
	pendRun      int   // windows in the pending run
	pendStrong   bool  // the last of them was strong
	pendClean    bool  // or clean
	runFirst     int64 // first window of the pair's unbroken run of hits

	// digit state
	digCode   uint8 // candidate or active pair code
	digActive bool
	digHits   int
	digMiss   int
	digFirst  int64 // start of its first hit window
	digOnset  int64
	digLast   int64

	// energy[j%ringSubs] is sub-block j's energy: read by every window,
	// apart from the DFTs, which only windows past the energy gate need.
	energy [ringSubs]float64

	digit, mask, strong, notch thresholds

	notchState

	// frequency-check cache: the Hann DFTs of tones cacheLo/cacheHi in
	// the window at cacheStart (the next window's predecessor).
	cacheStart       int64
	cacheLo, cacheHi int
	cache            [4]float64

	// wpow[w%ringWins] holds window w's rectangular bin powers (zero for
	// a window below the energy gate).
	wpow [ringWins][8]float32

	hist [histLen]int16 // int16, not float32: half the cache lines written per packet
	// dft[j%dftSubs] holds sub-block j's DFTs while a window needs them.
	dft [dftSubs]subBlock
}

// NewDetector returns a detector at position 0.
func NewDetector(opts ...Option) *Detector {
	d := &Detector{digit: digitLimits, mask: maskLimits, strong: strongLimits, notch: notchLimits}
	for _, o := range opts {
		o(d)
	}
	d.gateEnergy = gateEnergyFor(d.mask.minPower)
	d.Reset()
	return d
}

// Reset returns the detector to position 0 with no history, keeping its
// options.
func (d *Detector) Reset() {
	dl, ml, sl, nl, ge := d.digit, d.mask, d.strong, d.notch, d.gateEnergy
	*d = Detector{digit: dl, mask: ml, strong: sl, notch: nl, gateEnergy: ge, maskLastEnd: math.MinInt64, cacheStart: -1}
	d.notchLastEnd = math.MinInt64
}

// Pos returns the number of samples fed so far (Process and Skip).
func (d *Detector) Pos() int64 { return d.pos }

// Process feeds 8 kHz linear PCM of any length and appends the events it
// completes to evs. With enough capacity in evs it allocates nothing.
func (d *Detector) Process(pcm []int16, evs []Event) []Event {
	for len(pcm) > 0 {
		n := min(subLen-d.fill, len(pcm))
		h := int(d.pos % histLen)
		hist := d.hist[h : h+n]
		copy(hist, pcm)
		evs = d.took(n, d.en+sumSquares(hist), evs)
		pcm = pcm[n:]
	}
	return evs
}

// ProcessG711 is Process for G.711 codes of law: they are decoded straight
// into the sample history, so a caller needs no buffer of its own (with a
// thousand streams, a per-stream one was five cache lines to miss a packet).
// A law other than mu-law or A-law analyses nothing.
func (d *Detector) ProcessG711(law g711.Law, codes []byte, evs []Event) []Event {
	var tab *[256]int16
	var lc *lawConsts
	switch law {
	case g711.Ulaw:
		tab, lc = &ulawTable, &ulawConsts
	case g711.Alaw:
		tab, lc = &alawTable, &alawConsts
	default:
		return evs
	}
	for len(codes) > 0 {
		n := min(subLen-d.fill, len(codes))
		h := int(d.pos % histLen)
		evs = d.took(n, d.en+decodeSquaresLaw(d.hist[h:h+n], codes[:n], tab, lc), evs)
		codes = codes[n:]
	}
	return evs
}

// The decoding tables, the detector's own: one pass decodes, stores and
// sums the energy.
var ulawTable, alawTable = decodeTable(g711.UlawToLinear), decodeTable(g711.AlawToLinear)

func decodeTable(dec func(byte) int16) (t [256]int16) {
	for c := range t {
		t[c] = dec(byte(c))
	}
	return t
}

// decodeSquares decodes codes through tab into hist (as long) and returns
// the sum of the samples' squares. Four at a time, on two sums: integer
// sums are exact in any order.
func decodeSquares(hist []int16, codes []byte, tab *[256]int16) int64 {
	codes = codes[:len(hist)]
	var a, b int64
	i := 0
	for ; i+4 <= len(hist); i += 4 {
		c, h := codes[i:i+4:i+4], hist[i:i+4:i+4]
		v0, v1, v2, v3 := tab[c[0]], tab[c[1]], tab[c[2]], tab[c[3]]
		h[0], h[1], h[2], h[3] = v0, v1, v2, v3
		a += int64(v0)*int64(v0) + int64(v1)*int64(v1)
		b += int64(v2)*int64(v2) + int64(v3)*int64(v3)
	}
	for ; i < len(hist); i++ {
		v := tab[codes[i]]
		hist[i] = v
		a += int64(v) * int64(v)
	}
	return a + b
}

// sumSquares returns the sum of the squares of x, exact.
func sumSquares(x []int16) int64 {
	var a, b int64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		a += int64(v[0])*int64(v[0]) + int64(v[1])*int64(v[1])
		b += int64(v[2])*int64(v[2]) + int64(v[3])*int64(v[3])
	}
	for ; i < len(x); i++ {
		a += int64(x[i]) * int64(x[i])
	}
	return a + b
}

// took accounts for the n samples just written to the history, within one
// sub-block, whose energy brings the sub-block's to en, and ends the
// sub-block when it is full.
func (d *Detector) took(n int, en int64, evs []Event) []Event {
	d.en = en
	d.pos += int64(n)
	d.fill += n
	if d.fill == subLen {
		evs = d.endSub(evs)
	}
	return evs
}

var zeros [subLen]int16

// Skip advances the timeline by n samples of silence (lost packets) and
// appends the events that silence completes. It analyses at most about
// (ringSubs+1)*subLen samples whatever n is: once the sub-block history
// holds only zeros it jumps.
func (d *Detector) Skip(n int64, evs []Event) []Event {
	for n > 0 {
		if d.fill == 0 && d.quiet() {
			// Only silence in the history and nothing open: jump whole
			// sub-blocks, keeping the sub-block grid.
			whole := n / subLen * subLen
			d.pos += whole
			d.nsub += whole / subLen
			d.cacheStart = -1
			n -= whole
			if n == 0 {
				break
			}
		}
		c := min(n, int64(subLen-d.fill))
		evs = d.Process(zeros[:c], evs)
		n -= c
	}
	return evs
}

// quiet reports that the analysis holds only silence and no mask or digit
// is pending.
func (d *Detector) quiet() bool {
	if d.masking || d.maskPend != 0 || d.digCode != 0 || d.notching || d.notchPend != 0 {
		return false
	}
	for i := range d.energy {
		if d.energy[i] != 0 {
			return false
		}
	}
	return true
}

// endSub closes a sub-block and evaluates the window ending with it. The
// sub-block's tone DFTs are computed only when a window needs them (see
// classify), so quiet audio costs no filtering.
func (d *Detector) endSub(evs []Event) []Event {
	d.energy[d.nsub%ringSubs] = float64(d.en) // exact: below 2^37
	d.en = 0
	d.fill = 0
	d.nsub++
	if d.nsub < winSubs+1 {
		return evs // need a full window and its predecessor
	}
	start := (d.nsub - winSubs) * subLen
	code, level, digitHit, notch := d.classify(start)
	evs = d.stepDigit(evs, start, code, digitHit)
	evs = d.stepNotch(evs, start, code, notch)
	return d.stepMask(evs, start, code, level)
}

// stepMask runs the mask state machine on one window of evidence level
// (0 none, 1 weak, 2 strong; see classify). The mask opens on two
// consecutive strong windows of one pair whose tones kept their
// frequencies (steady), or on weakRun consecutive weak ones that did; one
// window alone is too often speech. It then holds while the pair's tones
// stay in their bins (holds), however loud other sound gets around them,
// and closes after maskHang windows without.
func (d *Detector) stepMask(evs []Event, start int64, code, level uint8) []Event {
	w := start / subLen
	if d.masking && level > 0 && code == d.maskCode && d.offW == w {
		// A key keeps its frequencies; a voice's or an instrument's partials
		// that looked like one glide away.
		if !d.maskSteadySet {
			d.maskSteadyL, d.maskSteadyH, d.maskSteadySet = d.offL, d.offH, true
		}
		dl, dh := d.offL-d.maskSteadyL, d.offH-d.maskSteadyH
		if max(dl, -dl, dh, -dh) > maskDrift {
			level = 0
		}
	}
	if d.masking {
		if level > 0 {
			d.maskMiss = 0
			if code != d.maskCode {
				d.maskSteadySet = false
			}
			d.maskClean = d.maskClean && code == d.maskCode || level == 3
			d.hit(w, start, code, code != d.maskCode)
			return evs
		}
		if d.maskClean && d.holds(w) {
			d.maskMiss = 0
			d.maskLast = start
			return evs
		}
		d.maskMiss++
		if d.maskMiss < maskHang {
			return evs
		}
		d.masking = false
		d.maskPend = 0
		d.maskLastEnd = d.endEstimate(d.maskLast)
		return append(evs, Event{Kind: MaskEnd, Pos: d.maskLastEnd})
	}
	if level == 0 {
		d.maskPend = 0
		return evs
	}
	if d.maskPend != code {
		d.runFirst = start
	}
	dl, dh := d.offL-d.pendL, d.offH-d.pendH
	drift := max(dl, -dl, dh, -dh)
	switch {
	case d.maskPend == code && (level == 3 && d.pendClean ||
		drift <= steadyStrong && level >= 2 && d.pendStrong ||
		drift <= steadyWeak && d.pendRun+1 >= weakRun):
		// From the first window of the pair's run, or earlier where its
		// bins already held, as far back as MaskLag allows.
		pos := d.onsetEstimate(min(d.runFirst, d.runStart(start, code)))
		evs = d.openMask(evs, max(pos, d.pos-MaskLag), start, code)
		d.maskClean = level == 3 || d.pendClean
		d.maskSteadyL, d.maskSteadyH, d.maskSteadySet = d.offL, d.offH, true
		d.hit(w-1, start-subLen, code, true)
		d.hit(w, start, code, false)
		return evs
	case d.maskPend != code || drift > steadyWeak:
		d.maskPend, d.maskPendAt, d.pendRun = code, start, 1
		d.pendStrong, d.pendClean = level >= 2, level == 3
	default:
		d.pendRun++
		d.pendStrong, d.pendClean = level >= 2, level == 3
	}
	d.pendL, d.pendH = d.offL, d.offH
	return evs
}

// runStart returns the start of the earliest window, among those the
// detector may still mask back to, from which on window start's pair held
// its bins as it does now: a key that speech hid for a while before its
// evidence showed is masked from there.
func (d *Detector) runStart(start int64, code uint8) int64 {
	lo, hi := pairTones(code)
	cur := &d.wpow[(start/subLen)%ringWins]
	refL, refH := holdRatio*cur[lo], holdRatio*cur[hi]
	first := start
	for k := int64(1); k < ringWins; k++ {
		s := start - k*subLen
		if s < 0 || s < d.pos-MaskLag+edgeMargin+onsetLookBack*subLen {
			break
		}
		p := &d.wpow[(s/subLen)%ringWins]
		if p[lo] < refL || p[hi] < refH {
			break
		}
		first = s
	}
	return first
}

// steadyStrong and steadyWeak bound how far a tone's measured relative
// offset may move between two windows 5 ms apart for them to count as one
// tone; weakRun weak windows in a row open the mask.
const (
	steadyStrong float32 = 0.002
	steadyWeak   float32 = 0.003
	weakRun              = 7
)

// hit records a window in which the mask's pair passed: its bin powers
// set (fresh) or lower the reference the mask holds against.
func (d *Detector) hit(w, start int64, code uint8, fresh bool) {
	d.maskLast, d.maskCode = start, code
	lo, hi := pairTones(code)
	p := &d.wpow[w%ringWins]
	if d.offCode == code && d.offW == w {
		d.maskOffL, d.maskOffH, d.maskOffCode = d.offL, d.offH, code
	}
	if fresh {
		d.maskRefL, d.maskRefH = p[lo], p[hi]
		return
	}
	d.maskRefL, d.maskRefH = min(d.maskRefL, p[lo]), min(d.maskRefH, p[hi])
}

// holds reports whether window w still carries the open mask's pair: both
// tones' bins within holdRatio of the power they had when the pair was
// clearly present. Sound added around a tone only adds to its bin (on
// average), so a tone that goes on keeps its mask however loud speech or
// music gets; once it stops, its bins fall to what is left.
func (d *Detector) holds(w int64) bool {
	if d.maskOffCode != d.maskCode {
		return false
	}
	lo, hi := pairTones(d.maskCode)
	p := &d.wpow[w%ringWins]
	if p[lo] < holdRatio*d.maskRefL || p[hi] < holdRatio*d.maskRefH {
		return false
	}
	// Each still leads its group, at the frequencies it had: once a key
	// stops, what is left in its bins is no louder than the rest of the
	// band, or at other frequencies, or gliding.
	for k := 0; k < 4; k++ {
		if k != lo && p[k] > p[lo] || k+4 != hi && p[k+4] > p[hi] {
			return false
		}
	}
	// (once a key stops, what is left in its
	// bins (speech, music) is at other frequencies, or gliding.
	offL, _, offH, _, _ := d.measure(w*subLen, lo, hi)
	dl, dh := float32(offL)-d.maskOffL, float32(offH)-d.maskOffH
	return max(dl, -dl, dh, -dh) <= holdDrift
}

func (d *Detector) openMask(evs []Event, pos, last int64, code uint8) []Event {
	d.masking = true
	d.maskSteadySet = false
	d.maskMiss = 0
	d.maskPend = 0
	d.hit(last/subLen, last, code, true)
	// Masks never overlap: the previous one already covers up to its end.
	return append(evs, Event{Kind: MaskStart, Pos: max(pos, d.maskLastEnd)})
}

// stepDigit runs the Q.24 timing on one window: digitMinHits hits of one
// pair (misses between them shorter than digitGap) make a digit, digitGap
// misses end it. A hit of another pair counts as a miss of the current one.
func (d *Detector) stepDigit(evs []Event, start int64, code uint8, hit bool) []Event {
	if hit && code == d.digCode {
		d.digHits++
		d.digMiss = 0
		d.digLast = start
		if !d.digActive && d.digHits >= digitMinHits {
			d.digActive = true
			// Estimate the onset now that the reference sub-blocks are
			// full of tone.
			d.digOnset = d.onsetEstimate(d.digFirst)
			if !d.masking {
				// Every digit lies inside a mask, even one whose hits
				// never came two in a row: from as far back as MaskLag
				// allows, and under a notch from its onset.
				if !d.notching {
					lo, hi := pairTones(code)
					evs = d.notchHit(evs, start, lo, hi, d.digFirst)
				}
				evs = d.openMask(evs, max(d.digOnset, d.pos-MaskLag), start, code)
			}
			evs = append(evs, Event{Kind: DigitStart, Digit: pairDigit(code), Pos: d.digOnset})
		}
		return evs
	}
	// A hit of another pair restarts a candidate; it only counts as a miss
	// against an active digit.
	if d.digCode != 0 && (!hit || d.digActive) {
		d.digMiss++
		if d.digMiss < digitGap {
			return evs
		}
		if d.digActive {
			evs = append(evs, Event{Kind: DigitEnd, Digit: pairDigit(d.digCode), Pos: d.endEstimate(d.digLast)})
		}
		d.digCode, d.digActive = 0, false
	}
	if hit {
		d.digCode, d.digHits, d.digMiss, d.digLast, d.digFirst = code, 1, 0, start, start
	}
	return evs
}

// Prefetch asks the processor to start loading what the next Process
// reads first (the hot state, the history: a 20 ms packet writes four
// fifths of it, and the sub-block DFTs its first windows reuse), so that a
// caller with a batch of streams can overlap their cache misses. It reads
// nothing of d (that would wait for the miss it hides) and changes nothing.
func (d *Detector) Prefetch() {
	cpucache.PrefetchRange(unsafe.Pointer(d), unsafe.Offsetof(d.energy)+unsafe.Sizeof(d.energy))
	cpucache.PrefetchRange(unsafe.Pointer(&d.hist), unsafe.Sizeof(d.hist))
	cpucache.PrefetchRange(unsafe.Pointer(&d.dft), unsafe.Sizeof(d.dft))
}
