package record

import (
	"errors"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
)

// A G.711 frame longer than a slot is split, its silent flags with it, and
// the writer gets exactly the PCM the codes decode to with the flagged
// samples zeroed: for A-law, where no code decodes to zero, too.
func TestRingG711Split(t *testing.T) {
	for _, law := range []g711.Law{g711.Ulaw, g711.Alaw} {
		q := newRing(8)
		codes := make([]byte, 400)
		silent := make([]bool, len(codes))
		for i := range codes {
			codes[i] = byte(i*7 + 3)
			silent[i] = i >= 150 && i < 170 || i == 399 // across the first slot boundary, and the last sample
		}
		if !q.pushG711(9, 500, 40, law, codes, silent) {
			t.Fatal("push refused")
		}
		if q.used() != 3 {
			t.Fatalf("%v: used %d, want 3", law, q.used())
		}
		var scratch [slotSamples]int16
		var got []int16
		for i := range 3 {
			s := q.peek()
			if s.ts != 500+uint32(i*slotSamples) || s.arrival != 40+int64(i*slotSamples) || s.ssrc != 9 {
				t.Fatalf("%v slot %d: ts %d arrival %d ssrc %d", law, i, s.ts, s.arrival, s.ssrc)
			}
			got = append(got, s.samples(&scratch)...)
			q.release()
		}
		if len(got) != len(codes) {
			t.Fatalf("%v: %d samples, want %d", law, len(got), len(codes))
		}
		for i, c := range codes {
			want := int16(0)
			if !silent[i] {
				want = g711.AlawToLinear(c)
				if law == g711.Ulaw {
					want = g711.UlawToLinear(c)
				}
			}
			if got[i] != want {
				t.Fatalf("%v sample %d: %d, want %d", law, i, got[i], want)
			}
		}
	}
	// A slot reused for PCM after G.711 (and the other way) is read as what was written last.
	q := newRing(2)
	q.pushG711(1, 0, 0, g711.Ulaw, []byte{0x00}, []bool{true})
	q.release()
	q.push(1, 0, 0, []int16{77})
	q.release()
	q.pushG711(1, 0, 0, g711.Ulaw, []byte{0x80}, nil)
	var scratch [slotSamples]int16
	if s := q.peek().samples(&scratch); len(s) != 1 || s[0] != g711.UlawToLinear(0x80) {
		t.Fatalf("reused slot read %v", s)
	}
	q.release()
	q.push(1, 0, 0, []int16{77})
	if s := q.peek().samples(&scratch); len(s) != 1 || s[0] != 77 {
		t.Fatalf("reused slot read %v", s)
	}
}

// End to end: WriteG711 records what Write records for the same audio.
func TestWriteG711MatchesWrite(t *testing.T) {
	for _, law := range []g711.Law{g711.Ulaw, g711.Alaw} {
		var wavs [2][2][]int16
		for v, useG711 := range []bool{false, true} {
			r, clk, dir := testRec(t)
			start := r.Start()
			codes := make([]byte, frame)
			silent := make([]bool, frame)
			pcm := make([]int16, frame)
			for k := range 100 {
				for i := range codes {
					codes[i] = byte(k*frame + i)
					silent[i] = k%10 == 3 && i >= 40 // a masked stretch every 200 ms
				}
				law.Decode(pcm, codes)
				for i, s := range silent {
					if s {
						pcm[i] = 0
					}
				}
				clk.Set(start, time.Duration(k)*20*time.Millisecond)
				for _, leg := range []Leg{LegCustomer, LegAgent} {
					var err error
					if useG711 {
						err = r.WriteG711(leg, uint32(leg)+1, uint32(k*frame), law, codes, silent)
					} else {
						err = r.Write(leg, uint32(leg)+1, uint32(k*frame), pcm)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			clk.Set(start, 3*time.Second)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			wavs[v][0], wavs[v][1] = decode(t, wavPath(dir))
		}
		for ch := range 2 {
			a, b := wavs[0][ch], wavs[1][ch]
			if len(a) != len(b) || len(a) < 100*frame {
				t.Fatalf("%v channel %d: %d vs %d samples", law, ch, len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%v channel %d sample %d: Write %d, WriteG711 %d", law, ch, i, a[i], b[i])
				}
			}
			if nonzero(a) < 90*frame {
				t.Fatalf("%v channel %d: only %d samples of audio", law, ch, nonzero(a))
			}
		}
	}
}

func TestWriteG711Errors(t *testing.T) {
	r, _, _ := testRec(t)
	if err := r.WriteG711(LegCustomer, 1, 0, 0, []byte{1}, nil); !errors.Is(err, ErrBadLaw) {
		t.Errorf("law 0: %v, want ErrBadLaw", err)
	}
	if err := r.WriteG711(Leg(2), 1, 0, g711.Ulaw, []byte{1}, nil); !errors.Is(err, ErrBadLeg) {
		t.Errorf("leg 2: %v, want ErrBadLeg", err)
	}
	if err := r.WriteG711(LegCustomer, 1, 0, g711.Ulaw, nil, nil); err != nil {
		t.Errorf("empty frame: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteG711(LegCustomer, 1, 0, g711.Ulaw, []byte{1}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
