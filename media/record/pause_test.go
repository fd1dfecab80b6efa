package record

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// pauseRun records 3 s of both legs, pausing at 1 s and resuming at 2 s
// with the given behaviour, and returns the decoded channels and sidecar.
func pauseRun(t *testing.T, b PauseBehavior) ([]int16, []int16, Sidecar) {
	t.Helper()
	r, clk, dir := testRec(t)
	evs := append(stream(LegCustomer, 1, 0, 0, 150), stream(LegAgent, 2, 0, 0, 150)...)
	start := r.Start()
	for i := 0; i < len(evs)/2; i++ {
		at := time.Duration(i) * 20 * time.Millisecond
		clk.Set(start, at)
		switch at {
		case time.Second:
			ok, err := r.Pause(b, Action{Actor: "agent-7", RequestID: "req-1", Reason: "card 4111 1111 1111 1111"})
			if !ok || err != nil {
				t.Fatalf("Pause = %v, %v", ok, err)
			}
			if ok, err := r.Pause(PauseSkip, Action{Actor: "agent-7", RequestID: "req-1"}); ok || err != nil {
				t.Fatalf("second Pause = %v, %v; want a no-op", ok, err)
			}
		case 2 * time.Second:
			ok, err := r.Resume(Action{Actor: "supervisor-2", RequestID: "req-2"})
			if !ok || err != nil {
				t.Fatalf("Resume = %v, %v", ok, err)
			}
			if ok, err := r.Resume(Action{}); ok || err != nil {
				t.Fatalf("second Resume = %v, %v; want a no-op", ok, err)
			}
		}
		for _, e := range []ev{evs[i], evs[150+i]} {
			if err := r.Write(e.leg, e.ssrc, e.ts, e.pcm); err != nil {
				t.Fatal(err)
			}
		}
		if i%4 == 3 {
			if err := r.Flush(ctx(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Set(start, 3*time.Second)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	l, rt := decode(t, wavPath(dir))
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	return l, rt, sc
}

func checkPauseSidecar(t *testing.T, sc Sidecar, b PauseBehavior, fileStart, fileEnd int64) {
	t.Helper()
	if len(sc.Pauses) != 1 {
		t.Fatalf("pauses %+v, want one", sc.Pauses)
	}
	p := sc.Pauses[0]
	want := PauseSpan{
		StartSample: 8000, EndSample: 16000, FileStartSample: fileStart, FileEndSample: fileEnd,
		StartTime: sc.Start.Add(time.Second), EndTime: sc.Start.Add(2 * time.Second),
		Behavior: b, Actor: "agent-7", RequestID: "req-1", Reason: "card #### #### #### ####",
		ResumeActor: "supervisor-2", ResumeRequestID: "req-2",
	}
	if p != want {
		t.Errorf("pause\n got %+v\nwant %+v", p, want)
	}
	var acts []string
	for _, a := range sc.Actions {
		acts = append(acts, a.Action+"/"+a.Actor)
	}
	if got := strings.Join(acts, ","); got != "start/,pause:"+string(b)+"/agent-7,resume/supervisor-2,stop/" {
		t.Errorf("actions %s", got)
	}
	if sc.DurationSamples != 24000 {
		t.Errorf("duration %d samples, want 24000", sc.DurationSamples)
	}
}

func TestPauseSilence(t *testing.T) {
	l, r, sc := pauseRun(t, PauseSilence)
	if len(l) != 24000 {
		t.Fatalf("%d frames, want 24000: silence keeps the timeline", len(l))
	}
	checkRange(t, "left", l, LegCustomer, 0, 8000, 0)
	checkSilent(t, "left", l, 8000, 16000)
	checkSilent(t, "right", r, 8000, 16000)
	checkRange(t, "left", l, LegCustomer, 16000, 24000, 16000)
	checkRange(t, "right", r, LegAgent, 16000, 24000, 16000)
	checkPauseSidecar(t, sc, PauseSilence, 8000, 16000)
	if sc.FileSamples != 24000 {
		t.Errorf("file samples %d", sc.FileSamples)
	}
}

func TestPauseSkip(t *testing.T) {
	l, r, sc := pauseRun(t, PauseSkip)
	if len(l) != 16000 {
		t.Fatalf("%d frames, want 16000: skip leaves the pause out", len(l))
	}
	checkRange(t, "left", l, LegCustomer, 0, 8000, 0)
	checkRange(t, "right", r, LegAgent, 0, 8000, 0)
	checkRange(t, "left", l, LegCustomer, 8000, 16000, 16000)
	checkRange(t, "right", r, LegAgent, 8000, 16000, 16000)
	checkPauseSidecar(t, sc, PauseSkip, 8000, 8000)
	if sc.FileSamples != 16000 {
		t.Errorf("file samples %d", sc.FileSamples)
	}
}

func TestPauseOpenAtClose(t *testing.T) {
	r, clk, dir := testRec(t)
	clk.Advance(500 * time.Millisecond)
	if _, err := r.Pause("", Action{Actor: "a"}); err != nil {
		t.Fatal(err)
	}
	if !r.Paused() {
		t.Fatal("not paused")
	}
	clk.Advance(500 * time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Pauses) != 1 || sc.Pauses[0].StartSample != 4000 || sc.Pauses[0].EndSample != 8000 || sc.Pauses[0].Behavior != PauseSilence {
		t.Errorf("pauses %+v, want silence 4000..8000", sc.Pauses)
	}
	if _, err := r.Pause(PauseSilence, Action{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Pause after Close: %v, want ErrClosed", err)
	}
}

func TestPauseBadBehavior(t *testing.T) {
	r, _, _ := testRec(t)
	defer r.Close()
	if _, err := r.Pause("mute", Action{}); !errors.Is(err, ErrBadBehavior) {
		t.Errorf("err %v, want ErrBadBehavior", err)
	}
}

func TestMasks(t *testing.T) {
	r, clk, dir := testRec(t)
	evs := append(stream(LegCustomer, 1, 50000, 0, 50), stream(LegAgent, 2, 0, 0, 50)...)
	start := r.Start()
	for i, e := range evs {
		clk.Set(start, e.at)
		if err := r.Write(e.leg, e.ssrc, e.ts, e.pcm); err != nil {
			t.Fatal(err)
		}
		if i == 60 { // customer anchored at ts 50000 = position 0
			if err := r.MarkMaskRTP(LegCustomer, 50000+800, 50000+1600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.MarkMask(LegAgent, 3200, 4000); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		leg        Leg
		start, end int64
		want       error
	}{{LegAgent, 10, 10, ErrBadSpan}, {LegAgent, -1, 10, ErrBadSpan}, {Leg(2), 0, 10, ErrBadLeg}} {
		if err := r.MarkMask(bad.leg, bad.start, bad.end); !errors.Is(err, bad.want) {
			t.Errorf("MarkMask(%v, %d, %d) = %v, want %v", bad.leg, bad.start, bad.end, err, bad.want)
		}
	}
	if err := r.MarkMaskRTP(LegAgent, 100, 100); !errors.Is(err, ErrBadSpan) {
		t.Errorf("MarkMaskRTP empty: %v", err)
	}
	clk.Set(start, time.Second)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	want := []MaskSpan{
		{Leg: "customer", StartSample: 800, EndSample: 1600, FileStartSample: 800, FileEndSample: 1600,
			StartTime: start.Add(100 * time.Millisecond), EndTime: start.Add(200 * time.Millisecond)},
		{Leg: "agent", StartSample: 3200, EndSample: 4000, FileStartSample: 3200, FileEndSample: 4000,
			StartTime: start.Add(400 * time.Millisecond), EndTime: start.Add(500 * time.Millisecond)},
	}
	if len(sc.Masks) != 2 || sc.Masks[0] != want[0] || sc.Masks[1] != want[1] {
		t.Errorf("masks\n got %+v\nwant %+v", sc.Masks, want)
	}
}

func TestMaskFileOffsetsAfterSkip(t *testing.T) {
	r, clk, dir := testRec(t)
	clk.Advance(time.Second)
	r.Pause(PauseSkip, Action{})
	clk.Advance(time.Second)
	r.Resume(Action{})
	if err := r.MarkMask(LegCustomer, 20000, 20800); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if m := sc.Masks[0]; m.FileStartSample != 12000 || m.FileEndSample != 12800 {
		t.Errorf("mask file offsets %d..%d, want 12000..12800", m.FileStartSample, m.FileEndSample)
	}
	if sc.FileSamples != 16000 || sc.DurationSamples != 24000 {
		t.Errorf("file %d duration %d, want 16000 and 24000", sc.FileSamples, sc.DurationSamples)
	}
}

// TestPauseInputDelay: audio reaches the recorder 100 ms after it was live. Frames land
// where they were live, and a pause requested at 1 s covers exactly the audio live from
// 1 s to the resume at 2 s, although those frames arrive 100 ms later.
func TestPauseInputDelay(t *testing.T) {
	r, clk, dir := testRec(t, WithInputDelay(100*time.Millisecond))
	const frame = 160
	write := func(k int) { // frame k was live at k*20 ms and arrives 100 ms later
		if err := r.Write(LegCustomer, 7, uint32(k*frame), content(LegCustomer, int64(k*frame), frame)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(100 * time.Millisecond)
	for k := 0; k < 150; k++ { // frames live 0..3 s, arriving 0.1..3.1 s
		write(k)
		clk.Advance(20 * time.Millisecond)
		if k == 44 { // clock = 0.1 + 45*20ms = 1.0 s
			r.Pause(PauseSilence, Action{})
		}
		if k == 94 { // clock = 2.0 s
			r.Resume(Action{})
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if p := sc.Pauses[0]; p.StartSample != 8000 || p.EndSample != 16000 {
		t.Errorf("pause %d..%d, want 8000..16000: at the requests' times", p.StartSample, p.EndSample)
	}
	left, _ := decode(t, wavPath(dir))
	checkRange(t, "before pause", left, LegCustomer, 0, 8000, 0)
	checkSilent(t, "pause", left, 8000, 16000)
	checkRange(t, "after pause", left, LegCustomer, 16000, 24000, 16000)
}

// stallClock is a fakeClock whose next Now, once armed, blocks until released and then
// tells the time of the release: a writer goroutine stalled while it reads the clock.
type stallClock struct {
	*fakeClock
	armed   chan struct{} // holds a token while armed
	entered chan struct{}
	release chan struct{}
}

func (c *stallClock) Now() time.Time {
	select {
	case <-c.armed:
		c.entered <- struct{}{}
		<-c.release
	default:
	}
	return c.fakeClock.Now()
}

// TestPauseDuringWriterStall: a pause requested while the writer goroutine is in the middle
// of a round (stalled there for longer than the jitter window: a slow disk, a starved CPU)
// still starts where it was requested. The writer flushes the timeline up to a time it
// reads; anything stamped before that time must be in the round, or the flush runs past a
// pause it has not applied and records audio the pause was asked to keep out.
func TestPauseDuringWriterStall(t *testing.T) {
	clk := &stallClock{fakeClock: newFakeClock(), armed: make(chan struct{}, 1),
		entered: make(chan struct{}), release: make(chan struct{})}
	r, _, dir := testRec(t, WithClock(clk))
	write := func(k int) { // frame k, live at k*20 ms
		if err := r.Write(LegCustomer, 7, uint32(k*frame), content(LegCustomer, int64(k*frame), frame)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(20 * time.Millisecond)
	}
	for k := range 50 {
		write(k)
	}
	if err := r.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	clk.armed <- struct{}{}
	flushed := make(chan error, 1)
	go func() { flushed <- r.Flush(ctx(t)) }()
	select {
	case <-clk.entered: // the writer is in its round, reading the clock
	case err := <-flushed:
		t.Fatalf("flush returned without reading the clock: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never read the clock")
	}
	if ok, err := r.Pause(PauseSilence, Action{}); !ok || err != nil { // at 1 s
		t.Fatalf("Pause = %v, %v", ok, err)
	}
	for k := 50; k < 100; k++ {
		write(k)
	}
	close(clk.release) // the writer reads 2 s
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Resume(Action{}); !ok || err != nil { // at 2 s
		t.Fatalf("Resume = %v, %v", ok, err)
	}
	for k := 100; k < 150; k++ {
		write(k)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if p := sc.Pauses[0]; p.StartSample != 8000 || p.EndSample != 16000 {
		t.Errorf("pause %d..%d, want 8000..16000: at the requests' times", p.StartSample, p.EndSample)
	}
	left, _ := decode(t, wavPath(dir))
	checkRange(t, "before pause", left, LegCustomer, 0, 8000, 0)
	checkSilent(t, "pause", left, 8000, 16000)
	checkRange(t, "after pause", left, LegCustomer, 16000, 24000, 16000)
}
