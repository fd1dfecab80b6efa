#include "textflag.h"

// func hannHarmSSE(x *[winLen + subLen]int16, lo, hi *[winLen][2]float32, harm *[winLen][4]float32, prev bool, out *[12]float32)
//
// The frequency check's sums in one pass over the window and the sub-block
// before it: lane by lane the multiplies and adds of hannRun (for the
// window, X0, and for the window a sub-block earlier, X1) and of harmRun
// (X2, whose table holds zeros in the lanes a sample does not add to), in
// sample order, in float32, never fused, so every lane sums exactly as the
// scalar loops do. The three sums are independent chains: run side by
// side they take about the time of one.
TEXT ·hannHarmSSE(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ lo+8(FP), AX
	MOVQ hi+16(FP), BX
	MOVQ harm+24(FP), DX
	MOVBLZX prev+32(FP), R11
	MOVQ out+40(FP), DI
	XORPS X0, X0
	XORPS X1, X1
	XORPS X2, X2
	MOVQ DX, R8
	TESTQ R11, R11
	JZ    curOnly

	// samples 0..39: the earlier window only (its table rows 0..39)
	XORQ CX, CX
prevHead:
	MOVWLSX (SI)(CX*2), R10
	XORPS X3, X3
	CVTSL2SS R10, X3
	SHUFPS $0, X3, X3
	MOVQ (AX)(CX*8), X4
	MOVHPS (BX)(CX*8), X4
	MULPS X3, X4
	ADDPS X4, X1
	INCQ CX
	CMPQ CX, $40
	JLT  prevHead

	// samples 40..119: both windows (rows n = t-40 and t) and the harmonic
	XORQ CX, CX
both:
	MOVWLSX 80(SI)(CX*2), R10
	XORPS X3, X3
	CVTSL2SS R10, X3
	SHUFPS $0, X3, X3
	MOVQ (AX)(CX*8), X4
	MOVHPS (BX)(CX*8), X4
	MULPS X3, X4
	ADDPS X4, X0
	MOVQ 320(AX)(CX*8), X5
	MOVHPS 320(BX)(CX*8), X5
	MULPS X3, X5
	ADDPS X5, X1
	MOVUPS (R8), X6
	MULPS X3, X6
	ADDPS X6, X2
	ADDQ $16, R8
	INCQ CX
	CMPQ CX, $80
	JLT  both
	JMP  tail

curOnly:
	XORQ CX, CX

	// samples 40..159 (from where the window's rows stand): the window and
	// the harmonic
tail:
	MOVWLSX 80(SI)(CX*2), R10
	XORPS X3, X3
	CVTSL2SS R10, X3
	SHUFPS $0, X3, X3
	MOVQ (AX)(CX*8), X4
	MOVHPS (BX)(CX*8), X4
	MULPS X3, X4
	ADDPS X4, X0
	MOVUPS (R8), X6
	MULPS X3, X6
	ADDPS X6, X2
	ADDQ $16, R8
	INCQ CX
	CMPQ CX, $120
	JLT  tail

	MOVUPS X0, 0(DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	RET
