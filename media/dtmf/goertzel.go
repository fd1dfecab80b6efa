package dtmf

import "math"

// Analysis geometry, in samples at 8 kHz.
const (
	SampleRate = 8000

	// subLen is the Goertzel sub-block: every subLen samples the eight
	// tone filters produce one complex DFT value each. Sub-blocks are the
	// hop between analysis windows and the time resolution of positions.
	subLen = 40
	// winSubs sub-blocks make one analysis window (winLen = 120 samples,
	// 15 ms): long enough to put neighbouring DTMF frequencies (>= 73 Hz
	// apart) past the first null of the rectangular window (66.7 Hz), short
	// enough that a 40 ms tone fills five windows and a 20 ms one at most
	// two.
	winSubs = 3
	winLen  = subLen * winSubs

	// ringSubs sub-blocks of history are kept for onset/end estimates.
	ringSubs = 16
	// dftSubs sub-blocks' DFTs are kept: the window's and one more, so
	// the next window finds two of its three computed. No more: with a
	// thousand streams, every entry a stream cycles through is one more
	// cache miss per sub-block.
	dftSubs = winSubs + 1
	// histLen samples of history feed the frequency check (two windows one
	// sub-block apart need winLen+subLen); a multiple of subLen, so no
	// sub-block's samples wrap around. Stored once: it is written for every
	// sample, and with a thousand streams every packet's writes miss the
	// cache, while windows that wrap are read only when the cheap checks
	// pass.
	histLen = 5 * subLen
)

// The DTMF frequencies (ITU-T Q.23): four low (row) and four high (column).
var toneFreqs = [8]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}

// keypad[row][col] is the key for a low/high pair (Q.23 Figure 1).
var keypad = [4][4]byte{
	{'1', '2', '3', 'A'},
	{'4', '5', '6', 'B'},
	{'7', '8', '9', 'C'},
	{'*', '0', '#', 'D'},
}

// Filter constants, computed once.
var (
	goertzelCoef [8]float64 // 2cos(w)
	// finish[k] = e^{-iw(subLen-1)} and e^{-iw}: turn the Goertzel state at
	// the end of a sub-block into the DFT relative to the sub-block start.
	finishRe, finishIm [8]float64
	stepRe, stepIm     [8]float64 // e^{-iw}
	// shift[k][m] = e^{-iw m subLen}: moves a sub-block's DFT to the phase
	// reference of a window starting m sub-blocks earlier.
	shiftRe, shiftIm [8][winSubs]float64
	// hann[k][n]: Hann window times e^{-iwn} for the frequency check.
	hannRe, hannIm [8][winLen]float32
	// hop[k] = e^{-iw subLen}: the nominal phase advance between two
	// windows one sub-block apart.
	hopRe, hopIm [8]float64
	// hannGain converts |Hann DFT|^2 to tone power A^2/2.
	hannGain float64
	// harmRe, harmIm[k][n]: the Hann table at twice tone k's frequency,
	// where a key has nothing and the harmonics of voices and instruments
	// lie.
	harmRe, harmIm [8][winLen]float32
)

func init() {
	var sumW float64
	for n := 0; n < winLen; n++ {
		sumW += 0.5 - 0.5*math.Cos(2*math.Pi*(float64(n)+0.5)/winLen)
	}
	hannGain = 2 / (sumW * sumW)
	for k, f := range toneFreqs {
		w := 2 * math.Pi * f / SampleRate
		goertzelCoef[k] = 2 * math.Cos(w)
		finishRe[k], finishIm[k] = math.Cos(w*(subLen-1)), -math.Sin(w*(subLen-1))
		stepRe[k], stepIm[k] = math.Cos(w), -math.Sin(w)
		for m := 0; m < winSubs; m++ {
			shiftRe[k][m], shiftIm[k][m] = math.Cos(w*float64(m*subLen)), -math.Sin(w*float64(m*subLen))
		}
		hopRe[k], hopIm[k] = math.Cos(w*subLen), -math.Sin(w*subLen)
		for n := 0; n < winLen; n++ {
			h := 0.5 - 0.5*math.Cos(2*math.Pi*(float64(n)+0.5)/winLen)
			hannRe[k][n] = float32(h * math.Cos(w*float64(n)))
			hannIm[k][n] = float32(-h * math.Sin(w*float64(n)))
			harmRe[k][n] = float32(h * math.Cos(2*w*float64(n)))
			harmIm[k][n] = float32(-h * math.Sin(2*w*float64(n)))
		}
	}
	subConstTab.coef, subConstTab.stepRe = goertzelCoef, stepRe
	subConstTab.finishRe, subConstTab.finishIm = finishRe, finishIm
	for k := range subConstTab.negStepIm {
		subConstTab.negStepIm[k] = -stepIm[k]
	}
	initHannTables()
	initSilentSub()
}

// subConsts lays out the filter constants a sub-block's DFT needs in the
// order goertzelSubAVX2 reads them.
type subConsts struct {
	coef, stepRe, negStepIm, finishRe, finishIm [8]float64
}

// subConstTab is filled by init, after the tables it copies.
var subConstTab subConsts

// subBlock is the DFT of the eight tones over one sub-block, relative to
// its first sample, valid when dftOf is the sub-block's index + 1 (0: never
// computed). Its energy is in Detector.energy.
type subBlock struct {
	re, im [8]float32
	dftOf  int64
}

// goertzelGo runs the eight filters over one sub-block's samples from a
// zero state, leaving s[n-1] in s1 and s[n-2] in s2: the portable version
// of goertzel (goertzel_amd64.go has the vector one). Four filters at a
// time keep their state in registers; x-s[n-2] is formed off the
// loop-carried chain, which is then one multiply and one add per sample.
// (Unrolling by two so the state variables swap roles measured slower: the
// compiler spills.)
func goertzelGo(samples []int16, s1, s2 *[8]float64) {
	goertzel4(samples, (*[4]float64)(s1[0:4]), (*[4]float64)(s2[0:4]), (*[4]float64)(goertzelCoef[0:4]))
	goertzel4(samples, (*[4]float64)(s1[4:8]), (*[4]float64)(s2[4:8]), (*[4]float64)(goertzelCoef[4:8]))
}

func goertzel4(samples []int16, s1, s2, coef *[4]float64) {
	c0, c1, c2, c3 := coef[0], coef[1], coef[2], coef[3]
	a1, b1, e1, f1 := s1[0], s1[1], s1[2], s1[3]
	a2, b2, e2, f2 := s2[0], s2[1], s2[2], s2[3]
	for _, v := range samples {
		x := float64(v)
		a1, a2 = c0*a1+(x-a2), a1
		b1, b2 = c1*b1+(x-b2), b1
		e1, e2 = c2*e1+(x-e2), e1
		f1, f2 = c3*f1+(x-f2), f1
	}
	s1[0], s1[1], s1[2], s1[3] = a1, b1, e1, f1
	s2[0], s2[1], s2[2], s2[3] = a2, b2, e2, f2
}

// finishSub turns the filter state after a full sub-block into its DFT:
// y = s1 - e^{-iw} s2 is the DFT referred to the last sample; multiplying
// by e^{-iw(subLen-1)} refers it to the first.
func finishSub(sb *subBlock, s1, s2 *[8]float64) {
	for k := 0; k < 8; k++ {
		yr := s1[k] - stepRe[k]*s2[k]
		yi := -stepIm[k] * s2[k]
		sb.re[k] = float32(yr*finishRe[k] - yi*finishIm[k])
		sb.im[k] = float32(yr*finishIm[k] + yi*finishRe[k])
	}
}

// hannDFT2 is the Hann-windowed DFT at tones k and l of the winLen
// samples from timeline position start in the history ring, in one pass
// (two runs when the window wraps around the ring's end).
func hannDFT2(hist *[histLen]int16, start int64, k, l int) (kre, kim, lre, lim float64) {
	return tableDFT2(hist, start, &hannRe[k], &hannIm[k], &hannRe[l], &hannIm[l])
}

// harmPower returns the power (as a tone power A^2/2) at twice the
// frequency of tone k in the window at start. (Twice a low tone lies too
// near the high group to tell anything.)
func harmPower(hist *[histLen]int16, start int64, k int) float64 {
	h := int(start % histLen)
	first := min(winLen, histLen-h)
	kr, ki := &harmRe[k], &harmIm[k]
	a, b, c, e := harmRun(0, 0, 0, 0, hist[h:h+first], kr[:first], ki[:first])
	if first < winLen {
		a, b, c, e = harmRun(a, b, c, e, hist[:winLen-first], kr[first:], ki[first:])
	}
	re, im := float64(a+c), float64(b+e)
	return (re*re + im*im) * hannGain
}

// harmRun adds the products of samples x with a table run to a, b (even
// samples) and c, e (odd ones): four chains, not two.
func harmRun(a, b, c, e float32, x []int16, kr, ki []float32) (float32, float32, float32, float32) {
	n := len(x)
	kr, ki = kr[:n], ki[:n]
	i := 0
	for ; i+1 < n; i += 2 {
		v, w := float32(x[i]), float32(x[i+1])
		a += v * kr[i]
		b += v * ki[i]
		c += w * kr[i+1]
		e += w * ki[i+1]
	}
	if i < n {
		v := float32(x[i])
		a += v * kr[i]
		b += v * ki[i]
	}
	return a, b, c, e
}

func tableDFT2(hist *[histLen]int16, start int64, kr, ki, lr, li *[winLen]float32) (kre, kim, lre, lim float64) {
	h := int(start % histLen)
	first := min(winLen, histLen-h)
	a, b, c, e := hannRun(0, 0, 0, 0, hist[h:h+first], kr[:first], ki[:first], lr[:first], li[:first])
	if first < winLen {
		a, b, c, e = hannRun(a, b, c, e, hist[:winLen-first], kr[first:], ki[first:], lr[first:], li[first:])
	}
	return float64(a), float64(b), float64(c), float64(e)
}

// hannRun adds the products of samples x with four table runs to a, b, c
// and e, in sample order (so a wrapped window sums exactly as an
// unwrapped one).
func hannRun(a, b, c, e float32, x []int16, kr, ki, lr, li []float32) (float32, float32, float32, float32) {
	n := len(x)
	kr, ki, lr, li = kr[:n], ki[:n], lr[:n], li[:n]
	for i, s := range x {
		v := float32(s) // exact: every int16 is a float32
		a += v * kr[i]
		b += v * ki[i]
		c += v * lr[i]
		e += v * li[i]
	}
	return a, b, c, e
}

// hannWin is the Hann window of the frequency check.
var hannWin = func() (w [winLen]float32) {
	for n := range w {
		w[n] = float32(0.5 - 0.5*math.Cos(2*math.Pi*(float64(n)+0.5)/winLen))
	}
	return w
}()

// hannMax returns the largest power (as a tone power A^2/2) at the
// frequencies fs (Hz, at most maxProbes) of the Hann-windowed window at
// start: Goertzel recursions over the windowed samples, for frequencies
// that have no table. The recursions run side by side, three at a time,
// so that they overlap rather than wait on each other.
func hannMax(hist *[histLen]int16, start int64, fs []float64) float64 {
	var x [winLen]float32
	h := int(start % histLen)
	first := min(winLen, histLen-h)
	for n, v := range hist[h : h+first] {
		x[n] = hannWin[n] * float32(v)
	}
	for n, v := range hist[:winLen-first] {
		x[first+n] = hannWin[first+n] * float32(v)
	}
	var c [maxProbes]float32
	for i, f := range fs {
		c[i] = float32(2 * math.Cos(2*math.Pi*f/SampleRate))
	}
	var m float32
	for i := 0; i < len(fs); i += 3 {
		c0, c1, c2 := c[i], c[i+1], c[i+2]
		var a1, a2, b1, b2, e1, e2 float32
		for _, v := range x {
			a1, a2 = v+c0*a1-a2, a1
			b1, b2 = v+c1*b1-b2, b1
			e1, e2 = v+c2*e1-e2, e1
		}
		m = max(m, a1*a1+a2*a2-c0*a1*a2)
		if i+1 < len(fs) {
			m = max(m, b1*b1+b2*b2-c1*b1*b2)
		}
		if i+2 < len(fs) {
			m = max(m, e1*e1+e2*e2-c2*e1*e2)
		}
	}
	return float64(m) * hannGain
}

// maxProbes is the most frequencies hannMax takes.
const maxProbes = 6

// hannLoss[i] is 1/W(x)^2 at x = i/hannLossStep bins off centre, W the
// Hann window's amplitude response sinc(x)/(1-x^2): it turns the power
// measured off centre back into the tone's power.
const (
	hannLossStep = 64
	hannLossMax  = 1.5
)

var hannLoss [int(hannLossMax*hannLossStep) + 2]float64

func init() {
	for i := range hannLoss {
		x := float64(i) / hannLossStep
		w := 1.0
		switch {
		case x == 0:
		case math.Abs(1-x*x) < 1e-9:
			w = 0.5
		default:
			w = math.Sin(math.Pi*x) / (math.Pi * x) / (1 - x*x)
		}
		hannLoss[i] = 1 / (w * w)
	}
}

// hannCorrection interpolates hannLoss at x bins (clamped to hannLossMax).
func hannCorrection(x float64) float64 {
	f := math.Min(math.Abs(x), hannLossMax) * hannLossStep
	i := int(f)
	fr := f - float64(i)
	return hannLoss[i]*(1-fr) + hannLoss[i+1]*fr
}
