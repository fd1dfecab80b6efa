package dtmftest

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func TestWAVRoundTripAndJudge(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	sig := make([]float64, 16*Rate/4)
	for i := range len(Keys) {
		Burst{Key: Keys[i], At: i * Rate / 4, Dur: Rate / 10, DBm0: -10}.AddTo(sig, r)
	}
	pcm := Quantize(sig)
	path := filepath.Join(dir, "keys.wav")
	if err := WriteWAV(path, pcm); err != nil {
		t.Fatal(err)
	}
	ch, err := ReadWAV(path)
	if err != nil || len(ch) != 1 || len(ch[0]) != len(pcm) || ch[0][123] != pcm[123] {
		t.Fatalf("round trip: %d channels, err %v", len(ch), err)
	}
	if got := Judge(t, dir, "judged", pcm); got != Keys {
		t.Fatalf("multimon-ng heard %q, want %q", got, Keys)
	}
}
