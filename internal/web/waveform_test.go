package web

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// wavHeaderFor is hush's 44-byte header for frames stereo 16-bit frames at 8 kHz.
func wavHeaderFor(frames int64) []byte {
	h := make([]byte, wavHeader)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+frames*4))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 2)
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 8000*4)
	binary.LittleEndian.PutUint16(h[32:], 4)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(frames*4))
	return h
}

// synthWAV streams a WAV of frames frames without holding it: customer channel peaks of
// +-1000*(column+1) at the middle of each of cols columns, agent silent but for one click.
type synthWAV struct {
	frames, pos int64
	cols        int64
	hdr         []byte
}

func (s *synthWAV) Read(p []byte) (int, error) {
	if len(s.hdr) > 0 {
		n := copy(p, s.hdr)
		s.hdr = s.hdr[n:]
		return n, nil
	}
	n := 0
	for ; n+4 <= len(p) && s.pos < s.frames; n += 4 {
		var c, a int16
		col := s.pos * s.cols / s.frames
		if mid := (2*col + 1) * s.frames / (2 * s.cols); s.pos == mid {
			c = int16(1000 * (col + 1))
		} else if s.pos == mid+1 {
			c = -int16(1000 * (col + 1))
		}
		if s.pos == s.frames-1 {
			a = 12345
		}
		binary.LittleEndian.PutUint16(p[n:], uint16(c))
		binary.LittleEndian.PutUint16(p[n+2:], uint16(a))
		s.pos++
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func newSynth(frames, cols int64) *synthWAV {
	return &synthWAV{frames: frames, cols: cols, hdr: wavHeaderFor(frames)}
}

func TestComputeWaveform(t *testing.T) {
	w, err := ComputeWaveform(newSynth(8000*10, 8), 8)
	if err != nil {
		t.Fatal(err)
	}
	if w.Frames != 80000 || w.Columns != 8 {
		t.Fatalf("frames %d columns %d", w.Frames, w.Columns)
	}
	for c := range 8 {
		if w.Max[0][c] != int16(1000*(c+1)) || w.Min[0][c] != -int16(1000*(c+1)) {
			t.Errorf("column %d: customer %d..%d, want +-%d", c, w.Min[0][c], w.Max[0][c], 1000*(c+1))
		}
	}
	if w.Max[1][7] != 12345 || w.Max[1][6] != 0 {
		t.Errorf("agent peaks %v", w.Max[1])
	}
	// A recording still being written (the header counts more than is there) gives what
	// is there.
	var b bytes.Buffer
	_, _ = io.Copy(&b, newSynth(8000, 4))
	short, err := ComputeWaveform(bytes.NewReader(b.Bytes()[:wavHeader+4000*4+2]), 4)
	if err != nil || short.Frames != 4000 {
		t.Errorf("short file: %v frames, %v", short, err)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF"), bytes.Repeat([]byte{'x'}, 44), append([]byte("RIFF\x00\x00\x00\x00WAVEfmt "), make([]byte, 40)...)} {
		if _, err := ComputeWaveform(bytes.NewReader(bad), 4); !errors.Is(err, ErrWAV) {
			t.Errorf("%q: %v, want ErrWAV", bad, err)
		}
	}
	if p := w.Path(0, 50, 44); !strings.HasPrefix(p, "M0 ") || !strings.HasSuffix(p, "Z") {
		t.Errorf("path %q", p)
	}
}

// Concurrent requests for one recording compute its waveform once; a refused computation
// is not kept; the cache is bounded.
func TestWaveCacheComputesOnce(t *testing.T) {
	c := newWaveCache(2)
	var n atomic.Int32
	started, release := make(chan struct{}, 8), make(chan struct{})
	compute := func() (*Waveform, error) {
		n.Add(1)
		started <- struct{}{}
		<-release
		return &Waveform{Columns: 1}, nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = c.get(context.Background(), "r|sha|1", compute) }()
	}
	<-started
	close(release)
	wg.Wait()
	if n.Load() != 1 {
		t.Errorf("computed %d times, want 1", n.Load())
	}
	boom := errors.New("refused")
	if _, err := c.get(context.Background(), "x", func() (*Waveform, error) { return nil, boom }); err != boom {
		t.Fatal(err)
	}
	if _, err := c.get(context.Background(), "x", func() (*Waveform, error) { return &Waveform{}, nil }); err != nil {
		t.Errorf("a failed computation was cached: %v", err)
	}
	for _, k := range []string{"a", "b", "c"} {
		_, _ = c.get(context.Background(), k, func() (*Waveform, error) { return &Waveform{}, nil })
	}
	if len(c.entries) > 2 {
		t.Errorf("cache holds %d entries, bound 2", len(c.entries))
	}
}

// twoHours is the frames of a two-hour call.
const twoHours = 2 * 3600 * 8000

func BenchmarkWaveformTwoHours(b *testing.B) {
	b.SetBytes(twoHours * 4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ComputeWaveform(newSynth(twoHours, 1200), 1200); err != nil {
			b.Fatal(err)
		}
	}
}

// A card number keyed is one row for QA: masks of one leg less than keyRun apart join;
// another leg, a pause or a long gap starts a new row.
func TestRowsJoinKeyRuns(t *testing.T) {
	var in []span
	for i := range 16 {
		at := 10 + float64(i)*0.13
		in = append(in, span{Kind: "mask", Channel: "customer", Start: at, End: at + 0.07})
	}
	in = append(in, span{Kind: "mask", Channel: "agent", Start: 13, End: 13.1},
		span{Kind: "mask", Channel: "customer", Start: 30, End: 30.1},
		span{Kind: "pause", Channel: "both", Start: 31, End: 40})
	out := rows(in)
	if len(out) != 4 {
		t.Fatalf("%d rows, want 4: %+v", len(out), out)
	}
	if !strings.Contains(out[0].Label, "16 key presses") || out[0].Start != 10 || out[0].End != in[15].End {
		t.Errorf("first row %+v", out[0])
	}
	if out[1].Channel != "agent" || out[2].Start != 30 || out[3].Kind != "pause" {
		t.Errorf("rows %+v", out[1:])
	}
}
