package record

import (
	"slices"
	"testing"
	"time"
)

// ev is one Write at a moment of the fake clock.
type ev struct {
	at   time.Duration
	leg  Leg
	ssrc uint32
	ts   uint32
	pcm  []int16
}

// stream returns frames k in [from, to) of one leg, sent on time: frame k
// arrives at k*20 ms with timestamp ts0+k*160 and carries the ramp for
// timeline position k*160.
func stream(leg Leg, ssrc, ts0 uint32, from, to int) []ev {
	var out []ev
	for k := from; k < to; k++ {
		out = append(out, ev{
			at:   time.Duration(k) * 20 * time.Millisecond,
			leg:  leg,
			ssrc: ssrc,
			ts:   ts0 + uint32(k*frame),
			pcm:  content(leg, int64(k*frame), frame),
		})
	}
	return out
}

// play feeds the events in time order, flushing every few writes as the
// drain timer would, and closes the recorder at end.
func play(t *testing.T, r *Recorder, clk *fakeClock, evs []ev, end time.Duration) {
	t.Helper()
	slices.SortStableFunc(evs, func(a, b ev) int { return int(a.at - b.at) })
	start := r.Start()
	for i, e := range evs {
		clk.Set(start, e.at)
		if err := r.Write(e.leg, e.ssrc, e.ts, e.pcm); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		if i%8 == 7 {
			if err := r.Flush(ctx(t)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		}
	}
	clk.Set(start, end)
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestTimeline(t *testing.T) {
	const C, A = LegCustomer, LegAgent
	tests := []struct {
		name  string
		evs   func() []ev
		end   time.Duration
		check func(t *testing.T, l, r []int16, s Stats)
	}{
		{
			name: "aligned",
			evs: func() []ev {
				return append(stream(C, 0x1111, 1000, 0, 100), stream(A, 0x2222, 5_000_000, 0, 100)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 16000, 0)
				checkRange(t, "right", r, A, 0, 16000, 0)
			},
		},
		{
			name: "agent starts late at its wall-clock offset",
			evs: func() []ev {
				return append(stream(C, 1, 0, 0, 100), stream(A, 2, 99, 25, 100)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 16000, 0)
				checkSilent(t, "right", r, 0, 4000)
				checkRange(t, "right", r, A, 4000, 16000, 4000)
			},
		},
		{
			name: "loss is silence of exactly the lost length",
			evs: func() []ev {
				e := append(stream(C, 1, 0, 0, 10), stream(C, 1, 0, 15, 100)...)
				return append(e, stream(A, 2, 0, 0, 100)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 1600, 0)
				checkSilent(t, "left", l, 1600, 2400)
				checkRange(t, "left", l, C, 2400, 16000, 2400)
				checkRange(t, "right", r, A, 0, 16000, 0)
			},
		},
		{
			name: "timestamp wrap",
			evs: func() []ev {
				return append(stream(C, 1, 0xFFFFFFFF-799, 0, 100), stream(A, 2, 0xFFFFFF00, 0, 100)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 16000, 0)
				checkRange(t, "right", r, A, 0, 16000, 0)
				if s.Reanchors != [2]uint64{} || s.Late != [2]uint64{} {
					t.Errorf("stats %+v, want no re-anchor or late frame", s)
				}
			},
		},
		{
			name: "reordering within the window lands in place, beyond it is late",
			evs: func() []ev {
				e := stream(C, 1, 0, 0, 100)
				e[20].at, e[21].at = e[21].at+5*time.Millisecond, e[20].at // 21 before 20
				e[30].at += 250 * time.Millisecond                         // within 300 ms
				e[40].at += 600 * time.Millisecond                         // beyond: late
				return append(e, stream(A, 2, 0, 0, 100)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 6400, 0)
				checkSilent(t, "left", l, 6400, 6560)
				checkRange(t, "left", l, C, 6560, 16000, 6560)
				checkRange(t, "right", r, A, 0, 16000, 0)
				if s.Late[C] != 1 {
					t.Errorf("late customer frames %d, want 1", s.Late[C])
				}
			},
		},
		{
			name: "SSRC change re-anchors by wall clock",
			evs: func() []ev {
				e := append(stream(C, 1, 0, 0, 50), stream(C, 0x9999, 0x80000000, 50, 100)...)
				return append(e, stream(A, 2, 0, 0, 100)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 16000, 0)
				checkRange(t, "right", r, A, 0, 16000, 0)
				if s.Reanchors[C] != 1 {
					t.Errorf("customer re-anchors %d, want 1", s.Reanchors[C])
				}
			},
		},
		{
			name: "timestamp jump forward re-anchors",
			evs: func() []ev {
				e := append(stream(C, 1, 0, 0, 50), stream(C, 1, 80000, 50, 100)...)
				return append(e, stream(A, 2, 0, 0, 100)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 16000, 0)
				if s.Reanchors[C] != 1 {
					t.Errorf("customer re-anchors %d, want 1", s.Reanchors[C])
				}
			},
		},
		{
			name: "sender resumes with a stalled clock: re-anchored, gap is silence",
			evs: func() []ev {
				// Frames 50.. are sent from 2.5 s on but keep counting
				// from where they stopped at 1 s.
				e := stream(C, 1, 0, 0, 50)
				for k := 125; k < 150; k++ {
					e = append(e, ev{
						at: time.Duration(k) * 20 * time.Millisecond, leg: C, ssrc: 1,
						ts: uint32((50 + k - 125) * frame), pcm: content(C, int64(k*frame), frame),
					})
				}
				return append(e, stream(A, 2, 0, 0, 150)...)
			},
			end: 3 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 8000, 0)
				checkSilent(t, "left", l, 8000, 20000)
				checkRange(t, "left", l, C, 20000, 24000, 20000)
				checkRange(t, "right", r, A, 0, 24000, 0)
				if s.Reanchors[C] != 1 {
					t.Errorf("customer re-anchors %d, want 1", s.Reanchors[C])
				}
			},
		},
		{
			name: "sender clock 1% slow: drift corrected, nothing lost",
			evs: func() []ev {
				e := stream(C, 1, 0, 0, 2950)
				for k := range e {
					e[k].at = time.Duration(k) * 20200 * time.Microsecond
				}
				return append(e, stream(A, 2, 0, 0, 3000)...)
			},
			end: 60 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				if s.Late[C] != 0 || s.Reanchors[C] != 0 || s.Drift[C] == 0 {
					t.Errorf("late %d re-anchors %d drift corrections %d; want 0, 0, some", s.Late[C], s.Reanchors[C], s.Drift[C])
				}
				if n := nonzero(l); n != 2950*frame {
					t.Errorf("%d customer samples in the file, want all %d sent", n, 2950*frame)
				}
				checkRange(t, "right", r, A, 0, 480000, 0)
			},
		},
		{
			name: "sender clock 1% fast: drift corrected without a re-anchor",
			evs: func() []ev {
				e := stream(C, 1, 0, 0, 3000)
				for k := range e {
					e[k].at = time.Duration(k) * 19800 * time.Microsecond
				}
				return append(e, stream(A, 2, 0, 0, 3000)...)
			},
			end: 60 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				if s.Late[C] != 0 || s.Reanchors[C] != 0 || s.Drift[C] == 0 {
					t.Errorf("late %d re-anchors %d drift corrections %d; want 0, 0, some", s.Late[C], s.Reanchors[C], s.Drift[C])
				}
				// 60 s of audio sent in 59.4 s of wall clock: a wall-clock
				// timeline holds 1% less; corrections overlap that much.
				if n := nonzero(l); n < 3000*frame*99/100-2*frame {
					t.Errorf("%d customer samples in the file, want all but 1%% of %d sent", n, 3000*frame)
				}
			},
		},
		{
			name: "a 600 ms network stall is not drift",
			evs: func() []ev {
				e := stream(C, 1, 0, 0, 300)
				for k := 100; k < 130; k++ {
					e[k].at = 130 * 20 * time.Millisecond
				}
				return append(e, stream(A, 2, 0, 0, 300)...)
			},
			end: 6 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				if s.Drift[C] != 0 || s.Reanchors[C] != 0 {
					t.Errorf("drift corrections %d re-anchors %d, want none", s.Drift[C], s.Reanchors[C])
				}
				// Frames more than the 300 ms window late are lost; the rest
				// land in place and the timeline holds.
				if s.Late[C] == 0 || s.Late[C] > 16 {
					t.Errorf("late %d, want the frames delayed beyond the window (about 15)", s.Late[C])
				}
				checkRange(t, "left", l, C, 0, 16000, 0)
				checkRange(t, "left", l, C, 130*frame, 48000, 130*frame)
				checkRange(t, "right", r, A, 0, 48000, 0)
			},
		},
		{
			name: "remote stops: silence while the other leg goes on",
			evs: func() []ev {
				return append(stream(C, 1, 0, 0, 100), stream(A, 2, 0, 0, 25)...)
			},
			end: 2 * time.Second,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 16000, 0)
				checkRange(t, "right", r, A, 0, 4000, 0)
				checkSilent(t, "right", r, 4000, 16000)
			},
		},
		{
			name: "60 ms frames span several slots",
			evs: func() []ev {
				var e []ev
				for k := 0; k < 33; k++ {
					e = append(e, ev{at: time.Duration(k) * 60 * time.Millisecond, leg: C, ssrc: 1,
						ts: uint32(k * 480), pcm: content(C, int64(k*480), 480)})
				}
				return append(e, stream(A, 2, 0, 0, 99)...)
			},
			end: 1980 * time.Millisecond,
			check: func(t *testing.T, l, r []int16, s Stats) {
				checkRange(t, "left", l, C, 0, 15840, 0)
				checkRange(t, "right", r, A, 0, 15840, 0)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, clk, dir := testRec(t)
			play(t, r, clk, tc.evs(), tc.end)
			l, rt := decode(t, wavPath(dir))
			if want := int(tc.end / sampleDur); len(l) != want {
				t.Fatalf("file has %d frames, want %d", len(l), want)
			}
			tc.check(t, l, rt, r.Stats())
			sc, err := ReadSidecar(jsonPath(dir))
			if err != nil {
				t.Fatal(err)
			}
			if sc.Status != StatusComplete || sc.FileSamples != int64(len(l)) || sc.DurationSamples != int64(len(l)) {
				t.Errorf("sidecar status %s file %d duration %d, want complete %d", sc.Status, sc.FileSamples, sc.DurationSamples, len(l))
			}
		})
	}
}

func nonzero(s []int16) int {
	n := 0
	for _, v := range s {
		if v != 0 {
			n++
		}
	}
	return n
}

// TestTimelinePartlyLate: a frame whose first samples were already flushed when it
// arrived (the sender, or hush, stalled past the jitter window) keeps the rest in place,
// leaves silence of exactly the flushed part, and counts as late: every hole the
// recording gets from lateness is counted.
func TestTimelinePartlyLate(t *testing.T) {
	const window = 2400
	tl := newTimeline(window, 8000)
	for k := range int64(10) {
		tl.place(0, 1, uint32(k*frame), k*frame, content(LegCustomer, k*frame, frame))
	}
	// Frame 10 covers 1600..1760; it arrives when the timeline is flushed to 1620.
	tl.flushTo(1620)
	tl.place(0, 1, 10*frame, 1620+window, content(LegCustomer, 10*frame, frame))
	tl.flushTo(1760)
	left := make([]int16, len(tl.out)/frameBytes)
	for i := range left {
		left[i] = int16(uint16(tl.out[i*frameBytes]) | uint16(tl.out[i*frameBytes+1])<<8)
	}
	checkRange(t, "left", left, LegCustomer, 0, 1600, 0)
	checkSilent(t, "left", left, 1600, 1620)
	checkRange(t, "left", left, LegCustomer, 1620, 1760, 1620)
	if got := tl.counts[0].late; got != 1 {
		t.Errorf("late frames %d, want 1 (the partly late one)", got)
	}
	// A frame wholly before the flushed timeline is late as well.
	tl.place(0, 1, 10*frame, 1760+window, content(LegCustomer, 10*frame, frame))
	if got := tl.counts[0].late; got != 2 {
		t.Errorf("late frames %d, want 2", got)
	}
}

// TestTimelineDiskPatchesCoalesce: a run of frames handed over after their place reached
// the file (both legs, interleaved, as a stalled relay hands them over) becomes one disk
// patch per leg, holding the run's audio in order.
func TestTimelineDiskPatchesCoalesce(t *testing.T) {
	tl := newTimeline(2400, 8000)
	for k := range int64(10) {
		for leg := range NumChannels {
			tl.place(leg, uint32(leg+1), uint32(k*frame), k*frame, content(Leg(leg), k*frame, frame))
		}
	}
	tl.flushTo(20 * frame)
	tl.out = tl.out[:0] // written to the file
	for k := int64(10); k < 20; k++ {
		for leg := range NumChannels {
			tl.place(leg, uint32(leg+1), uint32(k*frame), k*frame, content(Leg(leg), k*frame, frame))
		}
	}
	if len(tl.patches) != NumChannels {
		t.Fatalf("%d disk patches, want one per leg: %+v", len(tl.patches), tl.patches)
	}
	for _, p := range tl.patches {
		if p.at != 10*frame || p.n != 10*frame {
			t.Errorf("leg %d: patch at %d of %d frames, want at %d of %d", p.leg, p.at, p.n, 10*frame, 10*frame)
		}
		checkRange(t, "patch", tl.patchPCM[p.leg][p.off:p.off+int64(p.n)], Leg(p.leg), 0, int64(p.n), 10*frame)
	}
}
