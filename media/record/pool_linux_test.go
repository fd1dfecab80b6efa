package record

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hushmedia/hush/media/background"
)

// tidFS records the thread of every WAV data write and sync.
type tidFS struct {
	OSFS
	mu   sync.Mutex
	tids []int
}

type tidFile struct {
	*os.File
	fs *tidFS
}

func (f *tidFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := os.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".wav") {
		return file, err
	}
	return &tidFile{File: file, fs: f}, nil
}

func (f *tidFS) note() {
	f.mu.Lock()
	f.tids = append(f.tids, unix.Gettid())
	f.mu.Unlock()
}

func (f *tidFile) WriteAt(b []byte, off int64) (int, error) {
	if off >= headerSize {
		f.fs.note()
	}
	return f.File.WriteAt(b, off)
}

func (f *tidFile) Sync() error {
	f.fs.note()
	return f.File.Sync()
}

// TestWriterRunsOnPool: with WithPool, the writer's audio writes, checkpoints and final
// sync run on the pool's low-priority threads, never on the writer goroutine's own.
func TestWriterRunsOnPool(t *testing.T) {
	pool, err := background.New(1, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	fs := &tidFS{}
	r, clk, _ := testRec(t, WithFS(fs), WithPool(pool))
	fs.mu.Lock()
	fs.tids = nil // New's own header sync runs on the caller, before any call audio
	fs.mu.Unlock()
	start := r.Start()
	for k := range 100 {
		clk.Set(start, time.Duration(k)*20*time.Millisecond)
		for _, leg := range []Leg{LegCustomer, LegAgent} {
			if err := r.Write(leg, 1, uint32(k*frame), content(leg, int64(k*frame), frame)); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Set(start, 3*time.Second)
	if err := r.Checkpoint(ctx(t)); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	beforeClose := len(fs.tids)
	fs.mu.Unlock()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if beforeClose == 0 || len(fs.tids) <= beforeClose {
		t.Fatalf("%d writes and syncs before Close, %d after: the scenario wrote nothing", beforeClose, len(fs.tids))
	}
	want := pool.TIDs()
	for _, tid := range fs.tids {
		if !slices.Contains(want, tid) {
			t.Fatalf("a write ran on thread %d, not on the pool's %v", tid, want)
		}
	}
}
