package session

// RecordingCounts is how many active sessions are in each recording state, indexed by
// RecordingState (stopped, active, paused, failed).
type RecordingCounts [4]int

// RecordingCounts counts the live sessions by recording state. It locks each session in
// turn, briefly, so it is for a metrics scrape, never for a packet path.
func (r *Registry) RecordingCounts() RecordingCounts {
	var c RecordingCounts
	for _, s := range r.all() {
		s.mu.Lock()
		if s.state != Ended && int(s.rec.state) < len(c) {
			c[s.rec.state]++
		}
		s.mu.Unlock()
	}
	return c
}

// String names a recording state as metrics label it.
func (s RecordingState) String() string {
	switch s {
	case RecordingActive:
		return "active"
	case RecordingPaused:
		return "paused"
	case RecordingFailed:
		return "failed"
	}
	return "stopped"
}
