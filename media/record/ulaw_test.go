package record

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-audio/wav"

	"github.com/hushmedia/hush/media/g711"
)

// TestULawFormat: a mu-law recording holds the same call in half the bytes (format tag 7,
// a fact chunk), sox decodes it to the audio the PCM recording holds (to G.711's
// quantisation), and it survives a crash and Repair as the PCM one does. go-audio/wav reads
// its header and its bytes but does not decode mu-law (it treats 8-bit data as unsigned
// PCM): the test maps those codes through G.711 itself.
func TestULawFormat(t *testing.T) {
	pr, pclk, pdir := testRec(t)
	ur, uclk, udir := testRec(t, WithFormat(FormatULaw))
	recordFor(t, pr, pclk, 0, 300)
	recordFor(t, ur, uclk, 0, 300)
	for _, r := range []*Recorder{pr, ur} {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	pb, _ := os.ReadFile(wavPath(pdir))
	ub, _ := os.ReadFile(wavPath(udir))
	if got, want := len(ub)-ulawHeaderSize, (len(pb)-headerSize)/2; got != want {
		t.Fatalf("mu-law data %d bytes, want half the PCM's %d", got, want)
	}
	sc, err := ReadSidecar(jsonPath(udir))
	if err != nil || sc.Encoding != "ulaw" || sc.BitsPerSample != 8 || sc.Size != int64(len(ub)) || sc.SHA256 != fileSHA(t, wavPath(udir)) {
		t.Fatalf("sidecar %+v %v", sc, err)
	}
	frames := int64(len(ub)-ulawHeaderSize) / 2

	// go-audio/wav: header and codes.
	d := wav.NewDecoder(bytes.NewReader(ub))
	if !d.IsValidFile() {
		t.Fatal("go-audio/wav: not a valid WAV")
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		t.Fatal(err)
	}
	if d.WavAudioFormat != 7 || d.NumChans != 2 || d.SampleRate != SampleRate || d.BitDepth != 8 || int64(len(buf.Data)) != 2*frames {
		t.Fatalf("go-audio/wav: format %d, %d ch, %d Hz, %d bit, %d samples", d.WavAudioFormat, d.NumChans, d.SampleRate, d.BitDepth, len(buf.Data))
	}
	pl, prt := decode(t, wavPath(pdir))
	for i := int64(0); i < frames; i++ {
		for ch, want := range []int16{pl[i], prt[i]} {
			got := g711.UlawToLinear(byte(buf.Data[2*i+int64(ch)]))
			if got != g711.UlawToLinear(g711.LinearToUlaw(want)) {
				t.Fatalf("frame %d channel %d: %d, PCM recording %d", i, ch, got, want)
			}
		}
	}

	// sox and soxi.
	soxi := requireTool(t, "soxi", "sox")
	sox := requireTool(t, "sox", "sox")
	for flag, want := range map[string]string{"-s": strconv.FormatInt(frames, 10), "-c": "2", "-r": "8000", "-e": "u-law"} {
		out, err := exec.Command(soxi, flag, wavPath(udir)).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("soxi %s = %q %v, want %s", flag, out, err, want)
		}
	}
	raw := filepath.Join(t.TempDir(), "out.s16")
	if out, err := exec.Command(sox, wavPath(udir), "-t", "raw", "-e", "signed", "-b", "16", "-L", raw).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	rb, _ := os.ReadFile(raw)
	if int64(len(rb)) != 4*frames {
		t.Fatalf("sox decoded %d bytes, want %d", len(rb), 4*frames)
	}
	for i := int64(0); i < frames; i++ {
		if got, want := int16(binary.LittleEndian.Uint16(rb[4*i:])), g711.UlawToLinear(g711.LinearToUlaw(pl[i])); got != want {
			t.Fatalf("sox frame %d: %d, want %d", i, got, want)
		}
	}
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		if out, err := exec.Command(ff, "-v", "error", "-i", wavPath(udir), "-f", "null", "-").CombinedOutput(); err != nil {
			t.Errorf("ffmpeg: %v: %s", err, out)
		}
	}
}

func TestULawRepair(t *testing.T) {
	r, clk, dir := testRec(t, WithFormat(FormatULaw))
	recordFor(t, r, clk, 0, 300)
	recordFor(t, r, clk, 300, 400)
	if err := r.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	r.kill()
	f, _ := os.OpenFile(wavPath(dir), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0xff}) // half a stereo frame
	f.Close()
	res, err := Repair(dir, WithClock(ClockFunc(func() time.Time { return time.Unix(0, 0) })))
	want := int64(7980*8 - 2400)
	if err != nil || len(res) != 1 || res[0].Err != nil || res[0].FileSamples != want || res[0].TruncatedBytes != 1 {
		t.Fatalf("repair %+v %v", res, err)
	}
	sc, err := ReadSidecar(jsonPath(dir))
	if err != nil || sc.Encoding != "ulaw" || sc.Size != ulawHeaderSize+2*want {
		t.Fatalf("sidecar %+v %v", sc, err)
	}
	soxi := requireTool(t, "soxi", "sox")
	if out, err := exec.Command(soxi, "-s", wavPath(dir)).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != strconv.FormatInt(want, 10) {
		t.Fatalf("soxi -s: %s %v", out, err)
	}
}
