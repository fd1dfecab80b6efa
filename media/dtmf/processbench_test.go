package dtmf

import (
	"math/rand/v2"
	"testing"

	"github.com/hushmedia/hush/media/corpus"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
)

// BenchmarkProcessG711 reports the cost of one 20 ms mu-law packet through
// ProcessG711, the masker's entry point. burst is hushload's default
// payload (24 bytes of measurement header, loud noise, then mu-law zeros):
// three windows in four pass the energy gate on noise, the costly case.
func BenchmarkProcessG711(b *testing.B) {
	for _, src := range g711Sources(b) {
		b.Run(src.name, func(b *testing.B) {
			codes := src.codes()
			d := NewDetector()
			evs := make([]Event, 0, 8)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i+160 > len(codes) {
					i = 0
				}
				evs = d.ProcessG711(g711.Ulaw, codes[i:i+160], evs[:0])
				i += 160
			}
		})
	}
}

// BenchmarkProcessG711Streams is BenchmarkProcessG711 over a thousand
// detectors in turn, each prefetched a few packets ahead as the relay does:
// every packet finds its detector out of the nearer caches, so what a
// packet costs includes the cache lines it touches.
func BenchmarkProcessG711Streams(b *testing.B) {
	const streams, ahead = 1000, 4
	for _, src := range g711Sources(b) {
		if src.name != "burst" && src.name != "speech" {
			continue
		}
		b.Run(src.name, func(b *testing.B) {
			codes := src.codes()
			ds := make([]*Detector, streams)
			at := make([]int, streams)
			for i := range ds {
				ds[i] = NewDetector()
				at[i] = (i * 7 * 160) % (len(codes) - 160)
			}
			evs := make([]Event, 0, 8)
			step := func(i int) {
				ds[(i+ahead)%streams].Prefetch()
				s := i % streams
				evs = ds[s].ProcessG711(g711.Ulaw, codes[at[s]:at[s]+160], evs[:0])
				if at[s] += 160; at[s]+160 > len(codes) {
					at[s] = 0
				}
			}
			for i := range 10 * streams {
				step(i)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				step(i)
				i++
			}
		})
	}
}

type g711Source struct {
	name  string
	codes func() []byte
}

func g711Sources(b testing.TB) []g711Source {
	toCodes := func(pcm []int16) []byte {
		codes := make([]byte, len(pcm))
		g711.EncodeUlaw(codes, pcm)
		return codes
	}
	return []g711Source{
		{"burst", func() []byte {
			r := rand.New(rand.NewPCG(5, 5))
			codes := make([]byte, SampleRate)
			for i := range codes {
				codes[i] = 0xFF
				if i%160 < 24 {
					codes[i] = byte(r.IntN(256))
				}
			}
			return codes
		}},
		{"silence", func() []byte { return toCodes(benchSignal("silence")) }},
		{"noise", func() []byte { return toCodes(benchSignal("noise")) }},
		{"tone", func() []byte { return toCodes(benchSignal("tone")) }},
		{"speech", func() []byte { return toCodes(quantise(dtmftest.Speech(b, 120*SampleRate, 0), ulaw)) }},
		{"music", func() []byte {
			return toCodes(quantise(dtmftest.Carrier(b, corpus.MusicFiles)[:120*SampleRate], ulaw))
		}},
	}
}
