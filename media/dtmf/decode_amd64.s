#include "textflag.h"

// func decodeSquaresSSE(dst *int16, src *byte, n int, p *lawConsts) int64
//
// G.711 codes to linear samples, eight at a time, by the bit rules the
// decoding tables are built from (TestDecodeSquaresSSE compares every code):
// a = code^xor; seg = a>>4&7; mant = a&15; magnitude
// ((2*mant+add[seg])*pow[seg] - sub) << shift, negated where bit 7 of a,
// xor inv, is set. It stores the samples at dst and returns the sum of
// their squares (PMADDWL pairs, then 64-bit sums: exact). n is a multiple
// of 8.
TEXT ·decodeSquaresSSE(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ p+24(FP), AX
	MOVOU 0(AX), X8    // xor
	MOVOU 16(AX), X9   // 7
	MOVOU 32(AX), X10  // 15
	MOVOU 48(AX), X11  // 0x8000
	MOVOU 64(AX), X12  // add table
	MOVOU 80(AX), X13  // pow table
	MOVOU 96(AX), X14  // sub
	MOVOU 112(AX), X15 // shift count (low 64 bits)
	MOVOU 128(AX), X7  // inv
	PXOR X5, X5        // sums, 2 x int64
	PXOR X6, X6
	SHRQ $3, CX
	JZ   done

loop:
	PMOVZXBW (SI), X0  // codes
	PXOR X8, X0        // a
	MOVOU X0, X1
	PSRLW $4, X1
	PAND X9, X1        // seg
	POR X11, X1        // seg | 0x8000: table lookups leave the high bytes 0
	MOVOU X12, X2
	PSHUFB X1, X2      // add[seg]
	MOVOU X13, X3
	PSHUFB X1, X3      // pow[seg]
	MOVOU X0, X4
	PAND X10, X4       // mant
	PSLLW $1, X4
	PADDW X2, X4       // 2*mant + add
	PMULLW X3, X4      // * pow
	PSUBW X14, X4      // - sub
	PSLLW X15, X4      // << shift: magnitude
	PSLLW $8, X0
	PSRAW $15, X0      // bit 7 of a, all ones where set
	PXOR X7, X0        // where negative
	PXOR X0, X4
	PSUBW X0, X4       // sample
	MOVOU X4, (DI)
	PMADDWL X4, X4     // four sums of two squares, each < 2^31
	PMOVZXDQ X4, X1
	PADDQ X1, X5
	PSHUFD $0xEE, X4, X4
	PMOVZXDQ X4, X1
	PADDQ X1, X6
	ADDQ $8, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  loop

done:
	PADDQ X6, X5
	MOVQ X5, AX
	PSHUFD $0xEE, X5, X5
	MOVQ X5, BX
	ADDQ BX, AX
	MOVQ AX, ret+32(FP)
	RET
