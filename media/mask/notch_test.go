package mask

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
)

// TestNotchMemoExact: a notch filter that takes chunks from the other
// filter's memo writes exactly what it would have computed itself, however
// the spans changed between the two passes (a span that ends, one that
// starts reaching back, tones added, a low tone in one pass only), with
// packets of any length and any samples skipped.
func TestNotchMemoExact(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 33))
	for _, law := range []g711.Law{g711.Ulaw, g711.Alaw} {
		var lead, follow, ref notchFilter
		memo := new(notchMemo)
		var pos int64
		spans := []notchSpan{{start: 0, end: math.MaxInt64, tones: dtmf.NotchHigh}}
		for p := range 3000 {
			n := []int{80, 160, 240, 480, 17}[r.IntN(5)]
			codes := make([]byte, n)
			for i := range codes {
				codes[i] = byte(r.Uint32())
			}
			if p%40 == 0 { // now and then, the spans move on
				at := pos + int64(r.IntN(n))
				spans = []notchSpan{{start: at, end: at + int64(r.IntN(3000)), tones: dtmf.NotchHigh | uint8(1)<<r.IntN(4)}}
			}
			// What the other filter sees a little later.
			later := append([]notchSpan(nil), spans...)
			switch r.IntN(8) {
			case 0:
				later[0].end = pos + int64(r.IntN(n+1))
			case 1:
				later = append(later, notchSpan{start: pos - int64(r.IntN(200)), end: math.MaxInt64, tones: uint8(1) << r.IntN(4)})
			case 2:
				later[0].tones |= uint8(1) << r.IntN(8)
			}
			var skip []bool
			if r.IntN(4) == 0 {
				skip = make([]bool, n)
				for i := range skip {
					skip[i] = r.IntN(3) == 0
				}
			}
			a := append([]byte(nil), codes...)
			lead.apply(a, nil, pos, law, spans, memo, true)
			b, want := append([]byte(nil), codes...), append([]byte(nil), codes...)
			nb := follow.apply(b, skip, pos, law, later, memo, false)
			nw := ref.apply(want, skip, pos, law, later, nil, false)
			if nb != nw || !bytes.Equal(b, want) {
				t.Fatalf("%v packet %d (at %d, %d samples): with the memo %d changed, %x; alone %d, %x", law, p, pos, n, nb, b, nw, want)
			}
			if follow.next != ref.next {
				t.Fatalf("%v packet %d: filter positions %v, want %v", law, p, follow.next, ref.next)
			}
			pos += int64(n)
			if r.IntN(50) == 0 {
				pos += int64(r.IntN(400)) // a stretch the forwarded output never saw
			}
		}
	}
}
