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
	// histLen samples of history feed the frequency check (two windows one
	// sub-block apart need winLen+subLen).
	histLen = 256
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
		}
	}
}

// subBlock is the analysis of one sub-block: the DFT of the eight tones
// relative to the sub-block's first sample, and its energy.
type subBlock struct {
	re, im [8]float64
	energy float64
}

// goertzel runs the eight filters over samples, continuing from and
// updating the state in s1/s2 and the energy in e. Four filters at a time
// keep the state in registers.
func goertzel(samples []int16, s1, s2 *[8]float64, e *float64) {
	{
		c0, c1, c2, c3 := goertzelCoef[0], goertzelCoef[1], goertzelCoef[2], goertzelCoef[3]
		a1, b1, c1s, d1 := s1[0], s1[1], s1[2], s1[3]
		a2, b2, c2s, d2 := s2[0], s2[1], s2[2], s2[3]
		en := *e
		for _, v := range samples {
			x := float64(v)
			en += x * x
			a1, a2 = x+c0*a1-a2, a1
			b1, b2 = x+c1*b1-b2, b1
			c1s, c2s = x+c2*c1s-c2s, c1s
			d1, d2 = x+c3*d1-d2, d1
		}
		s1[0], s1[1], s1[2], s1[3] = a1, b1, c1s, d1
		s2[0], s2[1], s2[2], s2[3] = a2, b2, c2s, d2
		*e = en
	}
	{
		c0, c1, c2, c3 := goertzelCoef[4], goertzelCoef[5], goertzelCoef[6], goertzelCoef[7]
		a1, b1, c1s, d1 := s1[4], s1[5], s1[6], s1[7]
		a2, b2, c2s, d2 := s2[4], s2[5], s2[6], s2[7]
		for _, v := range samples {
			x := float64(v)
			a1, a2 = x+c0*a1-a2, a1
			b1, b2 = x+c1*b1-b2, b1
			c1s, c2s = x+c2*c1s-c2s, c1s
			d1, d2 = x+c3*d1-d2, d1
		}
		s1[4], s1[5], s1[6], s1[7] = a1, b1, c1s, d1
		s2[4], s2[5], s2[6], s2[7] = a2, b2, c2s, d2
	}
}

// finishSub turns the filter state after a full sub-block into its DFT:
// y = s1 - e^{-iw} s2 is the DFT referred to the last sample; multiplying
// by e^{-iw(subLen-1)} refers it to the first.
func finishSub(sb *subBlock, s1, s2 *[8]float64) {
	for k := 0; k < 8; k++ {
		yr := s1[k] - stepRe[k]*s2[k]
		yi := -stepIm[k] * s2[k]
		sb.re[k] = yr*finishRe[k] - yi*finishIm[k]
		sb.im[k] = yr*finishIm[k] + yi*finishRe[k]
	}
}

// hannDFT is the Hann-windowed DFT at tone k of the winLen samples of hist
// starting at ring index start.
func hannDFT(hist *[histLen]float32, start int, k int) (re, im float64) {
	hr, hi := &hannRe[k], &hannIm[k]
	var r0, i0, r1, i1 float32
	n := 0
	for ; n+1 < winLen; n += 2 {
		x0 := hist[(start+n)&(histLen-1)]
		x1 := hist[(start+n+1)&(histLen-1)]
		r0 += x0 * hr[n]
		i0 += x0 * hi[n]
		r1 += x1 * hr[n+1]
		i1 += x1 * hi[n+1]
	}
	return float64(r0 + r1), float64(i0 + i1)
}
