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

// goertzel runs the eight filters over one sub-block's samples from a zero
// state, leaving s[n-1] in s1 and s[n-2] in s2.
func goertzel(samples []int16, s1, s2 *[8]float64) {
	if haveGoertzelAVX2 {
		goertzelAVX2(samples, &goertzelCoef, s1, s2)
		return
	}
	goertzelGo(samples, s1, s2)
}
