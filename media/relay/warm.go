package relay

import (
	"unsafe"

	"github.com/hushmedia/hush/media/internal/cpucache"
	"github.com/hushmedia/hush/media/mask"
)

// Warm-up. Under load every packet and every release finds its stream's
// state out of cache (a thousand streams in turn), and handling a batch one
// by one waits on each of those loads in sequence. So before handling a
// batch of received datagrams (engine_uring.go) or of due releases
// (timers.go) an engine warms it in levels: level 0 for every receiver of
// the batch, then level 1 for every one, and so on to the deepest level any
// of them has, so that the batch's loads overlap. Level k may read only
// memory that levels below k loaded (level 0 none: it hints the receiver
// itself). Each layer warms its own memory: the receiver its own and the
// call's (below), the masker its queue (mask.Masker.WarmPush, WarmPop), the
// recording sink its ring (RecordWarmer, media/record's Recorder.Warm).
// TestWarmLevels checks the levels (warmtest.Check), TestWarmBatch the
// engines' loop.

// warmWork is what a warm-up prepares: a received packet or a release.
type warmWork uint8

const (
	warmPacket  warmWork = iota // receiver.packet
	warmRelease                 // the delay line's expire
)

// ownLevels are the receiver's own levels, before its layers': 0 hints the
// receiver, 1 what it points at (its delay line, the call's leg state).
const ownLevels = 2

// warmLevels is how many levels r's warm-up has: its own and its deepest
// layer's (newReceiver keeps it in r.levels).
func (r *receiver) warmLevels() int {
	n := 0
	if r.dl != nil {
		n = max(mask.WarmLevels, r.dl.wrLevels)
	}
	return ownLevels + n
}

// warm runs level level of r's warm-up for w. It changes nothing.
func (r *receiver) warm(w warmWork, level int) {
	switch level {
	case 0:
		cpucache.PrefetchRange(unsafe.Pointer(r), unsafe.Offsetof(r.dl)+unsafe.Sizeof(r.dl))
		return
	case 1:
		c := r.c
		if dl := r.dl; dl != nil {
			cpucache.PrefetchRange(unsafe.Pointer(dl), unsafe.Sizeof(*dl))
		}
		if w == warmPacket {
			cpucache.Prefetch(unsafe.Pointer(&c.legs[r.in]))
			return
		}
		// The release is sent to the other leg's remote (route) and counted in
		// its stats and the direction's metrics (sent).
		cpucache.Prefetch(unsafe.Pointer(&c.policy[r.dir]))
		o := &c.legs[r.in.Other()]
		cpucache.Prefetch(unsafe.Pointer(o))
		cpucache.Prefetch(unsafe.Pointer(&o.stats.rtpSentPkts))
		cpucache.Prefetch(unsafe.Pointer(&c.metrics[r.dir].Packets))
		return
	}
	dl, l := r.dl, level-ownLevels
	if l == 0 {
		in := r.in
		if w == warmRelease {
			in = in.Other()
		}
		cpucache.Prefetch(unsafe.Pointer(r.c.legs[in].state.Load()))
	}
	if dl == nil {
		return
	}
	if dl.mk != nil && l < mask.WarmLevels {
		if w == warmRelease {
			dl.mk.WarmPop(l)
		} else {
			dl.mk.WarmPush(l)
		}
	}
	if w == warmPacket && l < dl.wrLevels {
		dl.wr.Warm(r.in, l)
	}
}

// warmSet is an engine's batch to warm: up to warmMax receivers and the
// deepest of their levels.
type warmSet struct {
	rs     [warmMax]*receiver
	n      int
	levels int
}

const warmMax = 64

// add puts r, whose warm-up has levels levels (its levels field, which
// the caller may know without reading r), in the set; false when full.
func (s *warmSet) add(r *receiver, levels int) bool {
	if s.n == len(s.rs) {
		return false
	}
	s.rs[s.n] = r
	s.n++
	s.levels = max(s.levels, levels)
	return true
}

// run warms the set for w, every level of every receiver, level by level,
// from level from (the levels below ran already) to the deepest; then it
// empties the set.
func (s *warmSet) run(from int, w warmWork) {
	rs := s.rs[:s.n]
	for l := from; l < s.levels; l++ {
		for _, r := range rs {
			r.warm(w, l)
		}
	}
	clear(rs)
	s.n, s.levels = 0, 0
}
