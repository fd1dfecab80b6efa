package dtmf

import "golang.org/x/sys/cpu"

// Under load the sub-block filters are the detector's largest cost: a
// window that passes the energy gate needs eight filters over each of its
// sub-blocks, a multiply-add chain per filter and sample. With AVX2 and FMA
// all eight run as two four-lane chains, so a sub-block takes about a
// third of the scalar loop's time. Results differ from goertzelGo only by
// the fused multiply-add's rounding (tested).
var haveGoertzelAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// goertzelAVX2 is goertzelGo for AVX2+FMA processors (goertzel_amd64.s).
//
//go:noescape
func goertzelAVX2(samples []int16, coef, s1, s2 *[8]float64)

// goertzelSubAVX2 is goertzelAVX2 and finishSub in one pass
// (goertzel_amd64.s): the states go from registers straight to the DFT.
//
//go:noescape
func goertzelSubAVX2(samples []int16, c *subConsts, re, im *[8]float32)

// subDFTOf computes sb's DFTs from one sub-block's samples.
func subDFTOf(samples []int16, sb *subBlock) {
	if haveGoertzelAVX2 {
		goertzelSubAVX2(samples, &subConstTab, &sb.re, &sb.im)
		return
	}
	var s1, s2 [8]float64
	goertzelGo(samples, &s1, &s2)
	finishSub(sb, &s1, &s2)
}
