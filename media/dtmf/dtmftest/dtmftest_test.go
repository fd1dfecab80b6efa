package dtmftest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
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

// fatalTB records a Fatal instead of failing the test that runs it.
type fatalTB struct {
	testing.TB
	fatal string
}

func (f *fatalTB) Fatal(args ...any) { f.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestJudgeFailsWhenItCannotHear: a file multimon-ng cannot read (sox refuses it, and
// multimon-ng still exits 0) fails the judge rather than reporting no digits.
func TestJudgeFailsWhenItCannotHear(t *testing.T) {
	bin := Tool(t, "multimon-ng", "multimon-ng")
	path := filepath.Join(t.TempDir(), "bad.wav")
	if err := os.WriteFile(path, []byte("not a WAV file"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb := &fatalTB{TB: t}
	done := make(chan string, 1)
	go func() {
		defer close(done)
		done <- JudgeFile(tb, bin, path)
	}()
	if got, ok := <-done; ok {
		t.Fatalf("the judge heard %q in a file it cannot read, and did not fail", got)
	}
	if tb.fatal == "" {
		t.Fatal("the judge stopped without saying why")
	}
	t.Logf("judge failed as it should: %.80s", tb.fatal)
}
