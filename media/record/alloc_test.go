package record

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/internal/cpucache/warmtest"
	"github.com/hushmedia/hush/media/mask"
)

func TestWriteAllocatesNothing(t *testing.T) {
	r, clk, _ := testRec(t) // 4096 slots: 2002 writes a leg never reach half
	defer r.Close()
	pcm := content(LegCustomer, 0, frame)
	codes, silent := make([]byte, frame), make([]bool, frame)
	silent[7] = true
	f := &mask.RecordFrame{Law: g711.Ulaw, Codes: codes, Silent: silent}
	var ts uint32
	allocs := testing.AllocsPerRun(1000, func() {
		clk.Advance(20 * time.Millisecond)
		ts += frame
		if err := r.Write(LegCustomer, 1, ts, pcm); err != nil {
			t.Fatal(err)
		}
		if err := r.Write(LegAgent, 2, ts, pcm); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteG711(LegAgent, 3, ts, g711.Alaw, codes, silent); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteG711At(LegCustomer, 4, ts, clk.Now(), g711.Ulaw, codes, nil); err != nil {
			t.Fatal(err)
		}
		r.RecordAudio(LegAgent, 5, ts, clk.Now(), f)
		r.RecordUndecodable(LegAgent, 9)
	})
	if allocs != 0 {
		t.Errorf("Write allocates %.1f times per call, want 0", allocs)
	}
}

func TestWriterStepAllocatesNothing(t *testing.T) {
	// The writer's steady state (place, flush, interleave) reuses its
	// buffers too, so a long call does not churn the heap.
	tl := newTimeline(2400, 8000)
	pcm := content(LegCustomer, 0, frame)
	var pos int64
	allocs := testing.AllocsPerRun(1000, func() {
		tl.place(0, 1, uint32(pos), pos, pcm)
		tl.place(1, 2, uint32(pos), pos, pcm)
		pos += frame
		tl.flushTo(pos - 2400)
		tl.out = tl.out[:0]
	})
	if allocs != 0 {
		t.Errorf("timeline step allocates %.1f times, want 0", allocs)
	}
}

// FuzzTimeline feeds arbitrary frame sequences (timestamps, SSRCs,
// arrival times, lengths, pauses) to the timeline: it must not panic and
// must emit exactly one stereo frame per flushed, non-skipped position.
func FuzzTimeline(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 160, 20, 0})
	f.Add([]byte{1, 2, 255, 255, 255, 255, 200, 5, 0, 2, 0, 0, 0, 0, 1, 1})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		tl := newTimeline(2400, 8000)
		pcm := make([]int16, 480)
		var arr int64
		var written int64
		for len(b) >= 8 {
			op := b[:8]
			b = b[8:]
			leg := int(op[0] & 1)
			ssrc := uint32(op[1] & 3)
			ts := binary.BigEndian.Uint32(op[2:6])
			n := 1 + int(op[6])*480/256
			arr += int64(op[7]) * 40
			switch op[0] >> 5 {
			case 1:
				tl.pause(arr, op[0]&2 != 0)
			case 2:
				tl.resume(arr)
			}
			tl.place(leg, ssrc, ts, arr, pcm[:n])
			tl.flushTo(arr - tl.window)
			written += int64(len(tl.out))
			tl.out = tl.out[:0]
		}
		tl.flushTo(max(tl.hi, arr))
		written += int64(len(tl.out))
		if want := (tl.flushed - tl.skipped) * frameBytes; written != want {
			t.Fatalf("wrote %d bytes, want %d (flushed %d skipped %d)", written, want, tl.flushed, tl.skipped)
		}
	})
}

// BenchmarkWrite is the packet-path cost: one 20 ms frame handed to the
// recorder (clock read, copy into a ring slot, atomics), real clock. The
// writer drains (untimed) every 1024 frames, so no frame is dropped and
// the figure is the accepted path.
func BenchmarkWrite(b *testing.B) { benchWrite(b, false) }

// BenchmarkWriteG711 is BenchmarkWrite for G.711 codes (what hushd hands over).
func BenchmarkWriteG711(b *testing.B) { benchWrite(b, true) }

func benchWrite(b *testing.B, codes bool) {
	r, err := New(b.TempDir(), Meta{RecordingID: "bench"}, WithRingSlots(4096), WithDrainInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	pcm := content(LegCustomer, 0, frame)
	g := make([]byte, frame)
	ctx := context.Background()
	var ts uint32
	var dropped int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%1024 == 1023 {
			b.StopTimer()
			r.Flush(ctx)
			b.StartTimer()
		}
		ts += frame
		if codes {
			err = r.WriteG711(Leg(i&1), 1, ts, g711.Ulaw, g, nil)
		} else {
			err = r.Write(Leg(i&1), 1, ts, pcm)
		}
		if err != nil {
			dropped++
		}
	}
	b.ReportMetric(float64(dropped)/float64(b.N), "dropped/op")
}

// BenchmarkTimelineSecond is the writer's CPU per stereo second: place
// 50 frames per leg, flush and interleave 8000 stereo frames (no I/O).
func BenchmarkTimelineSecond(b *testing.B) {
	tl := newTimeline(2400, 8000)
	pcm := content(LegCustomer, 0, frame)
	var pos int64
	b.ReportAllocs()
	b.SetBytes(SampleRate * frameBytes)
	for i := 0; i < b.N; i++ {
		for k := 0; k < 50; k++ {
			tl.place(0, 1, uint32(pos), pos, pcm)
			tl.place(1, 2, uint32(pos), pos, pcm)
			pos += frame
		}
		tl.flushTo(pos - 2400)
		tl.out = tl.out[:0]
	}
	b.ReportMetric(1e9*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "x_realtime")
}

// BenchmarkRecorderSecond is one stereo second end to end through a real
// file: 100 Writes, a writer step, a 32 KB append; a checkpoint (header
// rewrite + fsync) every 5 s of audio.
func BenchmarkRecorderSecond(b *testing.B) {
	clk := newFakeClock()
	dir := b.TempDir()
	r, err := New(dir, Meta{RecordingID: "bench"}, WithClock(clk), WithDrainInterval(0), WithRingSlots(256))
	if err != nil {
		b.Fatal(err)
	}
	pcm := content(LegCustomer, 0, frame)
	var ts uint32
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(SampleRate * frameBytes)
	for i := 0; i < b.N; i++ {
		for k := 0; k < 50; k++ {
			clk.Advance(20 * time.Millisecond)
			ts += frame
			r.Write(LegCustomer, 1, ts, pcm)
			r.Write(LegAgent, 2, ts, pcm)
		}
		if err := r.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(1e9*float64(b.N)/float64(b.Elapsed().Nanoseconds()), "x_realtime")
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecorderSecondG711 is BenchmarkRecorderSecond for what hushd
// hands over: G.711 frames from the masker's tap (RecordAudio), placed by
// arrival, one in ten with masked samples.
func BenchmarkRecorderSecondG711(b *testing.B) {
	clk := newFakeClock()
	r, err := New(b.TempDir(), Meta{RecordingID: "bench"}, WithClock(clk), WithDrainInterval(0), WithRingSlots(256))
	if err != nil {
		b.Fatal(err)
	}
	codes, silent := benchG711Frame()
	var ts uint32
	var k int
	b.ReportAllocs()
	b.SetBytes(SampleRate * frameBytes)
	for b.Loop() {
		for range 50 {
			clk.Advance(20 * time.Millisecond)
			ts += frame
			at := clk.Now().Add(-80 * time.Millisecond)
			var s []bool
			if k++; k%10 == 0 {
				s = silent
			}
			r.WriteG711At(LegCustomer, 1, ts, at, g711.Ulaw, codes, s)
			r.WriteG711At(LegAgent, 2, ts, at, g711.Alaw, codes, s)
		}
		if err := r.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDrainSecondG711 is the writer's share of BenchmarkRecorderSecondG711
// without the file and the goroutine hand-off: a stereo second of G.711 frames
// (one in ten with masked samples) taken from the rings onto the timeline and
// interleaved.
func BenchmarkDrainSecondG711(b *testing.B) {
	r, err := New(b.TempDir(), Meta{RecordingID: "bench"}, WithDrainInterval(0), WithRingSlots(256))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	codes, silent := benchG711Frame()
	var pos int64
	var k int
	b.ReportAllocs()
	b.SetBytes(SampleRate * frameBytes)
	for b.Loop() {
		for range 50 {
			var s []bool
			if k++; k%10 == 0 {
				s = silent
			}
			r.rings[LegCustomer].pushG711(1, uint32(pos), pos, g711.Ulaw, codes, s)
			r.rings[LegAgent].pushG711(2, uint32(pos), pos, g711.Alaw, codes, s)
			pos += frame
		}
		r.drain() // the writer goroutine is idle: no kick below half a ring, no timer
		r.tl.flushTo(pos - r.tl.window)
		r.tl.out = r.tl.out[:0]
	}
}

// Warm changes nothing, whatever the level and leg (out of range: nothing
// at all), on a fresh recorder, a written one and a closed one, and
// allocates nothing; each level hints only through pointers an earlier
// level loaded (warmtest.Check).
func TestWarmChangesNothing(t *testing.T) {
	r, clk, _ := testRec(t)
	codes := make([]byte, frame)
	all := func() {
		for leg := range LegAgent + 3 {
			for level := -1; level <= WarmLevels; level++ {
				r.Warm(leg, level)
			}
		}
	}
	state := func() [NumChannels][2]uint64 {
		var s [NumChannels][2]uint64
		for i, q := range r.rings {
			s[i] = [2]uint64{q.tail.Load(), q.dropped.Load()}
		}
		return s
	}
	before := state()
	all()
	if after := state(); after != before {
		t.Fatalf("fresh recorder: rings %v -> %v", before, after)
	}
	for i := range 3 {
		clk.Advance(20 * time.Millisecond)
		if err := r.WriteG711(LegCustomer, 1, uint32(i*frame), g711.Ulaw, codes, nil); err != nil {
			t.Fatal(err)
		}
	}
	before = state()
	if a := testing.AllocsPerRun(100, all); a != 0 {
		t.Errorf("Warm allocates %.1f times", a)
	}
	for _, leg := range []Leg{LegCustomer, LegAgent} {
		warmtest.Check(t, r, WarmLevels, func(l int) { r.Warm(leg, l) })
	}
	if after := state(); after != before {
		t.Fatalf("written recorder: rings %v -> %v", before, after)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	all()
}

// Recorders drain on one grid: the wait from any instant ends on the next
// instant of the recorder's slot (a multiple of the period after
// drainEpoch, plus the slot's share of it), at least a millisecond away.
func TestUntilDrainGrid(t *testing.T) {
	const every = 250 * time.Millisecond
	for _, slot := range []uint32{0, 1, drainSlots - 1, drainSlots, 2*drainSlots + 3} {
		phase := every * time.Duration(slot%drainSlots) / drainSlots
		for _, off := range []time.Duration{0, 1, time.Millisecond - 1, time.Millisecond, 100 * time.Millisecond,
			every - time.Millisecond, every - 1, every, 7*every + 3*time.Millisecond} {
			now := drainEpoch.Add(off)
			d := untilDrain(now, every, slot)
			at := now.Add(d).Sub(drainEpoch) - phase
			if at%every != 0 || d < time.Millisecond || d > every+time.Millisecond {
				t.Errorf("slot %d at +%v: wait %v ends at +%v past the slot's phase %v, want its next instant a millisecond or more away",
					slot, off, d, at, phase)
			}
		}
	}
}

// benchG711Frame is the G.711 benchmarks' frame: varied codes, and the
// masked-sample marks one frame in ten carries.
func benchG711Frame() (codes []byte, silent []bool) {
	codes = make([]byte, frame)
	for i := range codes {
		codes[i] = byte(i * 37)
	}
	silent = make([]bool, frame)
	for i := 40; i < 120; i++ {
		silent[i] = true
	}
	return codes, silent
}
