package srtp

// windowSize is the replay window (RFC 3711 section 3.3.2 asks for at least 64).
const windowSize = 64

// window is a sliding replay window over one stream's packet indices.
type window struct {
	set  bool
	top  uint64 // highest index accepted
	bits uint64 // bit d: top-d was accepted
}

// fresh reports whether idx was not accepted yet and is not too old to tell.
func (w *window) fresh(idx uint64) bool {
	if !w.set || idx > w.top {
		return true
	}
	d := w.top - idx
	return d < windowSize && w.bits&(1<<d) == 0
}

func (w *window) accept(idx uint64) {
	switch {
	case !w.set:
		w.set, w.top, w.bits = true, idx, 1
	case idx > w.top:
		if d := idx - w.top; d >= windowSize {
			w.bits = 1
		} else {
			w.bits = w.bits<<d | 1
		}
		w.top = idx
	default:
		w.bits |= 1 << (w.top - idx)
	}
}

// extend estimates the 48-bit packet index (RFC 3711 section 3.3.1: rollover counter
// and sequence number) of seq from the highest index seen, as Appendix A does: the
// candidate nearest to it. ok is false when it would fall before index 0.
func extend(top uint64, seq uint16) (idx uint64, ok bool) {
	d := int64(int16(seq - uint16(top)))
	n := int64(top) + d
	if n < 0 {
		return 0, false
	}
	return uint64(n), true
}

// stream is the replay state of one SSRC.
type stream struct {
	ssrc uint32
	w    window
}

// index is seq's estimated index in the stream (ok false: cannot tell).
func (s *stream) index(seq uint16) (uint64, bool) {
	if !s.w.set {
		return uint64(seq), true
	}
	return extend(s.w.top, seq)
}
