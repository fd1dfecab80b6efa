package dtmf

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// decodeSquaresLaw stores what the decoding tables give and returns the
// exact sum of squares, for every code of both laws, at every length and
// alignment, with the vector path on and off.
func TestDecodeSquaresLaw(t *testing.T) {
	defer func(v bool) { haveDecodeSSE = v }(haveDecodeSSE)
	r := rand.New(rand.NewPCG(8, 8))
	laws := []struct {
		tab *[256]int16
		c   *lawConsts
	}{{&ulawTable, &ulawConsts}, {&alawTable, &alawConsts}}
	for _, l := range laws {
		// every code, in order and shuffled
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		inputs := [][]byte{all}
		for range 200 {
			n := r.IntN(90)
			codes := make([]byte, n)
			for i := range codes {
				codes[i] = byte(r.IntN(256))
				if r.IntN(3) == 0 { // the loudest codes, where sums are largest
					codes[i] = byte(r.IntN(2)*0x80) | byte(r.IntN(4))
				}
			}
			inputs = append(inputs, codes)
		}
		for _, codes := range inputs {
			want := make([]int16, len(codes))
			var wantE int64
			for i, c := range codes {
				want[i] = l.tab[c]
				wantE += int64(want[i]) * int64(want[i])
			}
			for _, sse := range []bool{false, true} {
				haveDecodeSSE = sse && decodeSSEAvailable
				got := make([]int16, len(codes))
				e := decodeSquaresLaw(got, codes, l.tab, l.c)
				if !slices.Equal(got, want) || e != wantE {
					t.Fatalf("sse %v, %d codes: energy %d, want %d; samples equal %v", sse, len(codes), e, wantE, slices.Equal(got, want))
				}
			}
		}
	}
}
