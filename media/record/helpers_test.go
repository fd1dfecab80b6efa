package record

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-audio/wav"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to start+d.
func (c *fakeClock) Set(start time.Time, d time.Duration) {
	c.mu.Lock()
	c.t = start.Add(d)
	c.mu.Unlock()
}

const frame = 160 // 20 ms

// testRec creates a recorder driven only by the test: fake clock, no
// drain timer, a ring large enough for the scenario.
func testRec(t *testing.T, opts ...Option) (*Recorder, *fakeClock, string) {
	t.Helper()
	dir := t.TempDir()
	clk := newFakeClock()
	all := append([]Option{WithClock(clk), WithDrainInterval(0), WithRingSlots(4096)}, opts...)
	r, err := New(dir, Meta{RecordingID: "rec-1", SessionID: "sess-1", CallID: "call-1", AgentID: "agent-7"}, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, clk, dir
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// val is the test signal at timeline position p on leg: a ramp that is
// never zero, so silence is distinguishable, and differs per leg.
func val(leg Leg, p int64) int16 {
	v := int16(p%20000) + 1
	if leg == LegAgent {
		return -v
	}
	return v
}

// content returns frame audio for leg whose first sample is position p.
func content(leg Leg, p int64, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = val(leg, p+int64(i))
	}
	return s
}

// decode reads a WAV with go-audio/wav and returns its two channels.
func decode(t *testing.T, path string) (left, right []int16) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := wav.NewDecoder(f)
	if !d.IsValidFile() {
		t.Fatalf("%s: not a valid WAV", path)
	}
	if d.NumChans != 2 || d.SampleRate != SampleRate || d.BitDepth != 16 || d.WavAudioFormat != 1 {
		t.Fatalf("%s: format %d ch %d Hz %d bit fmt %d", path, d.NumChans, d.SampleRate, d.BitDepth, d.WavAudioFormat)
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		t.Fatalf("%s: decode: %v", path, err)
	}
	if len(buf.Data)%2 != 0 {
		t.Fatalf("%s: odd sample count %d", path, len(buf.Data))
	}
	for i := 0; i < len(buf.Data); i += 2 {
		left = append(left, int16(buf.Data[i]))
		right = append(right, int16(buf.Data[i+1]))
	}
	return left, right
}

// checkRange asserts ch[from:to] equals the ramp of leg shifted so that
// ch[from] = val(leg, src).
func checkRange(t *testing.T, name string, ch []int16, leg Leg, from, to, src int64) {
	t.Helper()
	if int64(len(ch)) < to {
		t.Fatalf("%s: %d samples, want at least %d", name, len(ch), to)
	}
	for i := from; i < to; i++ {
		if want := val(leg, src+i-from); ch[i] != want {
			t.Fatalf("%s[%d] = %d, want %d (range %d..%d from source %d)", name, i, ch[i], want, from, to, src)
		}
	}
}

func checkSilent(t *testing.T, name string, ch []int16, from, to int64) {
	t.Helper()
	if int64(len(ch)) < to {
		t.Fatalf("%s: %d samples, want at least %d", name, len(ch), to)
	}
	for i := from; i < to; i++ {
		if ch[i] != 0 {
			t.Fatalf("%s[%d] = %d, want silence in %d..%d", name, i, ch[i], from, to)
		}
	}
}

// requireTool returns the path of an outside tool, or skips naming its
// Debian package; under CI=true a missing tool fails the test.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (Debian package %s); required under CI", name, pkg)
		}
		t.Skipf("%s not found; install Debian package %s", name, pkg)
	}
	return p
}

func wavPath(dir string) string  { return filepath.Join(dir, "rec-1.wav") }
func jsonPath(dir string) string { return filepath.Join(dir, "rec-1.json") }
