package dtmf

// hannHarmSSE computes the window's Hann DFTs at two tones, optionally the
// same for the window a sub-block earlier, and the Hann DFT at twice the
// high tone, in one pass (hann_amd64.s). out holds the window's four sums
// (hannRun's a, b, c, e), the earlier window's and harmRun's.
//
//go:noescape
func hannHarmSSE(x *[winLen + subLen]int16, lo, hi *[winLen][2]float32, harm *[winLen][4]float32, prev bool, out *[12]float32)

// hannPair[k][n] and harmQuad[k][n] are hannRe/hannIm and harmRe/harmIm
// laid out for hannHarmSSE: a tone's two values side by side, and the
// harmonic's in the lanes of harmRun's even (0, 1) or odd (2, 3) sums, the
// other two zero.
var (
	hannPair [8][winLen][2]float32
	harmQuad [8][winLen][4]float32
)

// initHannTables fills them, once goertzel.go's init has made the tables
// they copy.
func initHannTables() {
	for k := range hannPair {
		for n := range winLen {
			hannPair[k][n] = [2]float32{hannRe[k][n], hannIm[k][n]}
			lane := 2 * (n % 2)
			harmQuad[k][n][lane], harmQuad[k][n][lane+1] = harmRe[k][n], harmIm[k][n]
		}
	}
}

// hannHarm returns the window at start's Hann DFTs at tones lo and hi, the
// same for the window a sub-block earlier when prev (else zeros), and the
// power at twice hi's frequency (harmPower): the values hannDFT2 and
// harmPower give, bit for bit.
func hannHarm(hist *[histLen]int16, start int64, lo, hi int, prev bool) (cur, before [4]float64, harm float64) {
	// The earlier window's first sub-block, then the window, in one run:
	// where the ring does not wrap, in place.
	h := int((start - subLen) % histLen)
	var x *[winLen + subLen]int16
	var buf [winLen + subLen]int16
	if h+len(buf) <= histLen {
		x = (*[winLen + subLen]int16)(hist[h:])
	} else {
		n := copy(buf[:], hist[h:])
		copy(buf[n:], hist[:])
		x = &buf
	}
	var out [12]float32
	hannHarmSSE(x, &hannPair[lo], &hannPair[hi], &harmQuad[hi], prev, &out)
	for i := range 4 {
		cur[i], before[i] = float64(out[i]), float64(out[4+i])
	}
	re, im := float64(out[8]+out[10]), float64(out[9]+out[11])
	return cur, before, (re*re + im*im) * hannGain
}
