package mask

import (
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
)

var fullMatrix = flag.Bool("mask-matrix", false, "run the full masking matrix of keys over speech and music (make test-mask-matrix)")

// overlapResult is what one case of the matrix gave, through the masker.
type overlapResult struct {
	c                 *dtmftest.Case
	in, carrier       []int16 // through the case's codec
	agent, recording  []int16
	late, recLate     uint64
	keyMasked, keyLen []int // per key: agent samples masked inside the key, and its length
	outside           int   // keys with an agent sample masked 30-50 ms before or after them
	notchOutside      int   // keys with an agent sample notched (changed, not replaced) there
	replaced, notched []bool
}

// runOverlapCase sends one case through a masker in tone mode with the recording tap on,
// packets arriving every packet time on a fake clock, and returns what the agent heard and
// what the recording holds, on the sender's timeline.
func runOverlapCase(t testing.TB, c *dtmftest.Case) *overlapResult {
	mix, carrier := c.Mix()
	codec, pt := CodecPCMU, uint8(0)
	law := g711.Ulaw
	if c.Codec == "PCMA" {
		codec, pt, law = CodecPCMA, 8, g711.Alaw
	}
	roundTrip := func(pcm []int16) []int16 {
		b := make([]byte, len(pcm))
		out := make([]int16, len(pcm))
		if law == g711.Alaw {
			g711.EncodeAlaw(b, pcm)
		} else {
			g711.EncodeUlaw(b, pcm)
		}
		law.Decode(out, b)
		return out
	}
	res := &overlapResult{c: c, in: roundTrip(mix), carrier: roundTrip(carrier)}
	rec := make([]int16, len(mix))
	res.replaced = make([]bool, len(mix))
	const ts0 = 0x1000
	k := New(WithRecordTap(0, func(ssrc, ts uint32, f *RecordFrame) {
		at := int(ts - ts0)
		f.PCM(rec[at:])
		for i, s := range f.Silent {
			res.replaced[at+i] = s
		}
	}, nil))
	k.Configure(Policy{Mode: ModeTone}, nil)
	s := &stream{pt: pt, ssrc: 7, codec: codec, ts: ts0}
	var in []timed
	dt := time.Duration(c.Ptime) * time.Second / rate
	for i := 0; i+c.Ptime <= len(mix); i += c.Ptime {
		in = append(in, timed{at: time.Duration(i/c.Ptime) * dt, pkt: s.packet(mix[i:i+c.Ptime], i == 0)})
	}
	out, _ := drive(t, k, in)
	k.FlushRecord()
	res.agent, res.recording = decode(t, out), rec
	st := k.Stats()
	res.late, res.recLate = st.LateMasks, st.RecordLateMasks
	// The recording tap flags the replaced samples (the same spans as the agent's, which
	// gets them first); a sample the agent got changed otherwise was notched.
	res.notched = make([]bool, len(res.in))
	for j := range min(len(res.in), len(res.agent)) {
		res.notched[j] = res.agent[j] != res.in[j] && !res.replaced[j]
	}
	masked := func(j int) bool { return res.replaced[j] }
	for _, p := range c.Keys() {
		m := 0
		for j := p.At; j < p.At+p.Dur; j++ {
			if masked(j) {
				m++
			}
		}
		res.keyMasked = append(res.keyMasked, m)
		res.keyLen = append(res.keyLen, p.Dur)
		out, nout := false, false
		for _, w := range [][2]int{{p.At - 50*msS, p.At - 30*msS}, {p.At + p.Dur + 30*msS, p.At + p.Dur + 50*msS}} {
			for j := max(0, w[0]); j < min(len(res.in), w[1]); j++ {
				out = out || masked(j)
				nout = nout || res.notched[j]
			}
		}
		if out {
			res.outside++
		}
		if nout {
			res.notchOutside++
		}
	}
	return res
}

// speechCache and musicCache serve the corpus audio the matrix asks for from one read.
func speechCache(t testing.TB) func(n, skip int) []float64 { return audioCache(t, corpus.Files) }

func musicCache(t testing.TB) func(n, skip int) []float64 { return audioCache(t, corpus.MusicFiles) }

func audioCache(t testing.TB, list func() ([]string, error)) func(n, skip int) []float64 {
	var all []float64
	return func(n, skip int) []float64 {
		if all == nil {
			all = dtmftest.Carrier(t, list)
		}
		out := make([]float64, n)
		for i := range out {
			out[i] = all[(skip+i)%len(all)]
		}
		return out
	}
}

// outsidePct is the bar for masking outside the keys: at most 1 % of keys have a sample
// replaced 30-50 ms before or after them.
const outsidePct = 1

// TestMaskOverlap: keys keyed over speech and music, held, faded in, staggered, off
// frequency and twisted (dtmftest.Matrix: one case per group, or every case with
// -mask-matrix), through a masker in tone mode with the recording tap. Three independent
// judges (multimon-ng, dtmf2num -o, spandsp) look for each keyed digit within 100 ms of its
// own time in what the agent hears and in the recording; a leak is one they do not also
// find in the carrier alone there. The test logs the leaks per class and judge and the
// replaced and notched samples outside the keys, and holds them to the bar: no leak, and
// at most outsidePct of keys with a sample replaced 30-50 ms outside them.
func TestMaskOverlap(t *testing.T) {
	judges := dtmftest.NewJudges(t)
	cases := dtmftest.Matrix(*fullMatrix, speechCache(t), musicCache(t))
	results := make([]*overlapResult, len(cases))
	for i := range cases {
		results[i] = runOverlapCase(t, &cases[i])
	}
	type tally struct {
		keys, inHeard int
		agent, rec    [dtmftest.NumJudges]int
		minCover      float64
		outside, late int
		notchOutside  int
	}
	groups := map[string]*tally{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	var failures []string
	leaked := map[[2]int]bool{}
	for _, r := range results {
		g := groups[r.c.Group]
		if g == nil {
			g = &tally{minCover: 1}
			groups[r.c.Group] = g
		}
		g.keys += len(r.keyLen)
		g.outside += r.outside
		g.notchOutside += r.notchOutside
		g.late += int(r.late + r.recLate)
		for i := range r.keyLen {
			g.minCover = min(g.minCover, float64(r.keyMasked[i])/float64(r.keyLen[i]))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			keys := r.c.Keys()
			la, err1 := judges.Leaks(r.agent, r.carrier, keys)
			lr, err2 := judges.Leaks(r.recording, r.carrier, keys)
			// How many keys the judges hear in the input at all: the matrix must be hard.
			li, err3 := judges.Leaks(r.in, r.carrier, keys)
			mu.Lock()
			defer mu.Unlock()
			for _, err := range []error{err1, err2, err3} {
				if err != nil {
					t.Error(err)
				}
			}
			heard := map[int]bool{}
			for j := range dtmftest.NumJudges {
				g.agent[j] += len(la[j])
				g.rec[j] += len(lr[j])
				for _, i := range li[j] {
					heard[i] = true
				}
				for _, i := range append(append([]int(nil), la[j]...), lr[j]...) {
					leaked[[2]int{slices.Index(results, r), i}] = true
				}
				if len(la[j])+len(lr[j]) > 0 {
					failures = append(failures, fmt.Sprintf("%s (%s %d ms): %v leaks keys %v to the agent, %v to the recording",
						r.c.Name, r.c.Codec, r.c.Ptime/msS, dtmftest.JudgeName(j), la[j], lr[j]))
				}
			}
			g.inHeard += len(heard)
		}()
	}
	wg.Wait()
	var names []string
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	total := 0
	outside := 0
	for _, n := range names {
		g := groups[n]
		total += g.keys
		outside += g.outside
		fmt.Fprintf(&b, "\n%-10s %3d keys, %3d heard by a judge in the input; leaks agent/recording: multimon-ng %d/%d, dtmf2num %d/%d, spandsp %d/%d; key masked >= %.0f %%; %d keys with a mask, %d with a notch, 30-50 ms outside; %d late masks",
			n, g.keys, g.inHeard, g.agent[0], g.rec[0], g.agent[1], g.rec[1], g.agent[2], g.rec[2], 100*g.minCover, g.outside, g.notchOutside, g.late)
	}
	t.Logf("masking matrix (%d cases):%s", len(cases), b.String())
	sort.Strings(failures)
	for _, f := range failures {
		t.Log(f)
	}
	t.Logf("%d of %d keys leak to some judge; %d have a mask 30-50 ms outside them", len(leaked), total, outside)
	if len(leaked) > 0 {
		t.Errorf("%d keys leak (bar 0)", len(leaked))
	}
	if outside*100 > outsidePct*total {
		t.Errorf("%d of %d keys have a mask 30-50 ms outside them (bar %d %%)", outside, total, outsidePct)
	}
}
