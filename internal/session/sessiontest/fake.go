// Package sessiontest is test support for packages built on the session registry: a fake
// media layer that hands out fixed ports and remembers what it was told, with nothing on
// the wire.
package sessiontest

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/media/mask"
)

// Media is one fake session data plane.
type Media struct {
	f    *Factory
	Spec session.MediaSpec
	Port [2]uint16 // RTP port per leg; RTCP is the next one

	mu     sync.Mutex
	legs   [2]session.LegSpec
	masks  [2]session.MaskPolicy
	closed bool
}

// Local returns the leg's fake RTP and RTCP addresses on 127.0.0.1.
func (m *Media) Local(l session.Leg) (netip.AddrPort, netip.AddrPort) {
	a := netip.MustParseAddr("127.0.0.1")
	return netip.AddrPortFrom(a, m.Port[l]), netip.AddrPortFrom(a, m.Port[l]+1)
}

// Remote returns the leg's configured remote; fake media never latches.
func (m *Media) Remote(l session.Leg) (netip.AddrPort, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.legs[l].Remote, false
}

// SetLeg remembers a leg's spec.
func (m *Media) SetLeg(l session.Leg, s session.LegSpec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.legs[l] = s
	return nil
}

// Leg returns what the media was last told about a leg.
func (m *Media) Leg(l session.Leg) session.LegSpec {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.legs[l]
}

// LastActivity is the factory's clock: fake media is always active.
func (m *Media) LastActivity() time.Time { return m.f.Now() }

// Stats are zero.
func (m *Media) Stats(session.Leg) session.LegStats { return session.LegStats{} }

// WatchKeys does nothing.
func (m *Media) WatchKeys(session.Direction) error { return nil }

// SetMasking remembers a direction's masking.
func (m *Media) SetMasking(d session.Direction, p session.MaskPolicy, _ bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.masks[d] = p
	return nil
}

// Masking returns a direction's masking.
func (m *Media) Masking(d session.Direction) session.MaskPolicy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.masks[d]
}

// Close marks the media closed; it is safe to call twice.
func (m *Media) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.f.mu.Lock()
		m.f.open--
		m.f.mu.Unlock()
	}
	return nil
}

// Closed reports whether Close was called.
func (m *Media) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Factory is a session.MediaFactory of fake media with a settable clock.
type Factory struct {
	mu    sync.Mutex
	next  uint16
	open  int
	all   []*Media
	clock time.Time
	limit int // 0: none; else fail with ErrPortsExhausted beyond this many open
}

// NewFactory returns a factory whose clock starts at now.
func NewFactory(now time.Time) *Factory { return &Factory{clock: now, next: 40000} }

// Now is the factory's clock.
func (f *Factory) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

// Advance moves the clock.
func (f *Factory) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

// Limit makes the factory refuse media beyond n open ones, as a full port range does.
func (f *Factory) Limit(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit = n
}

// New is the session.MediaFactory.
func (f *Factory) New(spec session.MediaSpec) (session.Media, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit > 0 && f.open >= f.limit {
		return nil, fmt.Errorf("fake: %w", session.ErrPortsExhausted)
	}
	m := &Media{f: f, Spec: spec, Port: [2]uint16{f.next, f.next + 2}}
	m.legs = [2]session.LegSpec{spec.Customer, spec.Agent}
	f.next += 4
	f.open++
	f.all = append(f.all, m)
	return m, nil
}

// Find returns the media made for a session id (extra streams have "/mN" appended).
func (f *Factory) Find(sessionID string) *Media {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.all {
		if m.Spec.SessionID == sessionID {
			return m
		}
	}
	return nil
}

// Open counts media not closed.
func (f *Factory) Open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// Recorder is a fake session.Recorder: it counts frames and remembers pauses.
type Recorder struct {
	mu      sync.Mutex
	id      string
	paused  bool
	pauses  int
	resumes int
	closed  bool
}

// RecorderFactory returns a session.RecorderFactory of fake recorders, and the recorders
// it made, by session id.
func RecorderFactory() (session.RecorderFactory, func(sessionID string) *Recorder) {
	var mu sync.Mutex
	made := map[string]*Recorder{}
	return func(m session.RecorderMeta) (session.Recorder, error) {
			mu.Lock()
			defer mu.Unlock()
			r := &Recorder{id: "rec-" + m.SessionID}
			made[m.SessionID] = r
			return r, nil
		}, func(id string) *Recorder {
			mu.Lock()
			defer mu.Unlock()
			return made[id]
		}
}

// ID is the recording's id.
func (r *Recorder) ID() string { return r.id }

// Write takes a frame and drops it.
func (r *Recorder) Write(session.Leg, uint32, uint32, *mask.RecordFrame) error { return nil }

// Pause remembers a pause.
func (r *Recorder) Pause(session.PauseBehavior, string, string, string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := !r.paused
	r.paused = true
	r.pauses++
	return changed, nil
}

// Resume remembers a resume.
func (r *Recorder) Resume(string, string, string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := r.paused
	r.paused = false
	r.resumes++
	return changed, nil
}

// MarkMaskRTP does nothing.
func (r *Recorder) MarkMaskRTP(session.Leg, uint32, uint32) error { return nil }

// Close marks the recording closed.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

// Paused reports whether the recording is paused.
func (r *Recorder) Paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paused
}
