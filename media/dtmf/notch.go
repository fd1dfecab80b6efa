package dtmf

import "math"

// The notch: a second, cheaper tier of protection under the mask. A key
// under loud speech or music often shows only weak evidence: a pair that
// leads its groups at steady frequencies, or a high tone alone that holds
// its frequency while speech swamps the low one, but not by the margins
// that justify replacing the audio (speech and music show as much, briefly,
// far too often). Where such evidence holds for a few windows, the masker
// removes the bands of the DTMF frequencies instead (NotchStart/NotchEnd):
// a decoder, or a listener, needs both tones, and a voice passes nearly
// unchanged.

// notchLimits are the notch's per-window limits: the high tone leads its
// group by 3 dB and the pair by 6 dB together, each tone within 3 % of its
// frequency, at -45 dBm0 or more, twist -16..+12 dB, nothing at twice the
// high tone above -10 dB.
var notchLimits = thresholds{
	minPower:  dbm0Power(-45),
	twistLo:   db(-16),
	twistHi:   db(12),
	relPeak:   db(3),
	relPair:   db(6),
	harmonic:  db(-10),
	maxOffset: 0.03,
}

// notchClear reports a pair that stands 10 dB clear in both groups within
// 1 % of its frequencies: evidence enough whatever lies at twice the high
// tone (speech's fricatives and third formant often do).
func notchClear(pl, ph, rl, rh, offL, offH float64) bool {
	return pl >= clearLead*rl && ph >= clearLead*rh && max(math.Abs(offL), math.Abs(offH)) <= 0.01
}

// Notch evidence of one window (classify).
const (
	notchPair      uint8 = 1 << iota // a steady pair under the notch's limits
	notchHigh                        // a high tone alone, ahead of its group
	notchHighClear                   // and clear of it
)

// A high tone alone is evidence, with nothing at its double and no
// fundamental below it (highSeries), within highOffset (2.5 %) of its
// frequency: two windows in a row clear of its group by highLead (10 dB)
// and within highDrift (0.5 %) of each other, or three ahead of it by
// highSteadyLead (5 dB) and within highSteady (0.1 %). A key's low tone is
// often swamped by speech, and a decoder can still find it there; a
// voice's partial does not hold its frequency that still.
const (
	highLead       = 10
	highSteadyLead = 3.1622776601683795 // 5 dB
	highOffset     = 0.025
	highDrift      = 0.005
	highSteady     = 0.001
	highSteadyRun  = 3
)

// notchBackRatio: how much of the run's first window's power a tone keeps
// in the windows the notch reaches back over.
const notchBackRatio = 0.5

const (
	clearLead = 10 // 10 dB
	// notchNear: a pair within 2 % of its frequencies needs no lead of
	// the high tone of its own (a formant may fill its group).
	notchNear = 0.02
	// notchRun windows of one pair in a row open the notch, one of its
	// tones' offsets moving less than notchDrift between them and the
	// other less than notchDriftOther (speech over a tone jolts its
	// measured frequency).
	notchRun        = 2
	notchDrift      = 0.005
	notchDriftOther = 0.02
	// notchSure runs' windows let the notch hold on the high tone's power
	// alone, for at most notchHoldMax samples after the last: a held key's
	// evidence comes and goes with the speech over it.
	notchSure    = 8
	notchHoldMax = 100 * SampleRate / 1000
	// notchHang windows without evidence close it.
	notchHang = 5
	// notchPad widens the notch on both sides: a window passes once the
	// tone fills most of it.
	notchPad = subLen
)

// notchState is the notch's state machine.
type notchState struct {
	notching     bool
	notchPend    uint8 // pair of the last window's hit, 0 none
	notchPendW   int64 // its window index
	notchRunN    int   // hits of that pair in a row
	notchFirst   int64 // start of the run's first window
	notchHi      int   // the open notch's high tone
	notchTones   uint8 // and every tone it takes out
	notchLast    int64 // start of the last window that held
	notchMiss    int
	notchLastEnd int64   // Pos of the last NotchEnd
	notchHits    int     // run windows of the open notch's high tone
	notchRef     float32 // its bin's least power in them
	notchRun     int64   // start of the last of them
	// the offsets of the last notch hit (window nOffW) and of the one
	// before it
	nOffW          int64
	nOffL, nOffH   float32
	nPowH          float64 // and its high tone's power
	nPendL, nPendH float32
	// the run of a high tone alone
	hPendHi     int // its tone, -1 none
	hPendW      int64
	hSteadyN    int   // windows in a row within highSteady of the last
	hFirst      int64 // the first of them
	hClearN     int   // and clear ones in a row
	hClearFirst int64
	hPendOff    float32
}

// NotchLag bounds, in samples, how far behind the input a NotchStart's Pos
// may lie: 60 ms, the masker's default look-ahead. A key under speech
// often shows its evidence well after its onset; the notch reaches back
// to where the pair's bins already held, as far as a masker still holds
// the audio (one with less look-ahead notches from its oldest sample; the
// recording, 80 ms behind, gets all of it).
const NotchLag = 480

// notchStart returns the start of the earliest window, back from the run's
// first window first, in which tones lo (-1: none) and hi were still the
// strongest of their groups with at least half the power of that window's,
// within NotchLag: a key that speech hid before its evidence showed.
func (d *Detector) notchStart(first int64, lo, hi int) int64 {
	cur := &d.wpow[(first/subLen)%ringWins]
	from := first
	for k := int64(1); k < ringWins; k++ {
		s := first - k*subLen
		if s < 0 || s < d.pos-NotchLag+notchPad {
			break
		}
		p := &d.wpow[(s/subLen)%ringWins]
		if !leads(p, hi, 4, notchBackRatio*cur[hi]) || lo >= 0 && !leads(p, lo, 0, notchBackRatio*cur[lo]) {
			break
		}
		from = s
	}
	return from
}

// leads reports whether bin k of the group from base has at least power
// min and no less than any other bin of its group.
func leads(p *[8]float32, k, base int, min float32) bool {
	if p[k] < min || p[k] == 0 {
		return false
	}
	for j := base; j < base+4; j++ {
		if p[j] > p[k] {
			return false
		}
	}
	return true
}

// stepNotch runs the notch state machine on one window with its notch
// evidence (notchPair, notchHigh): a run of one pair, or of one high tone,
// at steady frequencies opens it (from the run's first window, or earlier
// where the tones already led their groups, as far back as NotchLag
// allows); it holds while runs go on, or, once it has seen notchSure of
// their windows, while the high tone's bin keeps a quarter of its power,
// and closes notchHang windows after.
func (d *Detector) stepNotch(evs []Event, start int64, code uint8, ev uint8) []Event {
	w := start / subLen
	lo, hi := pairTones(code)
	run := false
	if ev&notchPair != 0 {
		dl, dh := d.nOffL-d.nPendL, d.nOffH-d.nPendH
		dl, dh = max(dl, -dl), max(dh, -dh)
		if d.notchPend == code && d.notchPendW == w-1 && min(dl, dh) <= notchDrift && max(dl, dh) <= notchDriftOther {
			d.notchRunN++
		} else {
			d.notchRunN, d.notchFirst = 1, start
		}
		d.notchPend, d.notchPendW = code, w
		d.nPendL, d.nPendH = d.nOffL, d.nOffH
		if d.notchRunN >= notchRun {
			evs, run = d.notchHit(evs, start, lo, hi, d.notchFirst), true
		}
	} else {
		d.notchPend = 0
	}
	if ev&notchHigh != 0 {
		clear := ev&notchHighClear != 0
		dh := d.nOffH - d.hPendOff
		dh = max(dh, -dh)
		if d.hPendHi == hi && d.hPendW == w-1 && dh <= highDrift {
			if !clear {
				d.hClearN = 0
			} else {
				d.hClearN++
			}
			if dh <= highSteady {
				d.hSteadyN++
			} else {
				d.hSteadyN, d.hFirst = 1, start
			}
			if d.hClearN == 1 {
				d.hClearFirst = start
			}
		} else {
			d.hSteadyN, d.hFirst, d.hClearN, d.hClearFirst = 1, start, 0, start
			if clear {
				d.hClearN = 1
			}
		}
		d.hPendHi, d.hPendW, d.hPendOff = hi, w, d.nOffH
		// A run is judged for a fundamental below only when it is complete:
		// the probes cost more than the rest of a window's checks.
		if !run && (d.hClearN >= notchRun || d.hSteadyN >= highSteadyRun) && !d.highSeries(start, hi, float64(d.nOffH), d.nPowH) {
			first := d.hFirst
			if d.hClearN >= notchRun {
				first = min(first, d.hClearFirst)
			}
			evs, run = d.notchHit(evs, start, -1, hi, first), true
		}
	} else {
		d.hPendHi = -1
	}
	if run || !d.notching {
		return evs
	}
	p := &d.wpow[w%ringWins]
	if d.notchHits >= notchSure && start-d.notchRun < notchHoldMax && p[d.notchHi] >= holdRatio*d.notchRef {
		d.notchLast, d.notchMiss = start, 0
		return evs
	}
	d.notchMiss++
	if d.notchMiss < notchHang {
		return evs
	}
	d.notching = false
	d.notchLastEnd = d.notchLast + subLen + winLen + notchPad
	return append(evs, Event{Kind: NotchEnd, Pos: d.notchLastEnd})
}

// notchHit records a window that completes or continues a run of tones
// lo (-1 for a high tone alone) and hi whose first window started at
// first, opening the notch if it is not open, or adding lo to an open one.
// The notch always takes the whole high group: a key always has one of
// those tones and no decoder finds it without, and they hold little of a
// voice's energy (3 %); a low tone is added once a pair shows it. Its hold
// follows the high tone: the low one is the one speech swamps.
func (d *Detector) notchHit(evs []Event, start int64, lo, hi int, first int64) []Event {
	p := &d.wpow[(start/subLen)%ringWins]
	if !d.notching || hi != d.notchHi {
		d.notchRef, d.notchHits = p[hi], 0
	} else {
		d.notchRef = min(d.notchRef, p[hi])
	}
	var tones uint8
	if !d.notching {
		tones = NotchHigh
		d.notchTones = 0
	}
	if lo >= 0 && d.notchTones&(1<<lo) == 0 {
		tones |= 1 << lo
	}
	if tones != 0 {
		pos := d.notchStart(first, lo, hi) - notchPad
		pos = max(pos, d.pos-NotchLag, d.notchLastEnd, 0)
		evs = append(evs, Event{Kind: NotchStart, Tones: tones, Pos: pos})
		d.notchTones |= tones
	}
	d.notching = true
	d.notchHi = hi
	d.notchLast, d.notchRun, d.notchMiss = start, start, 0
	d.notchHits++
	return evs
}
