package record

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recordFor writes both legs on time from frame `from` to `to`, flushing
// every 10 frames (the writer checkpoints when 5 s of clock have passed).
func recordFor(t *testing.T, r *Recorder, clk *fakeClock, from, to int) {
	t.Helper()
	start := r.Start()
	for k := from; k < to; k++ {
		clk.Set(start, time.Duration(k)*20*time.Millisecond)
		for _, leg := range []Leg{LegCustomer, LegAgent} {
			if err := r.Write(leg, uint32(leg)+1, uint32(k*frame), content(leg, int64(k*frame), frame)); err != nil {
				t.Fatal(err)
			}
		}
		if k%10 == 9 {
			if err := r.Flush(ctx(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestCheckpointPlayableWhileOpen(t *testing.T) {
	r, clk, dir := testRec(t)
	recordFor(t, r, clk, 0, 250) // up to 4.98 s: no checkpoint yet
	if got := r.Stats().Checkpoints; got != 0 {
		t.Fatalf("%d checkpoints before 5 s", got)
	}
	if l, _ := decode(t, wavPath(dir)); len(l) != 0 {
		t.Fatalf("before any checkpoint the header says %d frames, want 0", len(l))
	}
	clk.Set(r.Start(), 5*time.Second)
	if err := r.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := r.Stats().Checkpoints; got != 1 {
		t.Fatalf("%d checkpoints at 5 s, want 1", got)
	}
	// At 5 s the timeline is flushed up to 5 s - 300 ms jitter window.
	const ck = 40000 - 2400
	l, rt := decode(t, wavPath(dir))
	if len(l) != ck {
		t.Fatalf("open file plays %d frames after the checkpoint, want %d", len(l), ck)
	}
	checkRange(t, "left", l, LegCustomer, 0, ck, 0)
	checkRange(t, "right", rt, LegAgent, 0, ck, 0)

	// More audio written but not checkpointed is not yet in the header.
	recordFor(t, r, clk, 250, 350)
	if l, _ := decode(t, wavPath(dir)); len(l) != ck {
		t.Fatalf("between checkpoints the file plays %d frames, want %d", len(l), ck)
	}
	if err := r.Checkpoint(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if l, _ := decode(t, wavPath(dir)); len(l) != 6980*8-2400 { // last flush at 6.98 s
		t.Fatalf("after Checkpoint the file plays %d frames", len(l))
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != StatusInProgress {
		t.Errorf("open recording sidecar status %s", sc.Status)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// soxCheck asserts that sox reads the file as stereo 8 kHz 16-bit with
// the given number of frames.
func soxCheck(t *testing.T, path string, frames int64) {
	t.Helper()
	soxi := requireTool(t, "soxi", "sox")
	sox := requireTool(t, "sox", "sox")
	for flag, want := range map[string]string{"-s": strconv.FormatInt(frames, 10), "-c": "2", "-r": "8000", "-b": "16"} {
		out, err := exec.Command(soxi, flag, path).CombinedOutput()
		if err != nil {
			t.Fatalf("soxi %s %s: %v: %s", flag, path, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("soxi %s = %s, want %s", flag, got, want)
		}
	}
	if out, err := exec.Command(sox, path, "-n", "stat").CombinedOutput(); err != nil {
		t.Errorf("sox cannot play %s: %v: %s", path, err, out)
	}
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestRepairAfterCrash(t *testing.T) {
	r, clk, dir := testRec(t)
	r.Pause(PauseSilence, Action{Actor: "agent-7", RequestID: "req-9"})
	clk.Advance(time.Second)
	r.Resume(Action{Actor: "agent-7", RequestID: "req-10"})
	recordFor(t, r, clk, 50, 300) // checkpoint at 5 s (sidecar has the pause)
	recordFor(t, r, clk, 300, 400)
	if err := r.Flush(ctx(t)); err != nil { // data past the checkpoint reaches the file
		t.Fatal(err)
	}
	r.kill() // crash: no final header, sidecar still in_progress

	// A torn last write: half a stereo frame.
	f, err := os.OpenFile(wavPath(dir), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 2})
	f.Close()
	// The checkpoint ran at the first flush past 5 s, at 5.18 s.
	if l, _ := decode(t, wavPath(dir)); len(l) != 5180*8-2400 {
		t.Fatalf("before repair the header says %d frames, want the checkpoint's", len(l))
	}
	// A temporary sidecar left by a crash mid-rename goes away.
	os.WriteFile(filepath.Join(dir, "rec-1.json.tmp"), []byte("{"), 0o644)

	repairedAt := time.Date(2026, 3, 5, 1, 2, 3, 0, time.UTC)
	res, err := Repair(dir, WithClock(ClockFunc(func() time.Time { return repairedAt })))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Err != nil || res[0].Status != StatusRepaired || res[0].TruncatedBytes != 2 {
		t.Fatalf("results %+v", res)
	}
	// The last Flush ran at 7.98 s, so the timeline reached 7.68 s.
	want := int64(7980*8 - 2400)
	if res[0].FileSamples != want {
		t.Fatalf("repaired %d frames, want %d", res[0].FileSamples, want)
	}
	l, rt := decode(t, wavPath(dir))
	if int64(len(l)) != want {
		t.Fatalf("repaired file plays %d frames, want %d", len(l), want)
	}
	checkSilent(t, "left", l, 0, 8000)
	checkRange(t, "left", l, LegCustomer, 8000, want, 8000)
	checkRange(t, "right", rt, LegAgent, 8000, want, 8000)
	soxCheck(t, wavPath(dir), want)

	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != StatusRepaired || sc.FileSamples != want || sc.SHA256 != fileSHA(t, wavPath(dir)) ||
		!sc.RepairedAt.Equal(repairedAt) || sc.Size != headerSize+want*frameBytes || sc.CallID != "call-1" {
		t.Errorf("sidecar %+v", sc)
	}
	if len(sc.Pauses) != 1 || sc.Pauses[0].EndSample != 8000 || sc.Pauses[0].RequestID != "req-9" {
		t.Errorf("pauses from the last checkpoint lost: %+v", sc.Pauses)
	}
	if _, err := os.Stat(filepath.Join(dir, "rec-1.json.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary sidecar left: %v", err)
	}

	// Repair is idempotent: nothing left to do.
	if res, err := Repair(dir); err != nil || len(res) != 0 {
		t.Errorf("second Repair = %+v, %v", res, err)
	}
}

func TestRepairTruncatedAnywhere(t *testing.T) {
	for _, cut := range []int64{0, 3, 43, 44, 45, 44 + 4*1000 + 3, 44 + 4*8000} {
		t.Run(strconv.FormatInt(cut, 10), func(t *testing.T) {
			r, clk, dir := testRec(t)
			recordFor(t, r, clk, 0, 100)
			clk.Advance(time.Second)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(wavPath(dir), cut); err != nil {
				t.Fatal(err)
			}
			res, err := Repair(dir)
			if err != nil || len(res) != 1 || res[0].Err != nil {
				t.Fatalf("Repair = %+v, %v", res, err)
			}
			want := max(cut-headerSize, 0) / frameBytes
			l, rt := decode(t, wavPath(dir))
			if int64(len(l)) != want {
				t.Fatalf("plays %d frames, want %d", len(l), want)
			}
			checkRange(t, "left", l, LegCustomer, 0, want, 0)
			checkRange(t, "right", rt, LegAgent, 0, want, 0)
			sc, err := ReadSidecar(jsonPath(dir))
			if err != nil || sc.Status != StatusRepaired || sc.FileSamples != want || sc.SHA256 != fileSHA(t, wavPath(dir)) {
				t.Fatalf("sidecar %+v, %v", sc, err)
			}
			if cut == 44+4*1000+3 {
				soxCheck(t, wavPath(dir), want)
			}
		})
	}
}

func TestRepairOrphans(t *testing.T) {
	dir := t.TempDir()
	// A WAV whose sidecar was never written: header made, no data sizes.
	var h [headerSize]byte
	putHeader(h[:], 0)
	os.WriteFile(filepath.Join(dir, "orphan.wav"), append(h[:], make([]byte, 4*10+1)...), 0o644)
	// An in-progress sidecar whose WAV is gone.
	lone := Sidecar{Version: 1, RecordingID: "lone", Status: StatusInProgress, SampleRate: SampleRate,
		BitsPerSample: 16, Channels: []string{"customer", "agent"}, WAV: "lone.wav"}
	if err := writeSidecar(OSFS{}, dir, &lone, nil); err != nil {
		t.Fatal(err)
	}
	// A corrupt sidecar beside a good WAV.
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{not json"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.wav"), h[:], 0o644)
	// Files that are not recordings are left alone.
	os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644)

	res, err := Repair(dir)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]RepairResult{}
	for _, x := range res {
		byID[x.RecordingID] = x
	}
	if len(res) != 3 {
		t.Fatalf("results %+v", res)
	}
	if o := byID["orphan"]; o.Err != nil || o.Status != StatusRepaired || o.FileSamples != 10 || o.TruncatedBytes != 1 {
		t.Errorf("orphan %+v", o)
	}
	if l := byID["lone"]; !errors.Is(l.Err, ErrMissingWAV) || l.Status != StatusFailed {
		t.Errorf("lone %+v", l)
	}
	if b := byID["bad"]; b.Err != nil || b.Status != StatusRepaired || !strings.Contains(b.Note, "unreadable") {
		t.Errorf("bad %+v", b)
	}
	sc, err := ReadSidecar(filepath.Join(dir, "lone.json"))
	if err != nil || sc.Status != StatusFailed {
		t.Errorf("lone sidecar %+v, %v", sc, err)
	}
	list, err := List(dir)
	if err != nil || len(list) != 3 {
		t.Errorf("List after repair: %d, %v", len(list), err)
	}
}

// TestRepairKeepsMasksWrittenAfterCheckpoint: a mask span reported after the last
// checkpoint reaches the sidecar before the masked audio reaches the file, so a crash
// any time after that audio was written leaves the span for Repair to keep.
func TestRepairKeepsMasksWrittenAfterCheckpoint(t *testing.T) {
	r, clk, dir := testRec(t)
	recordFor(t, r, clk, 0, 60)
	if err := r.MarkMask(LegCustomer, 800, 1600); err != nil {
		t.Fatal(err)
	}
	if err := r.MarkMask(LegAgent, 4000, 4800); err != nil {
		t.Fatal(err)
	}
	recordFor(t, r, clk, 60, 200) // 4 s: no checkpoint yet, more than a second written
	if got := r.Stats().Checkpoints; got != 0 {
		t.Fatalf("%d checkpoints before 5 s", got)
	}
	if r.Stats().BytesWritten < 4800*frameBytes {
		t.Fatalf("only %d bytes written: the masked audio is not on disk", r.Stats().BytesWritten)
	}
	r.kill()
	res, err := Repair(dir)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("Repair = %+v, %v", res, err)
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Masks) != 2 || sc.Masks[0].StartSample != 800 || sc.Masks[1].Leg != "agent" {
		t.Fatalf("after repair the sidecar has masks %+v, want the two spans marked before the crash", sc.Masks)
	}
}
