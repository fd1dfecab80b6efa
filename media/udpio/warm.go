package udpio

// Warm-up. Under load every datagram and every release finds its stream's
// state out of cache (a thousand streams in turn), and handling a batch
// one by one waits on each of those loads in sequence. So before handling
// a batch of received datagrams (the io_uring engine) or of due releases
// (the timers) an engine warms it in levels: Warm(w, 0) for every handler
// of the batch, then Warm(w, 1) for every one, and so on to the deepest
// level any of them declared, so that the batch's loads overlap. Each
// handler warms its own memory and its layers' (see Warmer).
// TestWarmSet checks the loop; media/internal/cpucache/warmtest checks a
// layer's levels.

// warmMax is the most handlers a warm-up covers.
const warmMax = 64

// warmSet is a batch to warm: up to warmMax handlers and the deepest of
// their levels.
type warmSet struct {
	hs     [warmMax]Warmer
	n      int
	levels int
}

// add puts h, whose warm-up has levels levels (known to the caller without
// reading h), in the set; false when full.
func (s *warmSet) add(h Warmer, levels int) bool {
	if s.n == len(s.hs) {
		return false
	}
	s.hs[s.n] = h
	s.n++
	s.levels = max(s.levels, levels)
	return true
}

// run warms the set for w, every level of every handler, level by level,
// to the deepest; then it empties the set.
func (s *warmSet) run(w Work) {
	hs := s.hs[:s.n]
	for l := range s.levels {
		for _, h := range hs {
			h.Warm(w, l)
		}
	}
	clear(hs)
	s.n, s.levels = 0, 0
}
