//go:build !amd64

package dtmf

func initHannTables() {}

// hannHarm returns the window at start's Hann DFTs at tones lo and hi, the
// same for the window a sub-block earlier when prev (else zeros), and the
// power at twice hi's frequency.
func hannHarm(hist *[histLen]int16, start int64, lo, hi int, prev bool) (cur, before [4]float64, harm float64) {
	cur[0], cur[1], cur[2], cur[3] = hannDFT2(hist, start, lo, hi)
	if prev {
		before[0], before[1], before[2], before[3] = hannDFT2(hist, start-subLen, lo, hi)
	}
	return cur, before, harmPower(hist, start, hi)
}
