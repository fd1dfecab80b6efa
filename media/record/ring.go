package record

import "sync/atomic"

// slotSamples is the PCM capacity of one ring slot: one 20 ms frame at
// 8 kHz. Longer frames take several consecutive slots.
const slotSamples = 160

// slot is one fixed-size frame in the handoff ring. It is copied into by
// the packet goroutine, so Write never allocates.
type slot struct {
	pcm     [slotSamples]int16
	arrival int64 // timeline sample position when Write was called
	ts      uint32
	ssrc    uint32
	n       uint16
}

// ring is a bounded single-producer single-consumer queue of slots. The
// producer (one packet goroutine per leg) owns tail, the consumer (the
// writer goroutine) owns head; each publishes with an atomic store after
// touching the slot, which orders the slot contents for the other side.
// Padding keeps the two counters on separate cache lines. The producer
// keeps its own copy of head, refreshed only when the ring looks full: head
// is written on the writer's core, and reading it on every push would move
// its line across cores once per frame.
type ring struct {
	tail    atomic.Uint64
	seen    uint64 // producer only: head as last loaded, <= head
	_       [48]byte
	head    atomic.Uint64
	_       [56]byte
	dropped atomic.Uint64 // frames refused because the ring was full
	slots   []slot
	mask    uint64
}

func newRing(slots int) *ring {
	n := 1
	for n < slots {
		n <<= 1
	}
	return &ring{slots: make([]slot, n), mask: uint64(n - 1)}
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

// push copies one frame into as many slots as it needs, all or nothing.
// Only the producer calls it; it never blocks.
func (q *ring) push(ssrc, ts uint32, arrival int64, pcm []int16) bool {
	need := uint64((len(pcm) + slotSamples - 1) / slotSamples)
	t := q.tail.Load()
	if t-q.seen+need > uint64(len(q.slots)) {
		if q.seen = q.head.Load(); t-q.seen+need > uint64(len(q.slots)) {
			return false
		}
	}
	for off := 0; off < len(pcm); off += slotSamples {
		s := &q.slots[t&q.mask]
		s.n = uint16(copy(s.pcm[:], pcm[off:]))
		s.ts = ts + uint32(off)
		s.ssrc = ssrc
		s.arrival = arrival + int64(off)
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
func (q *ring) release() { q.head.Add(1) }
