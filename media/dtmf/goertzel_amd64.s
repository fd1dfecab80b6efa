#include "textflag.h"

// func goertzelAVX2(samples []int16, coef, s1, s2 *[8]float64)
//
// The eight Goertzel filters from a zero state: Y0/Y1 hold 2cos(w) of the
// low and high groups, P (Y2/Y3) and Q (Y4/Y5) the two state registers.
// Each sample computes s[n] = c*s[n-1] - s[n-2] + x into the register that
// held s[n-2], so the two swap roles every sample: the loop body is two
// samples, one into P and one into Q, and the sample count decides which
// register holds s[n-1] at the end.
TEXT ·goertzelAVX2(SB), NOSPLIT, $0-48
	MOVQ samples_base+0(FP), SI
	MOVQ samples_len+8(FP), CX
	MOVQ coef+24(FP), AX
	MOVQ s1+32(FP), DI
	MOVQ s2+40(FP), BX
	VMOVUPD 0(AX), Y0
	VMOVUPD 32(AX), Y1
	VXORPD Y2, Y2, Y2 // P: s[n-2]
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4 // Q: s[n-1]
	VXORPD Y5, Y5, Y5
	TESTQ CX, CX
	JZ    lastInQ

loop:
	// P = c*Q + (x - P): P now holds s[n], Q s[n-1].
	MOVWLSX 0(SI), R8
	VCVTSI2SDL R8, X6, X6
	VBROADCASTSD X6, Y6
	VSUBPD Y2, Y6, Y2
	VSUBPD Y3, Y6, Y3
	VFMADD231PD Y4, Y0, Y2
	VFMADD231PD Y5, Y1, Y3
	DECQ CX
	JZ   lastInP
	// Q = c*P + (x' - Q): Q holds s[n+1], P s[n].
	MOVWLSX 2(SI), R9
	VCVTSI2SDL R9, X7, X7
	VBROADCASTSD X7, Y7
	VSUBPD Y4, Y7, Y4
	VSUBPD Y5, Y7, Y5
	VFMADD231PD Y2, Y0, Y4
	VFMADD231PD Y3, Y1, Y5
	ADDQ $4, SI
	DECQ CX
	JNZ  loop

lastInQ:
	VMOVUPD Y4, 0(DI)
	VMOVUPD Y5, 32(DI)
	VMOVUPD Y2, 0(BX)
	VMOVUPD Y3, 32(BX)
	VZEROUPPER
	RET

lastInP:
	VMOVUPD Y2, 0(DI)
	VMOVUPD Y3, 32(DI)
	VMOVUPD Y4, 0(BX)
	VMOVUPD Y5, 32(BX)
	VZEROUPPER
	RET

// func goertzelSubAVX2(samples []int16, c *subConsts, re, im *[8]float32)
//
// goertzelAVX2 with finishSub after it, on the states still in registers:
// the same multiplies and adds in the same order as finishSub (no fused
// multiply-add there), and VCVTPD2PS rounds to float32 as the conversion
// in Go does. c holds coef, stepRe, -stepIm, finishRe and finishIm, eight
// each.
TEXT ·goertzelSubAVX2(SB), NOSPLIT, $0-48
	MOVQ samples_base+0(FP), SI
	MOVQ samples_len+8(FP), CX
	MOVQ c+24(FP), AX
	MOVQ re+32(FP), DI
	MOVQ im+40(FP), BX
	VMOVUPD 0(AX), Y0
	VMOVUPD 32(AX), Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	TESTQ CX, CX
	JZ    subLastInQ

subLoop:
	MOVWLSX 0(SI), R8
	VCVTSI2SDL R8, X6, X6
	VBROADCASTSD X6, Y6
	VSUBPD Y2, Y6, Y2
	VSUBPD Y3, Y6, Y3
	VFMADD231PD Y4, Y0, Y2
	VFMADD231PD Y5, Y1, Y3
	DECQ CX
	JZ   subLastInP
	MOVWLSX 2(SI), R9
	VCVTSI2SDL R9, X7, X7
	VBROADCASTSD X7, Y7
	VSUBPD Y4, Y7, Y4
	VSUBPD Y5, Y7, Y5
	VFMADD231PD Y2, Y0, Y4
	VFMADD231PD Y3, Y1, Y5
	ADDQ $4, SI
	DECQ CX
	JNZ  subLoop

subLastInQ:
	// s1 = Q (Y4/Y5), s2 = P (Y2/Y3)
	VMOVAPD Y4, Y8
	VMOVAPD Y5, Y9
	VMOVAPD Y2, Y10
	VMOVAPD Y3, Y11
	JMP subFinish

subLastInP:
	VMOVAPD Y2, Y8
	VMOVAPD Y3, Y9
	VMOVAPD Y4, Y10
	VMOVAPD Y5, Y11

subFinish:
	// low four: s1 Y8, s2 Y10
	VMULPD 64(AX), Y10, Y12  // stepRe*s2
	VSUBPD Y12, Y8, Y12      // yr = s1 - stepRe*s2
	VMULPD 128(AX), Y10, Y13 // yi = -stepIm*s2
	VMULPD 192(AX), Y12, Y14 // yr*finishRe
	VMULPD 256(AX), Y13, Y15 // yi*finishIm
	VSUBPD Y15, Y14, Y14     // re = yr*finishRe - yi*finishIm
	VMULPD 256(AX), Y12, Y15 // yr*finishIm
	VMULPD 192(AX), Y13, Y12 // yi*finishRe
	VADDPD Y12, Y15, Y15     // im = yr*finishIm + yi*finishRe
	VCVTPD2PSY Y14, X14
	VCVTPD2PSY Y15, X15
	VMOVUPS X14, 0(DI)
	VMOVUPS X15, 0(BX)
	// high four: s1 Y9, s2 Y11
	VMULPD 96(AX), Y11, Y12
	VSUBPD Y12, Y9, Y12
	VMULPD 160(AX), Y11, Y13
	VMULPD 224(AX), Y12, Y14
	VMULPD 288(AX), Y13, Y15
	VSUBPD Y15, Y14, Y14
	VMULPD 288(AX), Y12, Y15
	VMULPD 224(AX), Y13, Y12
	VADDPD Y12, Y15, Y15
	VCVTPD2PSY Y14, X14
	VCVTPD2PSY Y15, X15
	VMOVUPS X14, 16(DI)
	VMOVUPS X15, 16(BX)
	VZEROUPPER
	RET
