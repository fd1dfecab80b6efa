package web

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// Waveform is a recording's overview: for each of Columns slices of the file, the
// lowest and highest sample of each channel (0 customer, 1 agent).
type Waveform struct {
	Columns int
	Frames  int64 // stereo frames in the file
	Min     [2][]int16
	Max     [2][]int16
}

// wavHeader is the size of the header hush writes (RIFF, fmt, data; media/record).
const wavHeader = 44

// ComputeWaveform reads a hush WAV (8 kHz, 16-bit little-endian PCM, two channels) and
// returns its waveform in cols columns. One pass, a fixed buffer, nothing per sample but
// two compares per channel: a two-hour call (230 MB) takes well under a second of CPU.
func ComputeWaveform(r io.Reader, cols int) (*Waveform, error) {
	var hdr [wavHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" || string(hdr[36:40]) != "data" ||
		binary.LittleEndian.Uint16(hdr[22:24]) != 2 || binary.LittleEndian.Uint16(hdr[34:36]) != 16 {
		return nil, fmt.Errorf("%w: not a 16-bit stereo WAV as hush writes", ErrWAV)
	}
	frames := int64(binary.LittleEndian.Uint32(hdr[40:44]) / 4)
	w := &Waveform{Columns: cols, Frames: frames}
	for ch := range 2 {
		w.Min[ch] = make([]int16, cols)
		w.Max[ch] = make([]int16, cols)
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var frame int64
	for col := range cols {
		end := frames * int64(col+1) / int64(cols)
		lo, hi := [2]int16{0, 0}, [2]int16{0, 0}
		for frame < end {
			n := min(int((end-frame)*4), br.Size())
			b, err := br.Peek(n)
			if len(b) < 4 {
				if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
					// A recording still being written, or cut short: what is there.
					w.Frames = frame
					return w, nil
				}
				return nil, fmt.Errorf("%w: %v", ErrWAV, err)
			}
			b = b[:len(b)/4*4]
			for i := 0; i < len(b); i += 4 {
				c := int16(binary.LittleEndian.Uint16(b[i:]))
				a := int16(binary.LittleEndian.Uint16(b[i+2:]))
				lo[0], hi[0] = min(lo[0], c), max(hi[0], c)
				lo[1], hi[1] = min(lo[1], a), max(hi[1], a)
			}
			frame += int64(len(b) / 4)
			_, _ = br.Discard(len(b))
		}
		for ch := range 2 {
			w.Min[ch][col], w.Max[ch][col] = lo[ch], hi[ch]
		}
	}
	return w, nil
}

// Path is the SVG path of one channel's envelope, drawn in a band of the given height
// around centre y (viewBox units; one unit per column).
func (w *Waveform) Path(ch int, centre, half float64) string {
	var b strings.Builder
	b.Grow(w.Columns * 24)
	y := func(v int16) string { return strconv.FormatFloat(centre-float64(v)/32768*half, 'f', 1, 64) }
	for i := range w.Columns {
		if i == 0 {
			b.WriteString("M0 ")
		} else {
			b.WriteString(" L" + strconv.Itoa(i) + " ")
		}
		b.WriteString(y(max(w.Max[ch][i], 1)))
	}
	for i := w.Columns - 1; i >= 0; i-- {
		b.WriteString(" L" + strconv.Itoa(i) + " " + y(min(w.Min[ch][i], -1)))
	}
	b.WriteString("Z")
	return b.String()
}

// waveCache keeps waveforms by recording id, SHA-256 and size, so each is computed once
// (concurrent requests wait for the one computing it) while a recording still growing is
// computed again. Bounded: the least recently used go first.
type waveCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*waveEntry
	tick    uint64
}

type waveEntry struct {
	done chan struct{}
	w    *Waveform
	err  error
	used uint64
}

func newWaveCache(max int) *waveCache {
	return &waveCache{max: max, entries: map[string]*waveEntry{}}
}

// get returns the cached waveform for key or computes it with compute.
func (c *waveCache) get(ctx context.Context, key string, compute func() (*Waveform, error)) (*Waveform, error) {
	c.mu.Lock()
	c.tick++
	e, ok := c.entries[key]
	if ok {
		e.used = c.tick
		c.mu.Unlock()
		select {
		case <-e.done:
			return e.w, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e = &waveEntry{done: make(chan struct{}), used: c.tick}
	c.entries[key] = e
	c.evict()
	c.mu.Unlock()
	e.w, e.err = compute()
	if e.err != nil {
		c.mu.Lock()
		delete(c.entries, key) // an error (say, a refusal) is not a waveform to keep
		c.mu.Unlock()
	}
	close(e.done)
	return e.w, e.err
}

func (c *waveCache) evict() {
	for len(c.entries) > c.max {
		var oldest string
		var at uint64
		for k, e := range c.entries {
			if oldest == "" || e.used < at {
				oldest, at = k, e.used
			}
		}
		delete(c.entries, oldest)
	}
}
