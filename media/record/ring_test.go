package record

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

func TestRingPushPeek(t *testing.T) {
	q := newRing(5) // rounds up to 8
	if len(q.slots) != 8 {
		t.Fatalf("%d slots, want 8", len(q.slots))
	}
	if !q.push(7, 1000, 50, content(LegCustomer, 0, 400)) { // 3 slots
		t.Fatal("push refused")
	}
	if q.used() != 3 {
		t.Fatalf("used %d, want 3", q.used())
	}
	for i, want := range []struct {
		ts  uint32
		arr int64
		n   uint16
	}{{1000, 50, 160}, {1160, 210, 160}, {1320, 370, 80}} {
		s := q.peek()
		if s.ts != want.ts || s.arrival != want.arr || s.n != want.n || s.ssrc != 7 || s.pcm()[0] != val(LegCustomer, int64(i*160)) {
			t.Errorf("slot %d: ts %d arr %d n %d", i, s.ts, s.arrival, s.n)
		}
		q.release()
	}
	if q.peek() != nil {
		t.Error("peek on empty ring")
	}
	if !q.push(1, 0, 0, make([]int16, 160*8)) {
		t.Fatal("push of exactly the capacity refused")
	}
	if q.push(1, 0, 0, make([]int16, 1)) {
		t.Fatal("push into a full ring accepted")
	}
}

// TestRingSPSC moves frames between two goroutines and checks every frame
// arrives once, in order, intact (run with -race).
func TestRingSPSC(t *testing.T) {
	q := newRing(8)
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pcm := make([]int16, slotSamples)
		for i := 0; i < n; {
			for k := range pcm {
				pcm[k] = int16(i + k)
			}
			if q.push(uint32(i), uint32(i), int64(i), pcm[:1+i%slotSamples]) {
				i++
			} else {
				runtime.Gosched()
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; {
		s := q.peek()
		if s == nil {
			runtime.Gosched()
			continue
		}
		if s.ts != uint32(i) || int(s.n) != 1+i%slotSamples || s.pcm()[s.n-1] != int16(i+int(s.n)-1) {
			t.Fatalf("frame %d: ts %d n %d", i, s.ts, s.n)
		}
		if rng.IntN(4) == 0 {
			// Leave the slot occupied a little longer: the producer must
			// see the ring as full, not overwrite it.
			for k := 0; k < 10; k++ {
				_ = q.used()
			}
		}
		q.release()
		i++
	}
	wg.Wait()
}

// TestRingUsedAtLeast: the producer's cached view of head answers like
// used() once it reloads, and a stale copy never hides a full ring.
func TestRingUsedAtLeast(t *testing.T) {
	q := newRing(8)
	q.push(1, 0, 0, make([]int16, 3*slotSamples))
	if !q.usedAtLeast(3) || q.usedAtLeast(4) {
		t.Fatalf("3 filled: usedAtLeast(3) %v, (4) %v", q.usedAtLeast(3), q.usedAtLeast(4))
	}
	q.release()
	q.release()
	if q.usedAtLeast(2) || !q.usedAtLeast(1) {
		t.Fatal("1 filled after 2 released: wrong answer from a stale head")
	}
	if !q.push(1, 0, 0, make([]int16, 7*slotSamples)) {
		t.Fatal("push of the 7 free slots refused (stale head)")
	}
	if !q.usedAtLeast(8) || q.push(1, 0, 0, make([]int16, 1)) {
		t.Fatal("full ring not seen as full")
	}
}

// The producer's fields sit together and the consumer's counter is a
// cache line away from them: a layout change that breaks this costs a miss
// per frame, wherever the allocator puts the ring.
func TestRingLayout(t *testing.T) {
	var q ring
	if end := unsafe.Offsetof(q.mask) + unsafe.Sizeof(q.mask); end > 48 {
		t.Errorf("producer fields end at byte %d, past 48", end)
	}
	if h := unsafe.Offsetof(q.head); h < unsafe.Offsetof(q.mask)+unsafe.Sizeof(q.mask)+64 {
		t.Errorf("head at byte %d, within a cache line of the producer's fields", h)
	}
	if d := unsafe.Offsetof(q.dropped); d < unsafe.Offsetof(q.head)+64 {
		t.Errorf("dropped at byte %d shares head's line", d)
	}
}
