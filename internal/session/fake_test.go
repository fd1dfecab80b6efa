package session

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// fakeMedia stands in for media/relay: it hands out ports from a tiny range and lets tests
// trigger latching and activity.
type fakeMedia struct {
	spec     MediaSpec
	ports    *fakePorts
	port     [2]uint16
	mu       sync.Mutex
	legs     [2]LegSpec
	latched  [2]netip.AddrPort
	last     atomic.Pointer[time.Time]
	closed   atomic.Int32
	setCalls int
	masks    [2]MaskPolicy
	capture  [2]bool
	watched  [2]bool
	rx       [2]atomic.Uint64 // RTP packets "received" per leg (Stats)
	played   []DTMFKey        // keys PlayDTMF was given, by the direction of their From
}

func (m *fakeMedia) PlayDTMF(d Direction, k DTMFKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if Leg(d) != k.From {
		return fmt.Errorf("direction %v for a key from the %v", d, k.From)
	}
	m.played = append(m.played, k)
	return nil
}

func (m *fakeMedia) SetMasking(d Direction, p MaskPolicy, capture bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.masks[d], m.capture[d] = p, capture
	return nil
}

func (m *fakeMedia) WatchKeys(d Direction) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.watched[d] = true
	return nil
}

func (m *fakeMedia) masking(d Direction) (MaskPolicy, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.masks[d], m.capture[d]
}

// key simulates the customer keying digits while capture delivers them.
func (m *fakeMedia) key(digits string) {
	for i := 0; i < len(digits); i++ {
		m.spec.OnDigit(CustomerToAgent, digits[i])
	}
}

// agentKey simulates the agent keying on its phone.
func (m *fakeMedia) agentKey(digits string) {
	for i := 0; i < len(digits); i++ {
		m.spec.OnDigit(AgentToCustomer, digits[i])
	}
}

type fakePorts struct {
	mu   sync.Mutex
	free []uint16
}

func newFakePorts(n int) *fakePorts {
	p := &fakePorts{}
	for i := 0; i < n; i++ {
		p.free = append(p.free, uint16(40000+2*i))
	}
	return p
}

func (p *fakePorts) take() (uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return 0, fmt.Errorf("allocate: %w", ErrPortsExhausted)
	}
	v := p.free[0]
	p.free = p.free[1:]
	return v, nil
}

// takeAt takes port v, as a takeover rebinds a moved session's port.
func (p *fakePorts) takeAt(v uint16) (uint16, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.free {
		if f == v {
			p.free = append(p.free[:i], p.free[i+1:]...)
			return v, nil
		}
	}
	return 0, fmt.Errorf("port %d: %w", v, ErrPortUnavailable)
}

func (p *fakePorts) give(v uint16) {
	p.mu.Lock()
	p.free = append(p.free, v)
	p.mu.Unlock()
}

func (p *fakePorts) factory(created *[]*fakeMedia, mu *sync.Mutex) MediaFactory {
	return func(spec MediaSpec) (Media, error) {
		m := &fakeMedia{spec: spec, ports: p, legs: [2]LegSpec{spec.Customer, spec.Agent}}
		if spec.Masking != nil {
			m.masks = *spec.Masking
		}
		for i := range m.port {
			if spec.Customer.Latched && i == 0 || spec.Agent.Latched && i == 1 {
				m.latched[i] = m.legs[i].Remote
			}
		}
		for i := range m.port {
			take := p.take
			if want := spec.LocalPorts[i]; want != 0 {
				take = func() (uint16, error) { return p.takeAt(want) }
			}
			v, err := take()
			if err != nil {
				for j := 0; j < i; j++ {
					p.give(m.port[j])
				}
				return nil, err
			}
			m.port[i] = v
		}
		mu.Lock()
		*created = append(*created, m)
		mu.Unlock()
		return m, nil
	}
}

func (m *fakeMedia) Local(l Leg) (netip.AddrPort, netip.AddrPort) {
	ip := netip.MustParseAddr("127.0.0.1")
	return netip.AddrPortFrom(ip, m.port[l]), netip.AddrPortFrom(ip, m.port[l]+1)
}

func (m *fakeMedia) Remote(l Leg) (netip.AddrPort, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.latched[l].IsValid() {
		return m.latched[l], true
	}
	return m.legs[l].Remote, false
}

func (m *fakeMedia) SetLeg(l Leg, spec LegSpec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.legs[l] = spec
	m.latched[l] = netip.AddrPort{}
	m.setCalls++
	return nil
}

func (m *fakeMedia) LastActivity() time.Time {
	if t := m.last.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

func (m *fakeMedia) Stats(l Leg) LegStats { return LegStats{RTPPacketsReceived: m.rx[l].Load()} }

// receive simulates n RTP packets arriving on a leg.
func (m *fakeMedia) receive(l Leg, n uint64) { m.rx[l].Add(n) }

func (m *fakeMedia) Close() error {
	if m.closed.Add(1) == 1 {
		m.ports.give(m.port[0])
		m.ports.give(m.port[1])
	}
	return nil
}

// latch simulates the first packet of a leg arriving from addr.
func (m *fakeMedia) latch(l Leg, addr netip.AddrPort) {
	m.mu.Lock()
	m.latched[l] = addr
	m.mu.Unlock()
	m.spec.OnLatch(l, "rtp", addr)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
