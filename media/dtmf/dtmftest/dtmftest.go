// Package dtmftest is test support for DTMF audio, shared by the packages that detect,
// mask and record it: key tones at a level in dBm0, 16-bit WAV files, real speech from the
// corpus (package media/corpus) to lay them over, and an independent judge (multimon-ng,
// Debian package multimon-ng) that says which keys a WAV holds.
//
// What the suite needs from outside (a tool, the corpus) is skipped with a message naming
// what to install, except when CI=true: CI installs all of it, so there it fails.
//
// Levels follow G.711's reference: a 0 dBm0 sine has the peak g711.Peak0dBm0.
package dtmftest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/g711"
)

// Rate is the sample rate of telephone audio.
const Rate = 8000

// Keys are the 16 DTMF keys in keypad order: row by row, columns 1209..1633 Hz.
const Keys = "123A456B789C*0#D"

var rows = [4]float64{697, 770, 852, 941}
var cols = [4]float64{1209, 1336, 1477, 1633}

// Freqs returns a key's low and high tone (ITU-T Q.23).
func Freqs(key byte) (lo, hi float64) {
	i := strings.IndexByte(Keys, key)
	if i < 0 {
		panic(fmt.Sprintf("dtmftest: %q is not a DTMF key", key))
	}
	return rows[i/4], cols[i%4]
}

// Burst is one key's tone pair: Dur samples from sample At, each tone at DBm0. The optional
// fields shape it as real phones and lines do.
type Burst struct {
	Key     byte
	At, Dur int
	DBm0    float64
	// Twist is the high tone's level minus the low tone's, in dB, split evenly around DBm0.
	Twist float64
	// LoShift and HiShift move each tone off its nominal frequency (relative: 0.02 is +2 %).
	LoShift, HiShift float64
	// Fade is a linear fade-in over this many samples (0: none).
	Fade int
	// Stagger starts and ends the high tone this many samples after the low one (negative:
	// before); the pair then spans Dur+|Stagger| samples from At or At+Stagger.
	Stagger int
}

// AddTo adds the burst to sig, with random start phases from r.
func (b Burst) AddTo(sig []float64, r *rand.Rand) {
	lo, hi := Freqs(b.Key)
	lo *= 1 + b.LoShift
	hi *= 1 + b.HiShift
	al := g711.Peak0dBm0 * math.Pow(10, (b.DBm0-b.Twist/2)/20)
	ah := g711.Peak0dBm0 * math.Pow(10, (b.DBm0+b.Twist/2)/20)
	pl, ph := r.Float64()*2*math.Pi, r.Float64()*2*math.Pi
	tone := func(at int, f, a, p float64) {
		for n := 0; n < b.Dur && at+n < len(sig); n++ {
			if at+n < 0 {
				continue
			}
			g := 1.0
			if n < b.Fade {
				g = float64(n) / float64(b.Fade)
			}
			sig[at+n] += g * a * math.Sin(2*math.Pi*f*float64(n)/Rate+p)
		}
	}
	tone(b.At, lo, al, pl)
	tone(b.At+b.Stagger, hi, ah, ph)
}

// Span returns the samples the burst's tones cover, [from, to).
func (b Burst) Span() (from, to int) {
	return b.At + min(0, b.Stagger), b.At + b.Dur + max(0, b.Stagger)
}

// Quantize rounds a signal to 16-bit samples, clipping.
func Quantize(sig []float64) []int16 {
	out := make([]int16, len(sig))
	for i, v := range sig {
		out[i] = int16(max(-32768, min(32767, math.Round(v))))
	}
	return out
}

// WriteWAV writes mono 16-bit PCM at Rate.
func WriteWAV(path string, pcm []int16) error {
	b := make([]byte, 44+2*len(pcm))
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], Rate)
	binary.LittleEndian.PutUint32(b[28:], 2*Rate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return os.WriteFile(path, b, 0o644)
}

// ErrNotWAV is returned for a file that is not 16-bit PCM WAV.
var ErrNotWAV = errors.New("dtmftest: not a 16-bit PCM WAV file")

// ReadWAV reads a 16-bit PCM WAV of any channel count and returns its channels.
func ReadWAV(path string) ([][]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, ErrNotWAV
	}
	channels := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		size = min(size, len(b)-off)
		switch id {
		case "fmt ":
			if size < 16 || binary.LittleEndian.Uint16(b[off:]) != 1 || binary.LittleEndian.Uint16(b[off+14:]) != 16 {
				return nil, ErrNotWAV
			}
			channels = int(binary.LittleEndian.Uint16(b[off+2:]))
		case "data":
			if channels < 1 {
				return nil, ErrNotWAV
			}
			frames := size / (2 * channels)
			out := make([][]int16, channels)
			for c := range out {
				out[c] = make([]int16, frames)
				for i := range frames {
					out[c][i] = int16(binary.LittleEndian.Uint16(b[off+2*(i*channels+c):]))
				}
			}
			return out, nil
		}
		off += size + size&1
	}
	return nil, ErrNotWAV
}

// Missing skips the test for want of something from outside, or fails it when CI=true (CI
// installs everything the suite needs). msg names what is missing and how to get it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Tool returns the path of an outside tool from a Debian package, or is Missing.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, fmt.Sprintf("%s missing: install Debian package %s", name, pkg))
	}
	return p
}

// Speech returns n samples of the speech corpus (corpus.Speech: the top-level prompts end to
// end), starting skip samples in, or is Missing when the corpus is not installed.
func Speech(t testing.TB, n, skip int) []float64 {
	t.Helper()
	pcm, err := corpus.Speech(n, skip)
	if errors.Is(err, corpus.ErrMissing) {
		Missing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(pcm))
	for i, v := range pcm {
		out[i] = float64(v)
	}
	return out
}

// Prompts returns the files list names (corpus.Files, corpus.AllFiles or corpus.MusicFiles)
// and their samples, or is Missing when the corpus is not installed.
func Prompts(t testing.TB, list func() ([]string, error)) (files []string, pcm [][]int16) {
	t.Helper()
	files, err := list()
	if errors.Is(err, corpus.ErrMissing) || errors.Is(err, corpus.ErrMusicMissing) {
		Missing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	pcm = make([][]int16, len(files))
	for i, f := range files {
		if pcm[i], err = corpus.Read(f); err != nil {
			t.Fatal(err)
		}
	}
	return files, pcm
}

// Judge writes pcm to dir/name.wav and returns the keys multimon-ng -a DTMF hears in it,
// in order.
func Judge(t testing.TB, dir, name string, pcm []int16) string {
	t.Helper()
	bin := Tool(t, "multimon-ng", "multimon-ng")
	path := filepath.Join(dir, name+".wav")
	if err := WriteWAV(path, pcm); err != nil {
		t.Fatal(err)
	}
	return JudgeFile(t, bin, path)
}

// JudgeFile runs multimon-ng (at bin) on a WAV file and returns the keys it reports. A run
// that reports anything but keys fails the test: multimon-ng reads WAV through sox and exits
// 0 when sox cannot run or cannot read the file, having heard nothing, which a check for
// "no digit leaked" would take for a pass.
func JudgeFile(t testing.TB, bin, path string) string {
	t.Helper()
	Tool(t, "sox", "sox")
	out, err := exec.Command(bin, "-q", "-c", "-a", "DTMF", "-t", "wav", path).CombinedOutput()
	if err != nil {
		t.Fatalf("multimon-ng %s: %v\n%s", path, err, out)
	}
	var d strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if k, ok := strings.CutPrefix(line, "DTMF: "); ok && len(k) == 1 {
			d.WriteString(k)
		} else if line != "" {
			t.Fatalf("multimon-ng %s did not judge the file: %q\n%s", path, line, out)
		}
	}
	return d.String()
}
