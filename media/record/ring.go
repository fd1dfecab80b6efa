package record

import (
	"sync/atomic"
	"unsafe"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/internal/prefault"
)

// slotSamples is the PCM capacity of one ring slot: one 20 ms frame at
// 8 kHz. Longer frames take several consecutive slots.
const slotSamples = 160

// slot is one fixed-size frame in the handoff ring. It is copied into by
// the packet goroutine, so Write never allocates. A frame comes as G.711
// codes (WriteG711: half the bytes of PCM to copy and to move between
// cores, the writer decodes) or as PCM (Write) in the same bytes, and
// only what a frame uses is touched.
type slot struct {
	arrival int64 // timeline sample position when Write was called
	ts      uint32
	ssrc    uint32
	n       uint16
	law     g711.Law // 0: data holds PCM (see pcm)
	muted   bool     // some samples are to be silence: see mute
	mute    [muteWords]uint64
	data    [2 * slotSamples]byte
}

// pcm is the slot's data as PCM samples (law 0). data's offset in the
// slot is a multiple of 8, so the samples are aligned.
func (s *slot) pcm() *[slotSamples]int16 { return (*[slotSamples]int16)(unsafe.Pointer(&s.data)) }

// codes is the slot's data as G.711 codes (law not 0).
func (s *slot) codes() *[slotSamples]byte { return (*[slotSamples]byte)(s.data[:slotSamples]) }

const muteWords = (slotSamples + 63) / 64

// samples returns the slot's frame as PCM: pcm itself, or the codes
// decoded into scratch with the muted samples zeroed.
func (s *slot) samples(scratch *[slotSamples]int16) []int16 {
	if s.law == 0 {
		return s.pcm()[:s.n]
	}
	out := scratch[:s.law.Decode(scratch[:s.n], s.codes()[:s.n])]
	if s.muted {
		for i := range out {
			if s.mute[i/64]&(1<<(i%64)) != 0 {
				out[i] = 0
			}
		}
	}
	return out
}

// ring is a bounded single-producer single-consumer queue of slots. The
// producer (one packet goroutine per leg) owns tail, the consumer (the
// writer goroutine) owns head; each publishes its counter with an atomic
// store after touching the slot and loads the other's atomically before
// touching one: the store synchronizes with the load (Go memory model), so
// the slot's plain contents are ordered for the other side.
// Padding keeps the two counters on separate cache lines. The producer
// keeps its own copy of head, refreshed only when the ring looks full: head
// is written on the writer's core, and reading it on every push would move
// its line across cores once per frame.
type ring struct {
	// The producer's fields, within 48 bytes: what push reads and writes
	// (slots and mask are fixed; the consumer reads them with tail). The
	// allocator does not align the ring to a cache line, so they take one
	// line or two; the 64 bytes after them keep head off those lines
	// wherever the ring lands.
	tail  atomic.Uint64
	seen  uint64 // producer only: head as last loaded, <= head
	slots []slot
	mask  uint64
	_     [64]byte
	// The consumer's.
	head    atomic.Uint64
	_       [56]byte
	dropped atomic.Uint64 // frames refused because the ring was full
}

func newRing(slots int) *ring {
	n := 1
	for n < slots {
		n <<= 1
	}
	q := &ring{slots: make([]slot, n), mask: uint64(n - 1)}
	prefault.Slice(q.slots) // the packet path's first writes must not fault (media/internal/prefault)
	return q
}

// used is the number of filled slots, as seen by either side.
func (q *ring) used() uint64 { return q.tail.Load() - q.head.Load() }

// usedAtLeast reports, for the producer, whether n or more slots are
// filled. It loads head only when its copy says so.
func (q *ring) usedAtLeast(n uint64) bool {
	t := q.tail.Load()
	if t-q.seen < n {
		return false
	}
	q.seen = q.head.Load()
	return t-q.seen >= n
}

// reserve returns the tail if n samples' slots are free. Only the
// producer calls it.
func (q *ring) reserve(n int) (uint64, bool) {
	need := uint64((n + slotSamples - 1) / slotSamples)
	t := q.tail.Load()
	if t-q.seen+need > uint64(len(q.slots)) {
		if q.seen = q.head.Load(); t-q.seen+need > uint64(len(q.slots)) {
			return 0, false
		}
	}
	return t, true
}

// stamp returns slot t, its bookkeeping set for the part of a frame that
// starts off samples in; muted is cleared.
func (q *ring) stamp(t uint64, ssrc, ts uint32, arrival int64, off int, law g711.Law) *slot {
	s := &q.slots[t&q.mask]
	s.ts, s.ssrc, s.arrival = ts+uint32(off), ssrc, arrival+int64(off)
	s.law, s.muted = law, false
	return s
}

// push copies one PCM frame into as many slots as it needs, all or
// nothing. Only the producer calls it; it never blocks.
func (q *ring) push(ssrc, ts uint32, arrival int64, pcm []int16) bool {
	t, ok := q.reserve(len(pcm))
	if !ok {
		return false
	}
	for off := 0; off < len(pcm); off += slotSamples {
		s := q.stamp(t, ssrc, ts, arrival, off, 0)
		s.n = uint16(copy(s.pcm()[:], pcm[off:]))
		t++
	}
	q.tail.Store(t)
	return true
}

// pushG711 is push for a frame of G.711 codes; silent, if not nil, has a
// flag per code: true for a sample to record as silence.
func (q *ring) pushG711(ssrc, ts uint32, arrival int64, law g711.Law, codes []byte, silent []bool) bool {
	t, ok := q.reserve(len(codes))
	if !ok {
		return false
	}
	for off := 0; off < len(codes); off += slotSamples {
		s := q.stamp(t, ssrc, ts, arrival, off, law)
		s.n = uint16(copy(s.codes()[:], codes[off:]))
		if silent != nil {
			s.mute = [muteWords]uint64{}
			for i, m := range silent[off:min(off+int(s.n), len(silent))] {
				if m {
					s.mute[i/64] |= 1 << (i % 64)
					s.muted = true
				}
			}
		}
		t++
	}
	q.tail.Store(t)
	return true
}

// peek returns the oldest filled slot or nil. Only the consumer calls it;
// the slot stays valid until release.
func (q *ring) peek() *slot {
	h := q.head.Load()
	if h == q.tail.Load() {
		return nil
	}
	return &q.slots[h&q.mask]
}

// release hands the slot returned by peek back to the producer.
func (q *ring) release() { q.head.Store(q.head.Load() + 1) }
