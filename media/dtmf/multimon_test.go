package dtmf

import (
	"context"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeWAV16 writes 8 kHz mono 16-bit PCM as a WAV file.
func writeWAV16(path string, pcm []int16) error { return dtmftest.WriteWAV(path, pcm) }

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
