package dtmftest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The three independent judges of a masking test. Each says which keys it hears in a piece of
// audio; a keyed digit leaks when a judge hears it within LeakWindow of its own time in the
// output and not in the carrier alone (the speech or music without the key) there.

// JudgeName names one judge.
type JudgeName int

const (
	// Multimon is `multimon-ng -a DTMF` (Debian package multimon-ng).
	Multimon JudgeName = iota
	// Dtmf2num is `dtmf2num -o` (Debian package dtmf2num): permissive, it also finds digits in
	// plain speech, which is why only the keyed digit at its own time counts.
	Dtmf2num
	// Spandsp is spandsp's DTMF receiver (Debian package libspandsp-dev) with its default
	// parameters, in a small C program built with gcc by the test.
	Spandsp
	// NumJudges is how many judges there are.
	NumJudges
)

var judgeNames = [NumJudges]string{"multimon-ng", "dtmf2num", "spandsp"}

func (j JudgeName) String() string { return judgeNames[j] }

// LeakWindow is how far, in samples, from a key's own span a judge's digit still counts as
// that key: 100 ms.
const LeakWindow = Rate / 10

// Judges runs the three judges. Make it with NewJudges; it is safe for concurrent use.
type Judges struct {
	dir                         string
	multimon, dtmf2num, spandsp string
	mu                          sync.Mutex
	seq                         int
}

// spandspJudge reads 8 kHz 16-bit little-endian PCM on stdin and prints, for every digit
// spandsp's receiver reports, the key and the sample count fed when it reported it.
const spandspJudge = `#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <spandsp.h>

static long fed;

static void report(void *user, int code, int level, int delay) {
	(void) user; (void) level; (void) delay;
	if (code != 0)
		printf("%c %ld\n", code, fed);
}

int main(void) {
	dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
	if (rx == NULL)
		return 2;
	dtmf_rx_set_realtime_callback(rx, report, NULL);
	int16_t buf[40];
	size_t n;
	while ((n = fread(buf, sizeof buf[0], 40, stdin)) > 0) {
		fed += (long) n;
		dtmf_rx(rx, buf, (int) n);
	}
	return 0;
}
`

// NewJudges finds multimon-ng and dtmf2num and builds the spandsp judge with gcc
// (`pkg-config spandsp`), skipping the test when any is missing (failing with CI=true).
func NewJudges(t testing.TB) *Judges {
	t.Helper()
	j := &Judges{
		dir:      t.TempDir(),
		multimon: Tool(t, "multimon-ng", "multimon-ng"),
		dtmf2num: Tool(t, "dtmf2num", "dtmf2num"),
	}
	gcc := Tool(t, "gcc", "gcc")
	pc := Tool(t, "pkg-config", "pkg-config")
	flags, err := exec.Command(pc, "--cflags", "--libs", "spandsp").Output()
	if err != nil {
		Missing(t, "spandsp missing: install Debian package libspandsp-dev")
	}
	src := filepath.Join(j.dir, "spandsp_judge.c")
	if err := os.WriteFile(src, []byte(spandspJudge), 0o644); err != nil {
		t.Fatal(err)
	}
	j.spandsp = filepath.Join(j.dir, "spandsp_judge")
	args := append([]string{"-O2", "-o", j.spandsp, src}, strings.Fields(string(flags))...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("building the spandsp judge: %v\n%s", err, out)
	}
	return j
}

func (j *Judges) file(pcm []int16) (string, error) {
	j.mu.Lock()
	j.seq++
	path := filepath.Join(j.dir, fmt.Sprintf("clip%d.wav", j.seq))
	j.mu.Unlock()
	return path, WriteWAV(path, pcm)
}

// Hears returns the keys judge hears in pcm, in order.
func (j *Judges) Hears(judge JudgeName, pcm []int16) (string, error) {
	if judge == Spandsp {
		found, err := j.spandspDigits(pcm)
		var b strings.Builder
		for _, f := range found {
			b.WriteByte(f.Key)
		}
		return b.String(), err
	}
	path, err := j.file(pcm)
	if err != nil {
		return "", err
	}
	defer os.Remove(path)
	if judge == Multimon {
		out, err := exec.Command(j.multimon, "-q", "-c", "-a", "DTMF", "-t", "wav", path).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("multimon-ng: %w\n%s", err, out)
		}
		var d strings.Builder
		for _, line := range strings.Split(string(out), "\n") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(line), "DTMF: "); ok && len(k) == 1 {
				d.WriteString(k)
			}
		}
		return d.String(), nil
	}
	out, err := exec.Command(j.dtmf2num, "-o", path).Output()
	if err != nil {
		return "", fmt.Errorf("dtmf2num: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "- DTMF numbers:"); ok {
			k = strings.TrimSpace(k)
			if k == "none" {
				return "", nil
			}
			return k, nil
		}
	}
	return "", fmt.Errorf("dtmf2num: no result line in %q", out)
}

// Found is a digit a judge reported and the sample position it reported it at.
type Found struct {
	Key byte
	Pos int
}

func (j *Judges) spandspDigits(pcm []int16) ([]Found, error) {
	in := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(in[2*i:], uint16(v))
	}
	cmd := exec.Command(j.spandsp)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("spandsp judge: %w", err)
	}
	var found []Found
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || len(f[0]) != 1 {
			continue
		}
		p, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("spandsp judge: %q", sc.Text())
		}
		found = append(found, Found{Key: f[0][0], Pos: p})
	}
	return found, nil
}

// Placed is a keyed digit on a timeline: its tones span [At, At+Dur).
type Placed struct {
	Key     byte
	At, Dur int
}

// Leaks returns, for each judge, the indices of keys that leak in out: the judge hears the
// key within LeakWindow of its span in out and not in carrier there. out and carrier share
// one timeline. Spandsp reports positions, so it judges whole signals; the others judge a
// clip of each key's span and LeakWindow around it.
func (j *Judges) Leaks(out, carrier []int16, keys []Placed) (leaks [NumJudges][]int, err error) {
	clip := func(pcm []int16, k Placed) []int16 {
		return pcm[max(0, k.At-LeakWindow):min(len(pcm), k.At+k.Dur+LeakWindow)]
	}
	type res struct {
		judge JudgeName
		i     int
		leak  bool
		err   error
	}
	work := make(chan [2]int)
	results := make(chan res)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range work {
				judge, i := JudgeName(w[0]), w[1]
				k := keys[i]
				heard, err := j.Hears(judge, clip(out, k))
				leak := err == nil && strings.IndexByte(heard, k.Key) >= 0
				if leak {
					var base string
					base, err = j.Hears(judge, clip(carrier, k))
					leak = err == nil && strings.IndexByte(base, k.Key) < 0
				}
				results <- res{judge, i, leak, err}
			}
		}()
	}
	go func() {
		for i := range keys {
			for _, judge := range []JudgeName{Multimon, Dtmf2num} {
				work <- [2]int{int(judge), i}
			}
		}
		close(work)
		wg.Wait()
		close(results)
	}()
	for r := range results {
		if r.err != nil && err == nil {
			err = r.err
		}
		if r.leak {
			leaks[r.judge] = append(leaks[r.judge], r.i)
		}
	}
	if err != nil {
		return leaks, err
	}
	fo, err := j.spandspDigits(out)
	if err != nil {
		return leaks, err
	}
	fc, err := j.spandspDigits(carrier)
	if err != nil {
		return leaks, err
	}
	near := func(fs []Found, k Placed) bool {
		for _, f := range fs {
			if f.Key == k.Key && f.Pos >= k.At-LeakWindow && f.Pos < k.At+k.Dur+LeakWindow {
				return true
			}
		}
		return false
	}
	for i, k := range keys {
		if near(fo, k) && !near(fc, k) {
			leaks[Spandsp] = append(leaks[Spandsp], i)
		}
	}
	for jn := range leaks {
		slices.Sort(leaks[jn])
	}
	return leaks, nil
}
