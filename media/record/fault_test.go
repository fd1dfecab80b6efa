package record

import (
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultFS wraps OSFS. WAV files get a byte budget for WriteAt after which
// writes fail with werr; Sync fails with serr once syncFailAfter syncs
// passed; sidecar writes fail when jsonErr is set.
type faultFS struct {
	OSFS
	budget        int64
	werr          error
	syncFailAfter int
	serr          error
	jsonErr       error
	block         chan struct{} // non-nil: data writes wait for it
	blocked       chan struct{} // closed when a write starts waiting
	blockOnce     sync.Once
}

type faultFile struct {
	*os.File
	fs    *faultFS
	used  int64
	syncs int
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if strings.HasSuffix(name, ".json.tmp") && f.jsonErr != nil {
		return nil, f.jsonErr
	}
	file, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(name, ".wav") {
		return file, nil
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if f.fs.block != nil && off >= headerSize {
		f.fs.blockOnce.Do(func() { close(f.fs.blocked) })
		<-f.fs.block
	}
	if f.fs.werr != nil && f.used+int64(len(b)) > f.fs.budget {
		n := max(f.fs.budget-f.used, 0)
		f.used += n
		f.File.WriteAt(b[:n], off)
		return int(n), f.fs.werr
	}
	f.used += int64(len(b))
	return f.File.WriteAt(b, off)
}

func (f *faultFile) Sync() error {
	f.syncs++
	if f.fs.serr != nil && f.syncs > f.fs.syncFailAfter {
		return f.fs.serr
	}
	return f.File.Sync()
}

// writeFor calls Write on both legs for frames [from, to) on time and
// flushes every 10 frames; it returns the first Write error of each kind.
func writeFor(t *testing.T, r *Recorder, clk *fakeClock, from, to int) (failed bool) {
	t.Helper()
	start := r.Start()
	for k := from; k < to; k++ {
		clk.Set(start, time.Duration(k)*20*time.Millisecond)
		for _, leg := range []Leg{LegCustomer, LegAgent} {
			err := r.Write(leg, 1, uint32(k*frame), content(leg, int64(k*frame), frame))
			switch {
			case errors.Is(err, ErrFailed):
				failed = true
			case err != nil:
				t.Fatalf("Write: %v", err)
			}
		}
		if k%10 == 9 {
			r.Flush(ctx(t))
		}
	}
	return failed
}

// writesNeverBlock runs many Writes on another goroutine and fails if
// they do not all return well within the deadline.
func writesNeverBlock(t *testing.T, r *Recorder, want error) {
	t.Helper()
	done := make(chan error, 1)
	pcm := make([]int16, frame)
	go func() {
		var first error
		for i := 0; i < 100000; i++ {
			err := r.Write(Leg(i&1), 1, uint32(i*frame), pcm)
			if err == nil || (want != nil && !errors.Is(err, want)) {
				if first == nil {
					first = err
				}
			}
		}
		done <- first
	}()
	select {
	case err := <-done:
		if want != nil && err != nil {
			t.Errorf("Write returned %v, want %v", err, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("100000 Writes did not return: Write blocks")
	}
}

func TestDiskFullFailsRecordingNotCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   *faultFS
		want error
	}{
		{"ENOSPC after 1 s of audio", &faultFS{budget: headerSize + 32000 + 100, werr: syscall.ENOSPC}, syscall.ENOSPC},
		{"EIO on the first checkpoint fsync", &faultFS{syncFailAfter: 1, serr: syscall.EIO}, syscall.EIO},
		{"ENOSPC for sidecars too", &faultFS{budget: headerSize + 32000 + 100, werr: syscall.ENOSPC, jsonErr: syscall.ENOSPC}, syscall.ENOSPC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			var got error
			var fired = make(chan struct{})
			var last atomic.Pointer[Sidecar] // what WithOnSidecar heard last
			jsonErr := tc.fs.jsonErr
			tc.fs.jsonErr = nil // let New write its first sidecar
			r, clk, dir := testRec(t, WithFS(tc.fs), WithOnFailure(func(err error) {
				got = err
				if calls.Add(1) == 1 {
					close(fired)
				}
			}), WithOnSidecar(func(sc *Sidecar) { last.Store(sc) }))
			tc.fs.jsonErr = jsonErr
			if !writeFor(t, r, clk, 0, 400) {
				t.Fatal("Write never reported ErrFailed")
			}
			select {
			case <-fired:
			case <-time.After(10 * time.Second):
				t.Fatal("OnFailure not called")
			}
			if !errors.Is(got, tc.want) || !errors.Is(r.Err(), tc.want) {
				t.Errorf("OnFailure(%v), Err() = %v, want %v", got, r.Err(), tc.want)
			}
			if !r.Stats().Failed {
				t.Error("Stats().Failed is false")
			}
			writesNeverBlock(t, r, ErrFailed)
			if _, err := r.Pause(PauseSilence, Action{}); !errors.Is(err, ErrFailed) {
				t.Errorf("Pause on a failed recording: %v", err)
			}
			if err := r.Flush(ctx(t)); !errors.Is(err, tc.want) {
				t.Errorf("Flush = %v", err)
			}
			if err := r.Close(); !errors.Is(err, tc.want) {
				t.Errorf("Close = %v, want %v", err, tc.want)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("OnFailure called %d times, want once", n)
			}
			// The index hears the failure, with the size on disk, whether or not the disk
			// took the sidecar.
			st, err := os.Stat(wavPath(dir))
			if err != nil {
				t.Fatal(err)
			}
			if sc := last.Load(); sc == nil || sc.Status != StatusFailed || sc.Size != st.Size() || sc.Failure == "" {
				t.Errorf("WithOnSidecar last heard %+v; want failed, size %d", sc, st.Size())
			}
			sc, err := ReadSidecar(jsonPath(dir))
			if err != nil {
				t.Fatal(err)
			}
			if jsonErr != nil {
				if sc.Status != StatusInProgress {
					t.Errorf("sidecar status %s; it could not be written, so Repair must find it in_progress", sc.Status)
				}
				return
			}
			if sc.Status != StatusFailed || !strings.Contains(sc.Failure, tc.want.Error()) {
				t.Errorf("sidecar status %s failure %q", sc.Status, sc.Failure)
			}
			// Repair makes what reached the disk playable (if the header
			// was not already right); the status stays failed.
			res, err := Repair(dir)
			if err != nil || len(res) > 1 || len(res) == 1 && (res[0].Status != StatusFailed || res[0].Err != nil) {
				t.Fatalf("Repair = %+v, %v", res, err)
			}
			l, rt := decode(t, wavPath(dir))
			if len(l) == 0 || len(res) == 1 && int64(len(l)) != res[0].FileSamples {
				t.Fatalf("failed recording plays %d frames after Repair %+v", len(l), res)
			}
			checkRange(t, "left", l, LegCustomer, 0, int64(len(l)), 0)
			checkRange(t, "right", rt, LegAgent, 0, int64(len(l)), 0)
		})
	}
}

func TestStuckDiskNeverBlocksWrite(t *testing.T) {
	fsys := &faultFS{block: make(chan struct{}), blocked: make(chan struct{})}
	r, clk, _ := testRec(t, WithFS(fsys), WithRingSlots(16))
	r.Write(LegCustomer, 1, 0, make([]int16, frame))
	clk.Advance(time.Second)
	flushed := make(chan error, 1)
	go func() { flushed <- r.Flush(ctx(t)) }()
	select {
	case <-fsys.blocked: // the writer is now stuck in WriteAt
	case <-time.After(10 * time.Second):
		t.Fatal("writer never reached the disk")
	}
	writesNeverBlock(t, r, nil)
	s := r.Stats()
	if s.RingFull[0] == 0 || s.RingFull[1] == 0 {
		t.Errorf("ring-full drops %v, want some on both legs", s.RingFull)
	}
	close(fsys.block)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewFails(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(dir, Meta{RecordingID: "../x"}); !errors.Is(err, ErrBadID) {
		t.Errorf("bad id: %v", err)
	}
	r, err := New(dir, Meta{RecordingID: "dup"}, WithDrainInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := New(dir, Meta{RecordingID: "dup"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate id: %v", err)
	}
	if _, err := New(dir+"/missing", Meta{RecordingID: "x"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
	_, err = New(dir, Meta{RecordingID: "nosidecar"}, WithFS(&faultFS{jsonErr: syscall.ENOSPC}))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("sidecar write failure: %v", err)
	}
	if _, err := os.Stat(dir + "/nosidecar.wav"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WAV left behind after a failed start: %v", err)
	}
	for _, o := range []Option{WithCheckpointInterval(0), WithJitterWindow(-1), WithResyncThreshold(0),
		WithRingSlots(1), WithDrainInterval(-1), WithClock(nil), WithFS(nil),
		WithJitterWindow(2 * time.Second), WithResyncThreshold(3 * time.Second)} {
		if _, err := New(dir, Meta{RecordingID: "opt"}, o); !errors.Is(err, ErrBadOption) {
			t.Errorf("option: %v, want ErrBadOption", err)
		}
	}
}

func TestWriteArgs(t *testing.T) {
	r, _, _ := testRec(t)
	if err := r.Write(Leg(2), 1, 0, make([]int16, 10)); !errors.Is(err, ErrBadLeg) {
		t.Errorf("bad leg: %v", err)
	}
	if err := r.Write(LegAgent, 1, 0, nil); err != nil {
		t.Errorf("empty frame: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(LegAgent, 1, 0, make([]int16, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.Flush(ctx(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
}

func TestOnFailureMayClose(t *testing.T) {
	var rec atomic.Pointer[Recorder]
	closed := make(chan error, 1)
	fsys := &faultFS{budget: headerSize + 100, werr: syscall.EIO}
	r, clk, _ := testRec(t, WithFS(fsys), WithOnFailure(func(error) { closed <- rec.Load().Close() }))
	rec.Store(r)
	writeFor(t, r, clk, 0, 100)
	select {
	case err := <-closed:
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("Close from OnFailure = %v, want EIO", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close called from OnFailure did not return")
	}
}
