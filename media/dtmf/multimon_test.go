package dtmf

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeWAV16 writes 8 kHz mono 16-bit PCM as a WAV file.
func writeWAV16(path string, pcm []int16) error {
	b := make([]byte, 44+2*len(pcm))
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(pcm)))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], SampleRate)
	binary.LittleEndian.PutUint32(b[28:], 2*SampleRate)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*len(pcm)))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return os.WriteFile(path, b, 0o600)
}

// TestGeneratorAgainstMultimon checks the test tone generator (and with it
// the keypad and frequency tables both it and the detector use) against an
// independent decoder: multimon-ng must read all 16 keys, in order, from
// the generated signal after a G.711 round trip, and so must the detector.
func TestGeneratorAgainstMultimon(t *testing.T) {
	tools := []struct{ bin, pkg string }{{"multimon-ng", "multimon-ng"}, {"sox", "sox"}}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool.bin); err != nil {
			msg := tool.bin + " not found: install Debian package " + tool.pkg
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	sig := make([]float64, 400+len(digitKeys)*1600)
	for i := range len(digitKeys) {
		tone{key: digitKeys[i], at: 400 + i*1600, dur: 100 * ms, lowDB: -10, highDB: -10}.add(sig)
	}
	pcm := quantise(sig, ulaw)
	path := filepath.Join(t.TempDir(), "keys.wav")
	if err := writeWAV16(path, pcm); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "multimon-ng", "-q", "-c", "-a", "DTMF", "-t", "wav", path).CombinedOutput()
	if err != nil {
		t.Fatalf("multimon-ng: %v\n%s", err, out)
	}
	var got strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "DTMF: "); ok && len(d) == 1 {
			got.WriteString(d)
		}
	}
	t.Logf("multimon-ng read %q", got.String())
	if got.String() != digitKeys {
		t.Fatalf("multimon-ng read %q, want %q\n%s", got.String(), digitKeys, out)
	}
	if own := digitsOf(run(NewDetector(), pcm, 160)); own != digitKeys {
		t.Fatalf("detector read %q, want %q", own, digitKeys)
	}
}
