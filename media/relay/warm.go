package relay

import (
	"unsafe"

	"github.com/hushmedia/hush/media/internal/cpucache"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/udpio"
)

// The receiver's warm-up (udpio.Warmer): before handling a batch of
// datagrams or of releases, an engine runs level 0 of every receiver of the
// batch, then level 1, and so on (media/udpio's warm.go), so that the
// batch's cache misses overlap. Level k may read only memory that levels
// below k loaded (level 0 none: it hints the receiver itself). Each layer
// warms its own memory: the receiver its own and the call's (below), the
// masker its queue (mask.Masker.WarmPush, WarmPop), the recording sink its
// ring (RecordWarmer, media/record's Recorder.Warm). TestWarmLevels checks
// the levels (warmtest.Check).

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

// WarmLevels is udpio.Warmer's.
func (r *receiver) WarmLevels() int { return r.levels }

// Warm runs level level of r's warm-up for w. It changes nothing.
func (r *receiver) Warm(w udpio.Work, level int) {
	switch level {
	case 0:
		cpucache.PrefetchRange(unsafe.Pointer(r), unsafe.Offsetof(r.dl)+unsafe.Sizeof(r.dl))
		return
	case 1:
		c := r.c
		if dl := r.dl; dl != nil {
			cpucache.PrefetchRange(unsafe.Pointer(dl), unsafe.Sizeof(*dl))
		}
		if w == udpio.WarmPacket {
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
		if w == udpio.WarmRelease {
			in = in.Other()
		}
		cpucache.Prefetch(unsafe.Pointer(r.c.legs[in].state.Load()))
	}
	if dl == nil {
		return
	}
	if dl.mk != nil && l < mask.WarmLevels {
		if w == udpio.WarmRelease {
			dl.mk.WarmPop(l)
		} else {
			dl.mk.WarmPush(l)
		}
	}
	if w == udpio.WarmPacket && l < dl.wrLevels {
		dl.wr.Warm(r.in, l)
	}
}
