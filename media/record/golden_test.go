package record

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
)

// goldenWAV pins every byte of the WAV the recorder writes from a fixed
// input, in each plain format: work on the writer's speed must leave them as
// they are. The input: G.711 frames of both laws with silence flags (as the
// masker's tap hands them over, 10 to 60 ms, some split over ring slots),
// PCM frames, jitter, loss, an SSRC change, a timestamp jump, a sender
// clock that drifts, a silence and a skip pause, frames held and handed
// over after their place was written, flushes and a checkpoint.
var goldenWAV = map[Format]string{
	FormatPCM16: "2d376498aa0ac5f72598b980",
	FormatULaw:  "9a4da3850ca2f91a870783a6",
}

func TestRecorderGolden(t *testing.T) {
	for _, f := range []Format{FormatPCM16, FormatULaw} {
		r, clk, dir := testRec(t, WithFormat(f), WithRingSlots(1024))
		start := r.Start()
		rnd := rand.New(rand.NewPCG(23, 2026))
		codes := make([]byte, 480)
		silent := make([]bool, 480)
		pcm := make([]int16, 480)
		var held []func()
		const sec = 50 // frames of 20 ms
		for k := range 40 * sec {
			now := time.Duration(k) * 20 * time.Millisecond
			clk.Set(start, now)
			switch k {
			case 5 * sec:
				r.Pause(PauseSilence, Action{})
			case 7 * sec:
				r.Resume(Action{})
			case 12 * sec:
				r.Pause(PauseSkip, Action{})
			case 13*sec + 10:
				r.Resume(Action{})
			}
			// Customer: mu-law, 20 ms, a new SSRC at 20 s, a timestamp jump at 30 s, loss.
			if k%97 != 13 {
				n := 160
				for i := range codes[:n] {
					codes[i] = byte(rnd.Uint32())
					silent[i] = k%11 == 3 && i > 40 && i < 120 || k%29 == 0
				}
				ssrc, ts := uint32(7), uint32(0xffff0000+k*160)
				if k >= 20*sec {
					ssrc, ts = 8, uint32(5000+k*160)
				}
				if k >= 30*sec {
					ts += 80000
				}
				at := start.Add(now - time.Duration(rnd.IntN(15))*time.Millisecond)
				var sil []bool
				if k%11 == 3 || k%29 == 0 {
					sil = silent[:n]
				}
				c := append([]byte(nil), codes[:n]...)
				var s []bool
				if sil != nil {
					s = append([]bool(nil), sil...)
				}
				w := func() {
					if err := r.WriteG711At(LegCustomer, ssrc, ts, at, g711.Ulaw, c, s); err != nil {
						t.Fatal(err)
					}
				}
				if k%200 == 150 {
					held = append(held, w) // handed over later, after a flush
				} else {
					w()
				}
			}
			// Agent: A-law frames of 10, 30 and 60 ms (the last split over slots), a
			// sender clock 1 % fast; every fifth second PCM through Write.
			if k%3 == 0 {
				n := []int{80, 240, 480}[k/3%3]
				ts := uint32(float64(k*160) * 1.01)
				if k/sec%5 == 4 {
					for i := range pcm[:n] {
						pcm[i] = int16(rnd.IntN(20000) - 10000)
					}
					if err := r.Write(LegAgent, 99, ts, pcm[:n]); err != nil {
						t.Fatal(err)
					}
				} else {
					for i := range codes[:n] {
						codes[i] = byte(rnd.Uint32())
						silent[i] = i%7 == 0
					}
					var sil []bool
					if k%2 == 0 {
						sil = silent[:n]
					}
					if err := r.WriteG711At(LegAgent, 99, ts, start.Add(now), g711.Alaw, codes[:n], sil); err != nil {
						t.Fatal(err)
					}
				}
			}
			if k%sec == sec-1 {
				if err := r.Flush(ctx(t)); err != nil {
					t.Fatal(err)
				}
				if k%200 == 49 { // two seconds on: their place is in the file
					for _, w := range held {
						w()
					}
					held = held[:0]
				}
			}
			if k == 10*sec {
				if err := r.Checkpoint(ctx(t)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(wavPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		h.Write(b)
		st := r.Stats()
		binary.Write(h, binary.LittleEndian, st)
		got := hex.EncodeToString(h.Sum(nil)[:12])
		if got != goldenWAV[f] {
			t.Errorf("%v: digest %q, want %q (%d bytes, stats %+v)", f, got, goldenWAV[f], len(b), st)
		}
	}
}
