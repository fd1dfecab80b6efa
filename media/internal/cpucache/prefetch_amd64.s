#include "textflag.h"

// func Prefetch(p unsafe.Pointer)
TEXT ·Prefetch(SB), NOSPLIT|NOFRAME, $0-8
	CMPB ·tracing(SB), $0
	JNE  trace
	MOVQ p+0(FP), AX
	PREFETCHT0 (AX)
	RET
trace:
	JMP ·tracePrefetch(SB) // same arguments: a tail call

// func PrefetchRange(p unsafe.Pointer, n uintptr)
TEXT ·PrefetchRange(SB), NOSPLIT|NOFRAME, $0-16
	CMPB ·tracing(SB), $0
	JNE  trace
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JZ   done
	ADDQ AX, CX         // end of the range
	ANDQ $~63, AX       // from the start of p's line
loop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JB   loop
done:
	RET
trace:
	JMP ·tracePrefetchRange(SB)
