package record

import (
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
)

// TestHeldFramesLandInPlace: a tap that decides about a frame only once it has analysed
// what follows keeps the last frames of a talk spurt until the next spurt, or the end of
// the call. Handed over with the time they arrived (WriteG711At), they are recorded where
// they were said, also after their place was flushed to the file, and a skip pause before
// them or a silence pause over them is respected.
func TestHeldFramesLandInPlace(t *testing.T) {
	const spurt = 40 // customer frames 0..39; the tap holds the last 4 (80 ms)
	for _, c := range []struct {
		name    string
		release time.Duration // when the held frames are handed over
		skip    bool          // a skip pause over frames 10..20
		silence bool          // a silence pause over frames 37..38
	}{
		{"next-spurt-buffered", 1200 * time.Millisecond, false, false},
		{"at-close-on-disk", 4 * time.Second, false, false},
		{"after-skip-pause", 4 * time.Second, true, false},
		{"under-silence-pause", 4 * time.Second, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, clk, dir := testRec(t)
			start := r.Start()
			codesOf := func(k int) []byte {
				b := make([]byte, frame)
				for i := range b {
					b[i] = byte(0x80 + k) // decodes to one value per frame, never 0
				}
				return b
			}
			writeCust := func(k int) {
				if err := r.WriteG711At(LegCustomer, 7, uint32(1000+k*frame), start.Add(time.Duration(k)*20*time.Millisecond), g711.Ulaw, codesOf(k), nil); err != nil {
					t.Fatal(err)
				}
			}
			heldFrom := spurt - 4
			released := false
			for k := 0; k < 200; k++ {
				now := time.Duration(k) * 20 * time.Millisecond
				clk.Set(start, now)
				if c.skip && k == 10 {
					r.Pause(PauseSkip, Action{})
				}
				if c.skip && k == 20 {
					r.Resume(Action{})
				}
				if c.silence && k == 37 {
					r.Pause(PauseSilence, Action{})
				}
				if c.silence && k == 39 {
					r.Resume(Action{})
				}
				// The tap hands a frame over 80 ms after it arrived while the spurt goes on.
				if j := k - 4; j >= 0 && j < heldFrom {
					writeCust(j)
				}
				if !released && now >= c.release {
					for j := heldFrom; j < spurt; j++ {
						writeCust(j)
					}
					released = true
				}
				if err := r.Write(LegAgent, 9, uint32(k*frame), content(LegAgent, int64(k*frame), frame)); err != nil {
					t.Fatal(err)
				}
				if k%10 == 9 {
					if err := r.Flush(ctx(t)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !released {
				for j := heldFrom; j < spurt; j++ {
					writeCust(j)
				}
			}
			clk.Set(start, 4*time.Second)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			left, right := decode(t, wavPath(dir))
			st := r.Stats()
			if st.Late[LegCustomer] != 0 {
				t.Errorf("%d customer frames counted late", st.Late[LegCustomer])
			}
			// File position of customer frame k: skipped frames are not in the file.
			var cut int64
			if c.skip {
				cut = 10 * frame
			}
			for k := range spurt {
				from := int64(k * frame)
				if c.skip && k >= 10 && k < 20 {
					continue
				}
				if c.skip && k >= 20 {
					from -= cut
				}
				want := g711.UlawToLinear(byte(0x80 + k))
				if c.silence && (k == 37 || k == 38) {
					want = 0
				}
				for i := from; i < from+frame; i++ {
					if left[i] != want {
						t.Fatalf("customer frame %d: sample %d is %d, want %d", k, i, left[i], want)
					}
				}
			}
			switch {
			case c.skip:
				checkRange(t, "right", right, LegAgent, 10*frame, 20*frame, 20*frame)
			case c.silence:
				checkRange(t, "right", right, LegAgent, 0, 37*frame, 0)
				checkSilent(t, "right", right, 37*frame, 39*frame)
				checkRange(t, "right", right, LegAgent, 39*frame, 100*frame, 39*frame)
			default:
				checkRange(t, "right", right, LegAgent, 0, 100*frame, 0)
			}
		})
	}
}
