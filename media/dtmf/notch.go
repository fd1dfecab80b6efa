package dtmf

import "math"

// The notch: a second, cheaper tier of protection under the mask. A key
// under loud speech or music often shows only weak evidence: its high tone
// leads its group and both tones hold steady frequencies, but not by the
// margins that justify replacing the audio (speech shows the same, briefly,
// far too often). Where such a pair holds for two windows, the masker
// removes the DTMF bands instead (NotchStart/NotchEnd): a decoder, or a
// listener, needs both tones, and speech passes nearly unchanged.

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

const (
	clearLead = 10 // 10 dB
	// notchNear: a pair within 2 % of its frequencies needs no lead of
	// the high tone of its own (a formant may fill its group).
	notchNear = 0.02
	// notchRun windows of one pair in a row, its tones' offsets moving
	// less than notchDrift between them, open the notch.
	notchRun   = 2
	notchDrift = 0.01
	// notchHang windows without the pair close it.
	notchHang = 3
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
	notchCode    uint8 // the open notch's pair
	notchLast    int64 // start of the last window that held
	notchMiss    int
	notchLastEnd int64 // Pos of the last NotchEnd
	notchRefL    float32
	notchRefH    float32
	// the offsets of the last notch hit (window nOffW) and of the one
	// before it
	nOffW          int64
	nOffL, nOffH   float32
	nPendL, nPendH float32
}

// NotchLag bounds, in samples, how far behind the input a NotchStart's Pos
// may lie: 60 ms, the masker's default look-ahead. A key under speech
// often shows its evidence well after its onset; the notch reaches back
// to where the pair's bins already held, as far as a masker still holds
// the audio (one with less look-ahead notches from its oldest sample; the
// recording, 80 ms behind, gets all of it).
const NotchLag = 480

// notchStart returns the start of the earliest window, back from the run's
// first window first, whose bins of the pair held at least holdRatio of
// that window's, within NotchLag.
func (d *Detector) notchStart(first int64, code uint8) int64 {
	lo, hi := pairTones(code)
	cur := &d.wpow[(first/subLen)%ringWins]
	refL, refH := holdRatio*cur[lo], holdRatio*cur[hi]
	from := first
	for k := int64(1); k < ringWins; k++ {
		s := first - k*subLen
		if s < 0 || s < d.pos-NotchLag+notchPad {
			break
		}
		p := &d.wpow[(s/subLen)%ringWins]
		if p[lo] < refL || p[hi] < refH {
			break
		}
		from = s
	}
	return from
}

// stepNotch runs the notch state machine on one window: notchRun hits of
// one pair at steady frequencies open it (from the run's first window, or
// earlier where its bins already held, as far back as MaskLag allows);
// it holds while hits come or the pair's bins keep a quarter of their
// power, and closes notchHang windows after.
func (d *Detector) stepNotch(evs []Event, start int64, code uint8, hit bool) []Event {
	w := start / subLen
	if hit {
		dl, dh := d.nOffL-d.nPendL, d.nOffH-d.nPendH
		if d.notchPend == code && d.notchPendW == w-1 && max(dl, -dl, dh, -dh) <= notchDrift {
			d.notchRunN++
		} else {
			d.notchRunN, d.notchFirst = 1, start
		}
		d.notchPend, d.notchPendW = code, w
		d.nPendL, d.nPendH = d.nOffL, d.nOffH
		if d.notchRunN >= notchRun {
			lo, hi := pairTones(code)
			p := &d.wpow[w%ringWins]
			if !d.notching || code != d.notchCode {
				d.notchRefL, d.notchRefH = p[lo], p[hi]
			} else {
				d.notchRefL, d.notchRefH = min(d.notchRefL, p[lo]), min(d.notchRefH, p[hi])
			}
			if !d.notching {
				d.notching = true
				pos := d.notchStart(d.notchFirst, code) - notchPad
				pos = max(pos, d.pos-NotchLag, d.notchLastEnd, 0)
				evs = append(evs, Event{Kind: NotchStart, Pos: pos})
			}
			d.notchCode, d.notchLast, d.notchMiss = code, start, 0
			return evs
		}
	} else {
		d.notchPend = 0
	}
	if !d.notching {
		return evs
	}
	lo, hi := pairTones(d.notchCode)
	p := &d.wpow[w%ringWins]
	if p[lo] >= holdRatio*d.notchRefL && p[hi] >= holdRatio*d.notchRefH {
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
