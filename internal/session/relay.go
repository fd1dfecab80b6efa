package session

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hushmedia/hush/media/relay"
)

// RelayFactory is the production MediaFactory: each session is a relay.Call on ports from
// alloc. opts (metrics, latency sampling) apply to every call.
func RelayFactory(alloc *relay.PortAllocator, opts ...relay.Option) MediaFactory {
	return func(spec MediaSpec) (Media, error) {
		cfg := relay.CallConfig{
			Customer:     relayLeg(spec.Customer),
			Agent:        relayLeg(spec.Agent),
			StrictSource: spec.StrictSource,
		}
		all := append([]relay.Option(nil), opts...)
		if spec.OnLatch != nil {
			on := spec.OnLatch
			all = append(all, relay.WithOnLatch(func(e relay.LatchEvent) {
				kind := "rtp"
				if e.RTCP {
					kind = "rtcp"
				}
				on(Leg(e.Leg), kind, e.Addr)
			}))
		}
		c, err := relay.NewCall(alloc, cfg, all...)
		if err != nil {
			return nil, relayErr(err)
		}
		if err := c.Start(); err != nil {
			_ = c.Close()
			return nil, relayErr(err)
		}
		return relayMedia{c}, nil
	}
}

func relayLeg(s LegSpec) relay.LegConfig {
	return relay.LegConfig{Remote: s.Remote, RemoteRTCP: s.RemoteRTCP, RTCPMux: s.RTCPMux}
}

// relayErr wraps relay's errors in the session package's, so the API's one error table
// needs to know only session errors.
func relayErr(err error) error {
	switch {
	case errors.Is(err, relay.ErrPortsExhausted):
		return fmt.Errorf("%w: %w", ErrPortsExhausted, err)
	case errors.Is(err, relay.ErrInvalidRemote), errors.Is(err, relay.ErrNoRTCPPort), errors.Is(err, relay.ErrInvalidLeg):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

type relayMedia struct{ c *relay.Call }

func (m relayMedia) Local(l Leg) (netip.AddrPort, netip.AddrPort) {
	return m.c.LocalRTP(relay.Leg(l)), m.c.LocalRTCP(relay.Leg(l))
}

func (m relayMedia) Remote(l Leg) (netip.AddrPort, bool) { return m.c.Remote(relay.Leg(l)) }

func (m relayMedia) SetLeg(l Leg, s LegSpec) error {
	return relayErr(m.c.SetRemote(relay.Leg(l), relayLeg(s)))
}

func (m relayMedia) LastActivity() time.Time { return m.c.LastActivity() }

func (m relayMedia) Stats(l Leg) LegStats {
	st := m.c.Stats(relay.Leg(l))
	return LegStats{
		RTPPacketsReceived: st.RTPPacketsReceived, RTPBytesReceived: st.RTPBytesReceived,
		RTPPacketsSent: st.RTPPacketsSent, RTPBytesSent: st.RTPBytesSent,
		RTCPPacketsReceived: st.RTCPPacketsReceived, RTCPPacketsSent: st.RTCPPacketsSent,
		PacketsDropped: st.Dropped(),
	}
}

func (m relayMedia) Close() error { return m.c.Close() }

// SetMasking: media/relay has no masking stage yet, so anything but "off" is refused; the
// API answers UNIMPLEMENTED rather than pretend.
func (m relayMedia) SetMasking(d Direction, p MaskPolicy, capture bool) error {
	if capture || (p.Mode != MaskOff && p.Mode != 0) {
		return fmt.Errorf("%w: masking in media/relay", ErrUnsupported)
	}
	return nil
}
