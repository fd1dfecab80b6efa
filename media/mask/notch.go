package mask

import (
	"math"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/g711"
)

// The notch: where the detector sees weak DTMF-like evidence (NotchStart/
// NotchEnd), the masker removes the bands of the DTMF frequencies it names
// (the four high ones always, a low one once a pair shows it) instead of
// replacing the audio. A key, and any decoder, needs both tones; a voice
// or music loses only narrow bands (the high group's hold about 3 % of a
// voice's energy).

// Each DTMF frequency f gets notchSections second-order notches at
// f(1+s) for s in notchSpread, each of bandwidth notchBW Hz: together at
// least 12 dB down over f +-2.5 % (an off-frequency key), and within 1 dB
// of unity 10 % from every DTMF frequency.
var notchSpread = [...]float64{-0.018, 0, 0.018}

const (
	notchBW       = 60.0
	notchSections = len(notchSpread)
)

// biquad is a second-order section y = (b0 + b1 z^-1 + b0 z^-2) x /
// (1 + a1 z^-1 + a2 z^-2): a notch.
type biquad struct{ b0, b1, a1, a2 float64 }

// notchBank[k] are the sections of DTMF frequency k (697 Hz first).
var notchBank = func() (q [8][notchSections]biquad) {
	r := math.Exp(-math.Pi * notchBW / 8000)
	for k, f := range dtmfFreqs {
		for i, s := range notchSpread {
			c := math.Cos(2 * math.Pi * f * (1 + s) / 8000)
			g := (1 + r*r) / 2 // unity gain far from the notch
			q[k][i] = biquad{b0: g, b1: -2 * c * g, a1: -2 * r * c, a2: r * r}
		}
	}
	return q
}()

// notchSpan is a notched interval [start, end) of the detector timeline
// and the DTMF frequencies it takes out (dtmf.Event.Tones). Open while end
// is math.MaxInt64.
type notchSpan struct {
	start, end int64
	tones      uint8
}

// notchFilter is the bank's state along one output (forwarded or
// recorded): it runs over the timeline in order, one frequency's sections
// wherever a span names it, each starting from rest where its notched
// samples are not contiguous.
type notchFilter struct {
	next [8]int64 // timeline position of the sample each frequency's sections expect next
	st   [8][notchSections]biquadState
}

type biquadState struct{ x1, x2, y1, y2 float64 }

// apply notches the samples of codes (law, at timeline position pos0)
// that lie in spans and are not set in skip (replaced anyway; the filter
// still runs over them), re-encoding them in place. It returns the count
// of samples changed. memo, if not nil, holds chunks the masker's other
// notch filter computed: a chunk found there with the same input, spans
// and filter state is taken from it, not filtered again; with share, the
// chunks computed here go into it for the other filter.
func (f *notchFilter) apply(codes []byte, skip []bool, pos0 int64, law g711.Law, spans []notchSpan, memo *notchMemo, share bool) int {
	p1 := pos0 + int64(len(codes))
	// The spans over this stretch (at most maxSpans).
	var over [maxSpans]notchSpan
	n := 0
	for _, sp := range spans {
		if sp.start < p1 && sp.end > pos0 {
			over[n] = sp
			n++
		}
	}
	if n == 0 {
		return 0
	}
	dec := &ulawLinear
	if law == g711.Alaw {
		dec = &alawLinear
	}
	changed := 0
	for c := 0; c < len(codes); c += notchChunk {
		chunk := codes[c:min(c+notchChunk, len(codes))]
		at := pos0 + int64(c)
		// Which tones each sample takes out.
		var tones [notchChunk]uint8
		var all uint8
		for _, sp := range over[:n] {
			from, to := max(sp.start-at, 0), min(sp.end-at, int64(len(chunk)))
			for i := from; i < to; i++ {
				tones[i] |= sp.tones
			}
			if from < to {
				all |= sp.tones
			}
		}
		if all == 0 {
			continue
		}
		var cont uint8 // the frequencies whose state carries into the chunk
		for k := range 8 {
			if all&(1<<k) != 0 && f.next[k] == at {
				cont |= 1 << k
			}
		}
		var sk []bool
		if skip != nil {
			sk = skip[c : c+len(chunk)]
		}
		e := memo.find(at, chunk, &tones, all, cont, f)
		if e != nil {
			for k := range 8 {
				if all&(1<<k) != 0 {
					f.st[k], f.next[k] = e.after[k], e.next[k]
				}
			}
		} else {
			if share {
				e = memo.put(at, chunk, &tones, all, cont, f)
			}
			if e == nil {
				changed += f.filter(chunk, chunk, sk, &tones, all, at, dec, law, nil)
				continue
			}
			f.filter(e.out[:len(chunk)], chunk, nil, &tones, all, at, dec, law, e)
		}
		for i := range chunk {
			if tones[i] == 0 || sk != nil && sk[i] {
				continue
			}
			chunk[i] = e.out[i]
			changed++
		}
	}
	return changed
}

// filter runs one chunk of codes (at timeline position at; tones says
// which frequencies each sample takes out, all is their union) through the
// bank, writes the re-encoded samples with tones and not set in skip (nil:
// none) to dst (chunk itself, or a memo entry's out), and returns their
// count. With e, the state after the chunk goes there too.
func (f *notchFilter) filter(dst, chunk []byte, skip []bool, tones *[notchChunk]uint8, all uint8, at int64, dec *[256]float64, law g711.Law, e *memoEntry) int {
	var x [notchChunk]float64
	for i, code := range chunk {
		x[i] = float64(dec[code])
	}
	// Sections in series commute: each frequency filters its runs in turn.
	for k := range 8 {
		bit := uint8(1) << k
		if all&bit == 0 {
			continue
		}
		for i := 0; i < len(chunk); {
			if tones[i]&bit == 0 {
				i++
				continue
			}
			j := i
			for j < len(chunk) && tones[j]&bit != 0 {
				j++
			}
			if f.next[k] != at+int64(i) {
				f.st[k] = [notchSections]biquadState{}
			}
			f.run(k, x[i:j])
			f.next[k] = at + int64(j)
			i = j
		}
		if e != nil {
			e.after[k], e.next[k] = f.st[k], f.next[k]
		}
	}
	n := 0
	dst = dst[:len(chunk)]
	for i := range dst {
		if tones[i] == 0 || skip != nil && skip[i] {
			continue
		}
		v := int16(max(-32768, min(32767, math.Round(x[i]))))
		if law == g711.Alaw {
			dst[i] = g711.LinearToAlaw(v)
		} else {
			dst[i] = g711.LinearToUlaw(v)
		}
		n++
	}
	return n
}

// notchMemo is what one of a masker's two notch filters (forwarded and
// recorded output) computed over its last chunks, for the other: both
// notch the same samples with the same spans, the recorded output a few
// packets after the forwarded one (or before it, with a look-ahead longer
// than the recording's). A chunk is taken from it only where the result
// cannot differ: the same codes, the same tones at every sample, and each
// frequency's filter state at the chunk's start the same to the bit.
type notchMemo struct {
	e    [notchMemoLen]memoEntry
	last int // the entry put last
}

// notchMemoLen covers the packets between the two outputs with 10 ms
// packets and look-aheads up to 100 ms (with 200 ms the recording runs six
// 20 ms packets ahead, and most chunks are filtered twice as without it).
const notchMemoLen = 3

type memoEntry struct {
	at        int64
	n         int // codes; 0: empty
	all, cont uint8
	tones     [notchChunk]uint8
	in, out   [notchChunk]byte
	next      [8]int64
	before    [8][notchSections]biquadState // of the frequencies in cont
	after     [8][notchSections]biquadState // of the frequencies in all
}

// find returns the entry computed for the chunk at at in the state f is
// in, or nil.
func (m *notchMemo) find(at int64, chunk []byte, tones *[notchChunk]uint8, all, cont uint8, f *notchFilter) *memoEntry {
	if m == nil {
		return nil
	}
	for i := range m.e {
		e := &m.e[i]
		if e.at != at || e.n != len(chunk) || e.all != all || e.cont != cont {
			continue
		}
		if e.tones != *tones || string(e.in[:e.n]) != string(chunk) {
			return nil
		}
		for k := range 8 {
			if cont&(1<<k) != 0 && !sameState(&e.before[k], &f.st[k]) {
				return nil
			}
		}
		return e
	}
	return nil
}

// put starts the entry for the chunk at at, computed from f's state.
func (m *notchMemo) put(at int64, chunk []byte, tones *[notchChunk]uint8, all, cont uint8, f *notchFilter) *memoEntry {
	if m == nil {
		return nil
	}
	m.last = (m.last + 1) % notchMemoLen
	e := &m.e[m.last]
	e.at, e.n, e.all, e.cont = at, len(chunk), all, cont
	e.tones = *tones
	copy(e.in[:], chunk)
	for k := range 8 {
		if cont&(1<<k) != 0 {
			e.before[k] = f.st[k]
		}
	}
	return e
}

// sameState compares two states bit for bit (a zero's sign included).
func sameState(a, b *[notchSections]biquadState) bool {
	for i := range a {
		if math.Float64bits(a[i].x1) != math.Float64bits(b[i].x1) || math.Float64bits(a[i].x2) != math.Float64bits(b[i].x2) ||
			math.Float64bits(a[i].y1) != math.Float64bits(b[i].y1) || math.Float64bits(a[i].y2) != math.Float64bits(b[i].y2) {
			return false
		}
	}
	return true
}

// ulawLinear and alawLinear decode a code to a number at once.
var ulawLinear, alawLinear = linearTable(g711.UlawToLinear), linearTable(g711.AlawToLinear)

func linearTable(dec func(byte) int16) (t [256]float64) {
	for c := range t {
		t[c] = float64(dec(byte(c)))
	}
	return t
}

// notchChunk samples are notched at a time.
const notchChunk = 160

// run passes x through frequency k's sections in place, their state kept
// in registers for the run.
func (f *notchFilter) run(k int, x []float64) {
	q0, q1, q2 := notchBank[k][0], notchBank[k][1], notchBank[k][2]
	s0, s1, s2 := f.st[k][0], f.st[k][1], f.st[k][2]
	for i, v := range x {
		y := q0.b0*(v+s0.x2) + q0.b1*s0.x1 - q0.a1*s0.y1 - q0.a2*s0.y2
		s0.x2, s0.x1, s0.y2, s0.y1 = s0.x1, v, s0.y1, y
		v = y
		y = q1.b0*(v+s1.x2) + q1.b1*s1.x1 - q1.a1*s1.y1 - q1.a2*s1.y2
		s1.x2, s1.x1, s1.y2, s1.y1 = s1.x1, v, s1.y1, y
		v = y
		y = q2.b0*(v+s2.x2) + q2.b1*s2.x1 - q2.a1*s2.y1 - q2.a2*s2.y2
		s2.x2, s2.x1, s2.y2, s2.y1 = s2.x1, v, s2.y1, y
		x[i] = y
	}
	f.st[k][0], f.st[k][1], f.st[k][2] = s0, s1, s2
}

// notchEvent applies a detector NotchStart or NotchEnd to the spans.
func (k *Masker) notchEvent(e dtmf.Event) {
	if e.Kind == dtmf.NotchStart {
		if k.nnotches == maxSpans {
			// Full: drop the span that ended first (it is the furthest
			// behind what is still queued).
			victim := -1
			for i := range k.nnotches {
				if k.notches[i].end != math.MaxInt64 && (victim < 0 || k.notches[i].end < k.notches[victim].end) {
					victim = i
				}
			}
			if victim < 0 {
				victim = 0
			}
			k.nnotches--
			k.notches[victim] = k.notches[k.nnotches]
		}
		k.notches[k.nnotches] = notchSpan{start: e.Pos, end: math.MaxInt64, tones: e.Tones}
		k.nnotches++
		return
	}
	for i := range k.nnotches {
		if k.notches[i].end == math.MaxInt64 {
			k.notches[i].end = e.Pos
		}
	}
}
