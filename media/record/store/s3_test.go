package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hushmedia/hush/media/record"
)

// versitygw finds Versity's S3 gateway: `make tools` puts it in the repository's .bin/.
func versitygw(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs(filepath.Join("..", "..", "..", ".bin", "versitygw")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("versitygw not found (make tools installs it into .bin/); required under CI")
	}
	t.Skip("versitygw not found: run make tools")
	return ""
}

// s3Server is a versitygw on loopback over a posix directory, which survives restarts.
type s3Server struct {
	t         *testing.T
	bin, addr string
	data      string
	meta      string
	cmd       *exec.Cmd
	exited    chan struct{}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newS3Server(t *testing.T) *s3Server {
	s := &s3Server{t: t, bin: versitygw(t), addr: freePort(t), data: t.TempDir(), meta: t.TempDir()}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// start runs the gateway and waits for its banner naming the address it listens on.
func (s *s3Server) start() {
	t := s.t
	s.cmd = exec.Command(s.bin, "--access", "hushtest", "--secret", "hushtest-secret", "--port", s.addr,
		"posix", "--sidecar", s.meta, s.data)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan struct{})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if !sent && strings.Contains(sc.Text(), "http://"+s.addr) {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
		s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("versitygw exited at start")
		}
		// The banner comes as the listener starts; a connection says it accepts.
		for i := 0; ; i++ {
			c, err := net.DialTimeout("tcp", s.addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if i == 200 {
				t.Fatalf("versitygw does not accept on %s: %v", s.addr, err)
			}
			select {
			case <-s.exited:
				t.Fatal("versitygw exited at start")
			case <-time.After(10 * time.Millisecond):
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("versitygw did not start")
	}
}

// kill stops the gateway as a crash would, and waits for it.
func (s *s3Server) kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

func (s *s3Server) client(t *testing.T, onPart func(string, int)) *S3 {
	c, err := NewS3(S3Options{Endpoint: s.addr, Bucket: "recordings", AccessKey: "hushtest", SecretKey: "hushtest-secret",
		PartSize: MinPartSize, OnPart: onPart})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// objects lists the bucket's keys and its unfinished uploads.
func (s *s3Server) objects(t *testing.T, c *S3) (keys []string, uploads int) {
	ctx := context.Background()
	for o := range c.core.Client.ListObjects(ctx, "recordings", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	for u := range c.core.Client.ListIncompleteUploads(ctx, "recordings", "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		uploads++
	}
	return keys, uploads
}

// longRecording makes a finished sealed recording of about 12 MiB (three 5 MiB parts).
func (f *fixture) longRecording(t *testing.T, id string) string {
	t.Helper()
	rel := record.DateDir(f.clk.Now())
	dir := filepath.Join(f.root, rel)
	os.MkdirAll(dir, 0o750)
	start := f.clk.Now()
	r, err := record.New(dir, record.Meta{RecordingID: id, CallID: "call-" + id}, record.WithSealing(f.kr),
		record.WithClock(f.clk), record.WithDrainInterval(0), record.WithRingSlots(512),
		record.WithOnSidecar(func(sc *record.Sidecar) { f.idx.Put(rel, sc) }))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pcm := make([]int16, 160)
	const frames = 20000 // 400 s
	for k := range frames {
		f.clk.Set(start.Add(time.Duration(k) * 20 * time.Millisecond))
		for i := range pcm {
			pcm[i] = int16(rng.IntN(20000) - 10000)
		}
		for _, leg := range []record.Leg{record.LegCustomer, record.LegAgent} {
			if err := r.Write(leg, uint32(leg)+1, uint32(k*160), pcm); err != nil {
				t.Fatal(err)
			}
		}
		if k%100 == 99 {
			if err := r.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func plain(t *testing.T, w *record.WAV) []byte {
	t.Helper()
	b := make([]byte, w.Size)
	if _, err := w.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

// TestUploadSurvivesStoreCrash: the store is killed after the first part of a multipart
// upload reached it; the recording stays on disk; once the store is back the upload goes
// on from the parts it holds, the object reads back as the file, and only then is the
// local WAV removed. The bucket holds the recording once, with no unfinished upload.
// Erasure then leaves nothing in the store or on the disk.
func TestUploadSurvivesStoreCrash(t *testing.T) {
	srv := newS3Server(t)
	f := newFixture(t)
	dir := f.longRecording(t, "big")
	wavPath := filepath.Join(dir, "big.wav")
	sealedBytes, err := os.ReadFile(wavPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealedBytes) < 2*MinPartSize+1 {
		t.Fatalf("recording of %d bytes is not three parts", len(sealedBytes))
	}
	m0 := f.manager(nil)
	w0, _, err := m0.Open(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	want := plain(t, w0)
	w0.Close()

	var mu sync.Mutex
	var parts []int
	var c *S3
	c = srv.client(t, func(key string, n int) {
		if !strings.HasSuffix(key, ".wav") {
			return
		}
		mu.Lock()
		parts = append(parts, n)
		first := len(parts) == 1
		mu.Unlock()
		if first {
			srv.kill() // the store dies mid-upload
		}
	})
	m := New(Options{Root: f.root, Index: f.idx, Record: []record.Option{record.WithKeyring(f.kr)}, Clock: f.clk, Objects: c})
	ctx := context.Background()
	err = m.Upload(ctx, "big")
	if !errors.Is(err, ErrObjectStore) {
		t.Fatalf("upload with the store down: %v", err)
	}
	if b, err := os.ReadFile(wavPath); err != nil || !bytes.Equal(b, sealedBytes) {
		t.Fatalf("the local recording changed while the store was down: %v", err)
	}
	if _, err := os.Stat(wavPath + ".upload"); err != nil {
		t.Fatalf("no upload state kept: %v", err)
	}

	srv.start()
	if err := m.Upload(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(parts) != 3 || parts[0] != 1 || parts[1] != 2 || parts[2] != 3 {
		t.Errorf("parts uploaded %v: want 1 before the crash, then 2 and 3 (1 resumed, not sent again)", parts)
	}
	mu.Unlock()
	if _, err := os.Stat(wavPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local WAV still there after the upload: %v", err)
	}
	keys, uploads := srv.objects(t, c)
	wantKeys := []string{filepath.ToSlash(record.DateDir(f.clk.Now())) + "/big.json", filepath.ToSlash(record.DateDir(f.clk.Now())) + "/big.wav"}
	if strings.Join(keys, " ") != strings.Join(wantKeys, " ") || uploads != 0 {
		t.Fatalf("bucket holds %v and %d unfinished uploads, want %v and none", keys, uploads, wantKeys)
	}
	obj, size, err := c.Open(ctx, wantKeys[1])
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, size)
	obj.ReadAt(got, 0)
	obj.Close()
	if !bytes.Equal(got, sealedBytes) {
		t.Fatal("the object is not the recording's file")
	}
	// QA reads it from the store, decrypted.
	w, sc, err := m.Open(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if b := plain(t, w); !bytes.Equal(b, want) || sc.Location != wantKeys[1] || w.Complete != nil {
		t.Fatalf("read back from the store: %d bytes, location %q, complete %v", len(b), sc.Location, w.Complete)
	}
	w.Close()

	er, err := m.Erase(ctx, "big")
	if err != nil || !er.Objects || !er.Local {
		t.Fatalf("erase: %+v %v", er, err)
	}
	if keys, uploads := srv.objects(t, c); len(keys) != 0 || uploads != 0 {
		t.Fatalf("store after erasure: %v, %d uploads", keys, uploads)
	}
	if left := leftFiles(t, dir, "big"); len(left) != 0 {
		t.Fatalf("disk after erasure: %v", left)
	}
}

// TestUploadBacklog: recordings finished while the store is down wait on disk, counted in
// the backlog and reported; they move once it is up.
func TestUploadBacklog(t *testing.T) {
	srv := newS3Server(t)
	c := srv.client(t, nil)
	srv.kill()
	f := newFixture(t)
	dir := f.record(t, "r1", 0)
	failed := make(chan int, 100)
	uploaded := make(chan int, 100)
	m := New(Options{Root: f.root, Index: f.idx, Record: []record.Option{record.WithKeyring(f.kr)}, Clock: f.clk, Objects: c,
		Events: UploadEvents{
			Failed:   func(_ string, _ error, _ time.Duration, backlog int) { failed <- backlog },
			Uploaded: func(_ string, backlog int) { uploaded <- backlog },
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.RunUploads(ctx, 10*time.Millisecond, 50*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case n := <-failed:
		if n != 1 || m.Backlog() != 1 {
			t.Fatalf("backlog %d (%d)", n, m.Backlog())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no failure reported with the store down")
	}
	if _, err := os.Stat(filepath.Join(dir, "r1.wav")); err != nil {
		t.Fatalf("recording gone while the store is down: %v", err)
	}
	srv.start()
	select {
	case n := <-uploaded:
		if n != 0 || m.Backlog() != 0 {
			t.Fatalf("backlog after upload %d", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("not uploaded once the store came back")
	}
	if _, err := os.Stat(filepath.Join(dir, "r1.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local WAV left: %v", err)
	}
}
