package dtmf

import "math"

// pairCode numbers a low/high tone pair 1..16 (0 = none).
func pairCode(lo, hi int) uint8 { return uint8(lo*4+(hi-4)) + 1 }

func pairTones(code uint8) (lo, hi int) {
	c := int(code) - 1
	return c / 4, c%4 + 4
}

func pairDigit(code uint8) byte {
	lo, hi := pairTones(code)
	return keypad[lo][hi-4]
}

// preSlack lets the cheap rectangular-window checks pass windows whose
// tones sit up to the mask's offset limit away from the bin centre (a
// 1633 Hz tone 2.7 % off loses 7.4 dB in the 120-sample rectangular window).
const preSlack = 0.1

// seriesLimit: the most power, relative to the low tone, at the probes of
// harmonicSeries for the mask's evidence.
const seriesLimit = 0.5

// highSeriesLimit: a high tone alone is no evidence under a fundamental as
// strong as itself. (A pair's notch evidence is not asked: a key's low tone
// under speech has the voice's fundamental below it, and the pair is what
// a decoder needs.)
const highSeriesLimit = 1.0

// seriesClear is how far (Hz) a probe must lie from a tone to tell it
// apart: the Hann window's main lobe is two bins (133 Hz) wide each side.
const seriesClear = 150

// A clean window: the pair carries most of the window's energy and stands
// well clear in both groups, as a key does over silence or noise. Two in a
// row open the mask however short the key (a 20 ms fragment).
const (
	cleanShare = 0.75
	cleanPeak  = 3.1622776601683795 // 5 dB
)

// energyGate turns the quiet-window shortcut in classify on; tests turn it
// off to show it changes no result.
var energyGate = true

// No tone in a window can be stronger than twice its mean power
// (Cauchy-Schwarz: |X_k|^2 <= N * sum x^2, so 2|X_k|^2/N^2 <= 2*total), so
// a window below the gate passes none of classify's checks: it skips the
// filters. (The 1e-6 keeps rounding in the powers from ever mattering.)
func gated(energy, minPower float64) bool {
	total := energy / winLen
	return 2*total*(1+1e-6) < minPower*preSlack
}

// gateEnergyFor returns the least window energy the gate lets through for
// a mask floor of minPower. A window's energy is a whole number (a sum of
// int16 squares, exact in a float64) and gated is monotone in it (each
// rounding step is), so energy < gateEnergyFor(minPower) is gated without
// its division.
func gateEnergyFor(minPower float64) float64 {
	lo, hi := 0.0, float64(1<<53)
	switch {
	case !gated(lo, minPower):
		return 0
	case gated(hi, minPower):
		return math.Inf(1)
	}
	for hi-lo > 1 { // gated(lo), !gated(hi)
		mid := math.Floor((lo + hi) / 2)
		if gated(mid, minPower) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// classify evaluates the window starting at sample start (the last winSubs
// sub-blocks). It returns the strongest low/high pair, the mask's evidence
// level for it (0 none, 1 weak, 2 strong, 3 clean), whether it passes the
// digit limits, and whether it passes the notch's (weaker) limits.
func (d *Detector) classify(start int64) (code uint8, level uint8, digitHit bool, notch uint8) {
	j0 := d.nsub - winSubs // >= 1
	u := uint64(j0)
	energy := d.energy[u%ringSubs] + d.energy[(u+1)%ringSubs] + d.energy[(u+2)%ringSubs]
	wp := &d.wpow[u%ringWins]
	if energyGate && energy < d.gateEnergy {
		*wp = [8]float32{}
		return 0, 0, false, 0
	}
	total := energy / winLen
	ml := &d.mask
	// The window's DFT is the sum of its sub-blocks' DFTs, each rotated to
	// the window's phase reference. The first needs no rotation (its shift
	// is exactly 1), so it starts the sum as it is: adding it to zero
	// rotated by 1 gives the same value.
	var sbs [winSubs]*subBlock
	for m := range sbs {
		j := j0 + int64(m)
		sb := &d.dft[j%dftSubs]
		if sb.dftOf != j+1 {
			d.subDFT(sb, j)
		}
		sbs[m] = sb
	}
	s0, s1, s2 := sbs[0], sbs[1], sbs[2]
	// Tone power A^2/2 of an on-bin sine: 2|X|^2/N^2.
	const norm = 2.0 / (winLen * winLen)
	var p [8]float64
	for k := range p {
		xr, xi := float64(s0.re[k]), float64(s0.im[k])
		r, i := float64(s1.re[k]), float64(s1.im[k])
		xr += r*shiftRe[k][1] - i*shiftIm[k][1]
		xi += r*shiftIm[k][1] + i*shiftRe[k][1]
		r, i = float64(s2.re[k]), float64(s2.im[k])
		xr += r*shiftRe[k][2] - i*shiftIm[k][2]
		xi += r*shiftIm[k][2] + i*shiftRe[k][2]
		p[k] = (xr*xr + xi*xi) * norm
		wp[k] = float32(p[k])
	}
	lo, rl := groupPeak((*[4]float64)(p[0:4]))
	hi, rh := groupPeak((*[4]float64)(p[4:8]))
	hi += 4
	code = pairCode(lo, hi)
	pl, ph := p[lo], p[hi]
	nl := &d.notch
	if ph < nl.minPower*preSlack {
		return code, 0, false, 0
	}
	// A high tone ahead of its group: a key whose low tone speech swamps.
	highCand := ph >= highSteadyLead*rh
	if pl < ml.minPower*preSlack || pl+ph < ml.toTotal*preSlack*total {
		if !highCand {
			return code, 0, false, 0
		}
		pl = 0 // no pair: only the high tone may pass below
	}
	maskCand := pl > 0 && pl >= ml.relPeak*rl && ph >= ml.relPeak*rh && pl*ph >= ml.relPair*rl*rh
	notchCand := pl > 0 && pl*ph >= nl.relPair*rl*rh
	dl := &d.digit
	if !maskCand && !notchCand && !highCand && (pl < dl.relPeak*rl || ph < dl.relPeak*rh || pl+ph < dl.toTotal*preSlack*total) {
		return code, 0, false, 0
	}

	// Frequency and power from Hann-windowed DFTs of this window and the
	// one a sub-block earlier: the phase advance between them measures the
	// offset from the nominal frequency.
	offL, powL, offH, powH, hh := d.measure(start, lo, hi)
	notchCand = notchCand && nl.pass(offL, offH, powL, powH, total)
	highCand = highCand && math.Abs(offH) <= highOffset && powH >= nl.minPower
	mlPass := pl > 0 && ml.pass(offL, offH, powL, powH, total)
	maskCand = maskCand && mlPass
	// A digit passes the mask's level too (WithMaskLevel lowers both).
	digitHit = mlPass && pl >= dl.relPeak*rl && ph >= dl.relPeak*rh && dl.pass(offL, offH, powL, powH, total)
	if !maskCand && !notchCand && !highCand {
		return code, 0, digitHit, 0
	}
	// Voices and instruments put harmonics at twice a high-group tone's
	// frequency; a key puts nothing there. (Twice a low-group tone lies
	// too near the high group to tell.)
	if notchCand && (notchClear(pl, ph, rl, rh, offL, offH) ||
		hh <= nl.harmonic*powH && (ph >= nl.relPeak*rh || max(math.Abs(offL), math.Abs(offH)) <= notchNear)) {
		notch |= notchPair
	}
	if highCand && hh <= nl.harmonic*powH {
		notch |= notchHigh
		if ph >= highLead*rh {
			notch |= notchHighClear
		}
	}
	if notch != 0 {
		d.nOffW, d.nOffL, d.nOffH, d.nPowH = j0, float32(offL), float32(offH), powH
	}
	if !maskCand || hh > ml.harmonic*powH {
		return code, 0, digitHit, notch
	}
	level = 1
	st := &d.strong
	switch {
	case pl >= cleanPeak*rl && ph >= cleanPeak*rh && powL+powH >= cleanShare*total:
		level = 3
	case pl >= st.relPeak*rl && ph >= st.relPeak*rh && pl*ph >= st.relPair*rl*rh && hh <= st.harmonic*powH:
		level = 2
	}
	if level < 3 && d.harmonicSeries(start, lo, hi, offL, offH, powL) {
		return code, 0, digitHit, notch
	}
	d.offW, d.offCode = j0, code
	d.offL, d.offH = float32(offL), float32(offH)
	return code, level, digitHit, notch
}

// harmonicSeries reports whether the pair lo, hi in the window at start
// looks like two partials of one voice or instrument rather than a key:
// below the low tone lie the fundamental and the partial next to it, and
// a partial lies at the pair's difference. A key's two tones are unrelated
// (Q.23 chose them so) and bring nothing there. A clean window (the pair
// carries most of its energy) is not asked: what little else it holds is
// noise or a dial tone, which may sit at half a low tone.
func (d *Detector) harmonicSeries(start int64, lo, hi int, offL, offH, powL float64) bool {
	fl, fh := toneFreqs[lo]*(1+offL), toneFreqs[hi]*(1+offH)
	series := [...]float64{fl / 2, fl / 3, fl / 4, fl * 2 / 3, fl * 3 / 4, fh - fl}
	n := len(series)
	if math.Abs(fh-2*fl) < seriesClear {
		n-- // the difference lies in the low tone's own main lobe
	}
	return hannMax(&d.hist, start, series[:n]) > seriesLimit*powL
}

// highSeries reports whether the high tone hi in the window at start looks
// like a partial of a lower note: its fundamental at a third, a quarter or
// a fifth of its frequency, well above it. (Half of it lies on the low
// group, where the key's own low tone may be.)
func (d *Detector) highSeries(start int64, hi int, offH, powH float64) bool {
	fh := toneFreqs[hi] * (1 + offH)
	series := [...]float64{fh / 3, fh / 4, fh / 5}
	return hannMax(&d.hist, start, series[:]) > highSeriesLimit*powH
}

// subDFT computes sub-block j's tone DFTs from the sample history (it is
// among the last winSubs sub-blocks, which the history still holds).
// A sub-block of digital silence (energy 0: every sample 0) gets the DFTs
// the filters give zeros, computed once, without running them.
func (d *Detector) subDFT(sb *subBlock, j int64) {
	if d.energy[j%ringSubs] == 0 {
		sb.re, sb.im = silentSub.re, silentSub.im
	} else {
		h := int(j * subLen % histLen)
		subDFTOf(d.hist[h:h+subLen], sb)
	}
	sb.dftOf = j + 1
}

// silentSub is the DFTs of a sub-block of zeros (initSilentSub).
var silentSub subBlock

func initSilentSub() {
	var zeros [subLen]int16
	subDFTOf(zeros[:], &silentSub)
}

// groupPeak returns the strongest of a group's four powers (the first
// of equals) and the largest of the other three, without a branch: on
// noise and speech which bin leads is a coin toss a predictor misses.
// (The powers are never negative nor NaN, so min and max pick the values
// the comparisons would.)
func groupPeak(g *[4]float64) (best int, second float64) {
	a, b, c, e := g[0], g[1], g[2], g[3]
	i, j := 0, 2
	if b > a {
		i = 1
	}
	if e > c {
		j = 3
	}
	m1, s1, m2, s2 := max(a, b), min(a, b), max(c, e), min(c, e)
	best = i
	if m2 > m1 {
		best = j
	}
	// The second is the weaker pair's leader or the stronger pair's other.
	return best, max(min(m1, m2), max(s1, s2))
}

func (t *thresholds) pass(offL, offH, powL, powH, total float64) bool {
	if math.Abs(offL) > t.maxOffset || math.Abs(offH) > t.maxOffset {
		return false
	}
	if powL < t.minPower || powH < t.minPower {
		return false
	}
	if powH < t.twistLo*powL || powH > t.twistHi*powL {
		return false
	}
	return powL+powH >= t.toTotal*total
}

// measure returns the relative frequency offsets of tones lo and hi in the
// window at start, their powers corrected for the Hann window's loss at
// those offsets, and the power at twice hi's frequency (harmPower). The
// window's DFTs are kept for the next window, which compares itself with
// this one.
func (d *Detector) measure(start int64, lo, hi int) (offL, powL, offH, powH, harm float64) {
	prev := start - subLen
	cached := d.cacheStart == prev && d.cacheLo == lo && d.cacheHi == hi
	b, a, harm := hannHarm(&d.hist, start, lo, hi, !cached)
	if cached {
		a = d.cache
	}
	d.cacheStart, d.cacheLo, d.cacheHi = start, lo, hi
	d.cache = b
	offL, powL = offsetPower(lo, a[0], a[1], b[0], b[1])
	offH, powH = offsetPower(hi, a[2], a[3], b[2], b[3])
	return
}

// offsetPower turns tone k's Hann DFTs a (one sub-block earlier) and b into
// its relative frequency offset and corrected power.
func offsetPower(k int, ar, ai, br, bi float64) (offset, power float64) {
	// z = B * conj(A) * e^{-iw hop}: its angle is the offset's phase
	// advance over one hop.
	zr := br*ar + bi*ai
	zi := bi*ar - br*ai
	zr, zi = zr*hopRe[k]-zi*hopIm[k], zr*hopIm[k]+zi*hopRe[k]
	phi := math.Atan2(zi, zr)
	df := phi * SampleRate / (2 * math.Pi * subLen) // Hz
	offset = df / toneFreqs[k]
	power = (br*br + bi*bi) * hannGain * hannCorrection(df*winLen/SampleRate)
	return offset, power
}

// Onset/end estimation works on sub-block energies. A sub-block whose
// energy is below edgeRatio of the reference (the fullest sub-block of a
// hit window) holds fewer than a quarter of its samples of tone: energy
// grows with the filled part, and the cross term between the two tones of a
// pair can lower a partly filled sub-block's energy by at most half. (The
// pair's DFT bins are no good here: in a few samples the other tone leaks
// into a bin and can cancel most of it.) edgeMargin covers the unseen
// quarter with room to spare. Noise or speech next to a tone only moves the
// estimates outwards, which is the safe side.
const (
	edgeRatio  = 0.1
	edgeMargin = subLen / 2
)

func (d *Detector) subEnergy(j int64) float64 { return d.energy[j%ringSubs] }

// onsetEstimate returns a position at or before the first sample of the
// tone whose first hit window starts at firstStart, judged from the
// sub-blocks from onsetLookBack before that window to the latest. The
// window before the first hit normally shows the tone cannot have started
// before firstStart-subLen; one more sub-block covers a window that missed
// because the tone's abrupt start splattered into the analysis. So the
// result is never earlier than firstStart-onsetLookBack*subLen-edgeMargin.
func (d *Detector) onsetEstimate(firstStart int64) int64 {
	last := d.nsub - 1
	var ref float64
	for j := last - winSubs + 1; j <= last; j++ {
		ref = math.Max(ref, d.subEnergy(j))
	}
	from := max(firstStart/subLen-onsetLookBack, d.nsub-ringSubs, 0)
	pos := from*subLen - edgeMargin
	for j := from; j <= last; j++ {
		if d.subEnergy(j) >= ref*edgeRatio {
			pos = j*subLen - edgeMargin
			break
		}
	}
	return max(pos, 0)
}

// onsetLookBack is how many sub-blocks before its first hit window a tone
// may have started.
const onsetLookBack = 2

// endEstimate returns a position at or after the last sample of the tone
// whose last hit window starts at lastStart. The window one sub-block later
// missed, so the tone ended before its end, lastStart+subLen+winLen.
func (d *Detector) endEstimate(lastStart int64) int64 {
	first := lastStart / subLen
	var ref float64
	for j := first; j < first+winSubs; j++ {
		ref = math.Max(ref, d.subEnergy(j))
	}
	bound := lastStart + subLen + winLen
	for j := min(first+winSubs, d.nsub-1); j >= first; j-- {
		if d.subEnergy(j) >= ref*edgeRatio {
			return min((j+1)*subLen+edgeMargin, bound)
		}
	}
	return bound
}
