package record

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/record/seal"
)

func testKeyring(t *testing.T) *seal.FileKeyring {
	t.Helper()
	kr, err := seal.ParseKeyFile([]byte("k1 " + strings.Repeat("Q", 43) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// plainWAV decrypts the sealed WAV of rec-1 in dir to a file and returns
// its path, the WAV and its bytes.
func plainWAV(t *testing.T, dir string, kr seal.Keyring) (string, *WAV, []byte) {
	t.Helper()
	w, err := OpenWAV(dir, "rec-1", WithKeyring(kr))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b := make([]byte, w.Size)
	if _, err := w.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "plain.wav")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out, w, b
}

// pcmBytes is the little-endian PCM of a stretch of a leg's ramp, as a
// plaintext WAV would hold it on one channel... interleaved with the other
// leg: the bytes to look for on disk.
func stereoBytes(from, n int64) []byte {
	var b []byte
	for p := from; p < from+n; p++ {
		b = binary.LittleEndian.AppendUint16(b, uint16(val(LegCustomer, p)))
		b = binary.LittleEndian.AppendUint16(b, uint16(val(LegAgent, p)))
	}
	return b
}

// scanDir fails when any file under dir holds needle.
func scanDir(t *testing.T, dir string, needle []byte) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, needle) {
			t.Errorf("%s holds the plaintext audio", path)
		}
		return nil
	})
}

func TestSealedRoundTrip(t *testing.T) {
	kr := testKeyring(t)
	r, clk, dir := testRec(t, WithSealing(kr))
	recordFor(t, r, clk, 0, 400) // 8 s: a checkpoint at 5 s
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing on disk holds the audio or the sidecar in the clear.
	scanDir(t, dir, stereoBytes(20000, 40))
	scanDir(t, dir, []byte("call-1"))
	if _, err := os.ReadFile(jsonPath(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSidecar(jsonPath(dir)); !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("sealed sidecar read without a keyring: %v", err)
	}
	sc, err := ReadSidecar(jsonPath(dir), WithKeyring(kr))
	if err != nil {
		t.Fatal(err)
	}
	path, w, b := plainWAV(t, dir, kr)
	if !w.Sealed || w.Complete != nil {
		t.Fatalf("sealed %v complete %v", w.Sealed, w.Complete)
	}
	sum := sha256.Sum256(b)
	if sc.Status != StatusComplete || !sc.Encrypted || sc.SHA256 != hex.EncodeToString(sum[:]) || sc.Size != int64(len(b)) {
		t.Fatalf("sidecar %+v, plaintext %d bytes", sc, len(b))
	}
	l, rt := decode(t, path)
	want := int64(400 * frame)
	if int64(len(l)) < want-2400 {
		t.Fatalf("%d frames", len(l))
	}
	checkRange(t, "left", l, LegCustomer, 0, want-2400, 0)
	checkRange(t, "right", rt, LegAgent, 0, want-2400, 0)
	soxCheck(t, path, int64(len(l)))
	// List and Get read sealed sidecars with the keyring.
	if all, err := List(dir, WithKeyring(kr)); err != nil || len(all) != 1 {
		t.Fatalf("List %d %v", len(all), err)
	}
	if res, err := Repair(dir, WithKeyring(kr)); err != nil || len(res) != 0 {
		t.Fatalf("Repair of a complete sealed recording: %+v %v", res, err)
	}
}

func TestSealedTamperReportsWhere(t *testing.T) {
	kr := testKeyring(t)
	r, clk, dir := testRec(t, WithSealing(kr))
	recordFor(t, r, clk, 0, 300)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(wavPath(dir))
	b[len(b)/2] ^= 1
	os.WriteFile(wavPath(dir), b, 0o644)
	_, err := OpenWAV(dir, "rec-1", WithKeyring(kr))
	if !errors.Is(err, seal.ErrTampered) || !strings.Contains(err.Error(), "at byte") {
		t.Fatalf("tampered file: %v", err)
	}
	// Repair leaves an altered file alone and says so.
	res, err := Repair(dir, WithKeyring(kr))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, seal.ErrTampered) {
		t.Fatalf("Repair: %+v %v", res, err)
	}
	if b2, _ := os.ReadFile(wavPath(dir)); !bytes.Equal(b, b2) {
		t.Fatal("Repair changed an altered file")
	}
}

// A crash leaves a sealed file without a final record, its last record
// possibly cut: Repair keeps every whole record, so the recording decrypts
// up to what was written, at least its last checkpoint.
func TestSealedRepairAfterCrash(t *testing.T) {
	kr := testKeyring(t)
	r, clk, dir := testRec(t, WithSealing(kr))
	r.Pause(PauseSilence, Action{Actor: "agent-7", RequestID: "req-9"})
	clk.Advance(time.Second)
	r.Resume(Action{Actor: "agent-7", RequestID: "req-10"})
	recordFor(t, r, clk, 50, 300)
	recordFor(t, r, clk, 300, 400)
	if err := r.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r.kill()
	// A torn append: half a record.
	f, _ := os.OpenFile(wavPath(dir), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(make([]byte, 30))
	f.Close()
	if w, err := OpenWAV(dir, "rec-1", WithKeyring(kr)); err != nil || !errors.Is(w.Complete, seal.ErrTruncated) {
		t.Fatalf("cut file: %v, complete %v", err, w.Complete)
	}
	if res, err := Repair(dir); err != nil || len(res) != 1 || !errors.Is(res[0].Err, seal.ErrUnknownKey) {
		t.Fatalf("Repair without the key: %+v %v", res, err)
	}
	res, err := Repair(dir, WithKeyring(kr))
	if err != nil || len(res) != 1 || res[0].Err != nil || res[0].Status != StatusRepaired {
		t.Fatalf("results %+v %v", res, err)
	}
	want := int64(7980*8 - 2400)
	if res[0].FileSamples != want {
		t.Fatalf("repaired %d frames, want %d", res[0].FileSamples, want)
	}
	path, w, b := plainWAV(t, dir, kr)
	if w.Complete != nil {
		t.Fatalf("repaired file not complete: %v", w.Complete)
	}
	l, rt := decode(t, path)
	if int64(len(l)) != want {
		t.Fatalf("repaired file plays %d frames, want %d", len(l), want)
	}
	checkSilent(t, "left", l, 0, 8000)
	checkRange(t, "left", l, LegCustomer, 8000, want, 8000)
	checkRange(t, "right", rt, LegAgent, 8000, want, 8000)
	sc, err := ReadSidecar(jsonPath(dir), WithKeyring(kr))
	sum := sha256.Sum256(b)
	if err != nil || sc.Status != StatusRepaired || !sc.Encrypted || sc.SHA256 != hex.EncodeToString(sum[:]) ||
		len(sc.Pauses) != 1 || !strings.Contains(sc.RepairNote, "cut short") {
		t.Fatalf("sidecar %+v %v", sc, err)
	}
	scanDir(t, dir, stereoBytes(20000, 40))
	if res, err := Repair(dir, WithKeyring(kr)); err != nil || len(res) != 0 {
		t.Errorf("second Repair = %+v, %v", res, err)
	}
}

// TestSealedWriteAllocatesNothing: sealing happens on the writer goroutine; the packet
// path is the same ring copy, with no allocation.
func TestSealedWriteAllocatesNothing(t *testing.T) {
	r, clk, _ := testRec(t, WithSealing(testKeyring(t)), WithFormat(FormatULaw))
	defer r.Close()
	pcm := content(LegCustomer, 0, frame)
	var ts uint32
	allocs := testing.AllocsPerRun(1000, func() {
		clk.Advance(20 * time.Millisecond)
		ts += frame
		if err := r.Write(LegCustomer, 1, ts, pcm); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Write allocates %.1f times per call with sealing, want 0", allocs)
	}
}

// BenchmarkRecorderSecondAtRest is BenchmarkRecorderSecond for each way of storing the
// audio: the writer's cost of a stereo second, end to end on the disk.
func BenchmarkRecorderSecondAtRest(b *testing.B) {
	kr, err := seal.ParseKeyFile([]byte("k1 " + strings.Repeat("Q", 43) + "\n"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"pcm16", nil},
		{"pcm16-sealed", []Option{WithSealing(kr)}},
		{"ulaw", []Option{WithFormat(FormatULaw)}},
		{"ulaw-sealed", []Option{WithFormat(FormatULaw), WithSealing(kr)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			clk := newFakeClock()
			opts := append([]Option{WithClock(clk), WithDrainInterval(0), WithRingSlots(256)}, c.opts...)
			r, err := New(b.TempDir(), Meta{RecordingID: "bench"}, opts...)
			if err != nil {
				b.Fatal(err)
			}
			pcm := content(LegCustomer, 0, frame)
			var ts uint32
			b.ReportAllocs()
			b.SetBytes(SampleRate * frameBytes)
			for b.Loop() {
				for range 50 {
					clk.Advance(20 * time.Millisecond)
					ts += frame
					r.Write(LegCustomer, 1, ts, pcm)
					r.Write(LegAgent, 2, ts, pcm)
				}
				if err := r.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
