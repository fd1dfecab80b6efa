package udpio

import (
	"slices"
	"testing"
)

// levelWarmer declares depth levels and logs the ones it is asked for.
type levelWarmer struct {
	id, depth int
	log       *[][2]int // (id, level)
}

func (w *levelWarmer) WarmLevels() int { return w.depth }
func (w *levelWarmer) Warm(_ Work, level int) {
	if level < w.depth {
		*w.log = append(*w.log, [2]int{w.id, level})
	}
}

// TestWarmSet: the engines' warm loop runs every level each handler of the
// batch declares, level by level across the batch (all handlers' level k
// before any level k+1). It fails when the loop stops short of a handler's
// depth or runs a handler's levels out of order.
func TestWarmSet(t *testing.T) {
	var log [][2]int
	ws := []*levelWarmer{{id: 1, depth: 3, log: &log}, {id: 2, depth: 1, log: &log}, {id: 3, depth: 5, log: &log}}
	var s warmSet
	for _, w := range ws {
		if !s.add(w, w.WarmLevels()) {
			t.Fatal("set full")
		}
	}
	s.run(WarmPacket)
	for _, w := range ws {
		var got []int
		for _, e := range log {
			if e[0] == w.id {
				got = append(got, e[1])
			}
		}
		want := make([]int, w.depth)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(got, want) {
			t.Errorf("handler of depth %d warmed at levels %v, want %v", w.depth, got, want)
		}
	}
	for i := 1; i < len(log); i++ {
		if log[i][1] < log[i-1][1] {
			t.Fatalf("warm-up log %v: a level after a deeper one", log)
		}
	}
	if s.n != 0 || s.levels != 0 {
		t.Errorf("set not emptied: %d handlers, %d levels", s.n, s.levels)
	}
	for range warmMax {
		s.add(ws[0], 1)
	}
	if s.add(ws[0], 1) {
		t.Error("a full set took one more")
	}
}
