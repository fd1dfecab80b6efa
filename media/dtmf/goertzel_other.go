//go:build !amd64

package dtmf

// haveGoertzelAVX2 is false off amd64: goertzelGo is the only path.
var haveGoertzelAVX2 = false

// subDFTOf computes sb's DFTs from one sub-block's samples.
func subDFTOf(samples []int16, sb *subBlock) {
	var s1, s2 [8]float64
	goertzelGo(samples, &s1, &s2)
	finishSub(sb, &s1, &s2)
}
