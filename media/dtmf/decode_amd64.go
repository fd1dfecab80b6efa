package dtmf

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// lawConsts are one G.711 law's constants for decodeSquaresSSE.
type lawConsts struct {
	xor, seven, fifteen, hi [8]uint16
	add, pow                [16]byte
	sub                     [8]uint16
	shift                   [2]uint64
	inv                     [8]uint16
}

func fill8(v uint16) (a [8]uint16) {
	for i := range a {
		a[i] = v
	}
	return a
}

// The laws' bit rules (package g711's UlawToLinearRef, AlawToLinearRef): mu-law
// ((2m+33)<<seg - 33) << 2, negative with bit 7 (after inverting the code);
// A-law (2m+1) or (2m+33)<<(seg-1), << 3, positive with bit 7 (after xor 0x55).
var ulawConsts, alawConsts = lawConsts{
	xor: fill8(0xFF), seven: fill8(7), fifteen: fill8(15), hi: fill8(0x8000),
	add:   [16]byte{33, 33, 33, 33, 33, 33, 33, 33},
	pow:   [16]byte{1, 2, 4, 8, 16, 32, 64, 128},
	sub:   fill8(33),
	shift: [2]uint64{2},
}, lawConsts{
	xor: fill8(0x55), seven: fill8(7), fifteen: fill8(15), hi: fill8(0x8000),
	add:   [16]byte{1, 33, 33, 33, 33, 33, 33, 33},
	pow:   [16]byte{1, 1, 2, 4, 8, 16, 32, 64},
	shift: [2]uint64{3},
	inv:   fill8(0xFFFF),
}

// haveDecodeSSE: decodeSquaresSSE needs SSE4.1 (PMOVZXBW, PMOVZXDQ) and
// SSSE3 (PSHUFB).
var haveDecodeSSE = decodeSSEAvailable

var decodeSSEAvailable = cpu.X86.HasSSE41 && cpu.X86.HasSSSE3

//go:noescape
func decodeSquaresSSE(dst *int16, src *byte, n int, p *lawConsts) int64

// decodeSquaresLaw is decodeSquares for law's table tab and constants c:
// eight codes at a time where the processor can.
func decodeSquaresLaw(hist []int16, codes []byte, tab *[256]int16, c *lawConsts) int64 {
	codes = codes[:len(hist)]
	n := len(hist) &^ 7
	if !haveDecodeSSE || n == 0 {
		return decodeSquares(hist, codes, tab)
	}
	e := decodeSquaresSSE(unsafe.SliceData(hist), unsafe.SliceData(codes), n, c)
	return e + decodeSquares(hist[n:], codes[n:], tab)
}
