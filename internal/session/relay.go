package session

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/relay"
)

// RelayConfig is what every relay.Call of a daemon shares.
type RelayConfig struct {
	// RecordDelay is how far behind live the recording tap runs (L_rec; 0: the media
	// default, 80 ms).
	RecordDelay time.Duration
	// LockSSRC drops RTP whose SSRC differs from the leg's first (re-learned on update).
	LockSSRC bool
}

// RelayFactory is the production MediaFactory: each session is a relay.Call on ports from
// alloc. opts (metrics, latency sampling, rate cap) apply to every call.
func RelayFactory(alloc *relay.PortAllocator, rc RelayConfig, opts ...relay.Option) MediaFactory {
	recordDelay := rc.RecordDelay
	return func(spec MediaSpec) (Media, error) {
		cust, err := relayLeg(spec.Customer)
		if err != nil {
			return nil, fmt.Errorf("%w: customer.codecs: %w", ErrInvalid, err)
		}
		agent, err := relayLeg(spec.Agent)
		if err != nil {
			return nil, fmt.Errorf("%w: agent.codecs: %w", ErrInvalid, err)
		}
		cfg := relay.CallConfig{Customer: cust, Agent: agent, StrictSource: spec.StrictSource, LockSSRC: rc.LockSSRC,
			LocalPorts: spec.LocalPorts}
		all := append([]relay.Option(nil), opts...)
		if spec.OnDigit != nil {
			on := spec.OnDigit
			all = append(all, relay.WithDigits(func(e relay.DigitEvent) { on(Direction(e.Dir), e.Digit) }))
		}
		if spec.Record != nil {
			all = append(all, relay.WithRecordTap(recordTap(spec.Record, spec.RecordMasked, recordDelay)))
		}
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
		if spec.OnLatchReject != nil {
			on := spec.OnLatchReject
			all = append(all, relay.WithOnLatchReject(func(e relay.LatchRejectEvent) {
				on(Leg(e.Leg), e.Reason.String(), e.Addr, e.Count)
			}))
		}
		c, err := relay.NewCall(alloc, cfg, all...)
		if err != nil {
			return nil, relayErr(err)
		}
		m := relayMedia{c}
		if spec.Masking != nil {
			// Before the first packet is read: not one leaves unmasked in a masked direction.
			for d, p := range spec.Masking {
				if err := m.SetMasking(Direction(d), p, false); err != nil {
					_ = c.Close()
					return nil, err
				}
			}
		}
		if err := c.Start(); err != nil {
			_ = c.Close()
			return nil, relayErr(err)
		}
		return m, nil
	}
}

// recordSinker is a RecordWriter with a sink the relay can call directly: the production
// recorder (media/record's, through recordAdapter) and a late recording's switch. Per
// packet nothing in this package runs for them.
type recordSinker interface {
	RecordSink() relay.RecordSink
}

// mediaSink is rec as the relay's recording sink: its own when it has one, else an
// adapter calling its Write (test recorders).
func mediaSink(rec RecordWriter) relay.RecordSink {
	if s, ok := rec.(recordSinker); ok {
		return s.RecordSink()
	}
	return writerSink{rec}
}

// writerSink adapts a RecordWriter without a sink of its own to relay.RecordSink.
type writerSink struct{ w RecordWriter }

func (s writerSink) RecordAudio(from relay.Leg, ssrc, ts uint32, _ time.Time, f *mask.RecordFrame) {
	_ = s.w.Write(from, ssrc, ts, f)
}

// recordTap is the relay's recording tap for a session's recorder rec.
func recordTap(rec RecordWriter, marked func(l Leg, startTS, endTS uint32), delay time.Duration) relay.RecordTap {
	tap := relay.RecordTap{Delay: delay, Sink: mediaSink(rec)}
	if marked != nil {
		tap.Masked = func(d relay.Direction, ssrc, start, end uint32) { marked(d.From(), start, end) }
	}
	return tap
}

func relayLeg(s LegSpec) (relay.LegConfig, error) {
	lc := relay.LegConfig{Remote: s.Remote, ExpectedIP: s.ExpectedIP, RemoteRTCP: s.RemoteRTCP, RTCPMux: s.RTCPMux,
		TelephoneEventPT: s.TelephoneEventPT, SRTP: s.SRTP, Latched: s.Latched}
	if len(s.Codecs) > 0 {
		for pt, name := range s.Codecs {
			if err := lc.Codecs.Set(int(pt), name); err != nil {
				return lc, err
			}
		}
	}
	return lc, nil
}

// relayErr wraps relay's errors in the session package's, so the API's one error table
// needs to know only session errors.
func relayErr(err error) error {
	switch {
	case errors.Is(err, relay.ErrPortsExhausted):
		return fmt.Errorf("%w: %w", ErrPortsExhausted, err)
	case errors.Is(err, relay.ErrPortUnavailable):
		return fmt.Errorf("%w: %w", ErrPortUnavailable, err)
	case errors.Is(err, relay.ErrInvalidRemote), errors.Is(err, relay.ErrNoRTCPPort), errors.Is(err, relay.ErrInvalidLeg),
		errors.Is(err, relay.ErrSRTPKey):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

type relayMedia struct{ c *relay.Call }

func (m relayMedia) Local(l Leg) (netip.AddrPort, netip.AddrPort) {
	return m.c.LocalRTP(l), m.c.LocalRTCP(l)
}

func (m relayMedia) Remote(l Leg) (netip.AddrPort, bool) { return m.c.Remote(l) }

// RemoteRTCP is where a leg's RTCP goes, for a snapshot of the session.
func (m relayMedia) RemoteRTCP(l Leg) (netip.AddrPort, bool) { return m.c.RemoteRTCP(l) }

func (m relayMedia) SetLeg(l Leg, s LegSpec) error {
	lc, err := relayLeg(s)
	if err != nil {
		return fmt.Errorf("%w: codecs: %w", ErrInvalid, err)
	}
	return relayErr(m.c.SetRemote(l, lc))
}

func (m relayMedia) LastActivity() time.Time { return m.c.LastActivity() }

func (m relayMedia) Stats(l Leg) LegStats {
	st := m.c.Stats(l)
	out := LegStats{
		RTPPacketsReceived: st.RTPPacketsReceived, RTPBytesReceived: st.RTPBytesReceived,
		RTPPacketsSent: st.RTPPacketsSent, RTPBytesSent: st.RTPBytesSent,
		RTCPPacketsReceived: st.RTCPPacketsReceived, RTCPPacketsSent: st.RTCPPacketsSent,
		PacketsDropped: st.Dropped(), LatchRejected: st.LatchRejected(), MaskedSamples: st.MaskedSamples,
		SRTPUnauthenticated: st.Drops[relay.DropSRTPAuth], SRTPReplayed: st.Drops[relay.DropSRTPReplay],
	}
	for r, n := range st.Drops {
		if n > 0 {
			out.Drops = append(out.Drops, DropCount{Reason: relay.DropReason(r).String(), N: n})
		}
	}
	return out
}

func (m relayMedia) Close() error { return m.c.Close() }

// SetMasking publishes a direction's masking to the packet loop (an atomic store).
func (m relayMedia) SetMasking(d Direction, p MaskPolicy, capture bool) error {
	if p.Mode > MaskTone {
		return fmt.Errorf("%w: mask mode %d", ErrInvalid, p.Mode)
	}
	pol := mask.Policy{Mode: p.Mode, LookAhead: p.LookAhead, ToneHz: p.ToneHz, Capture: capture}
	if err := m.c.SetMaskPolicy(relay.Direction(d), pol); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if int(p.Flow) < 0 || int(p.Flow) >= len(relayFlows) {
		return fmt.Errorf("%w: flow %d", ErrInvalid, p.Flow)
	}
	if err := m.c.SetFlow(relay.Direction(d), relayFlows[p.Flow]); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

var relayFlows = [...]relay.Flow{FlowForward: relay.FlowForward, FlowBlock: relay.FlowBlock, FlowSilence: relay.FlowSilence}

// PlayDTMF makes relayMedia a TonePlayer.
func (m relayMedia) PlayDTMF(d Direction, k DTMFKey) error {
	ev, err := dtmf.DigitEvent(k.Key)
	if err != nil {
		return fmt.Errorf("%w: not a DTMF key", ErrInvalid)
	}
	err = m.c.PlayDTMF(relay.Direction(d), relay.Tone{Event: ev, Duration: k.Duration, Pause: k.Pause, Volume: k.Volume, EventPT: k.EventPT})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, relay.ErrMasked):
		return fmt.Errorf("%w: %w", ErrUnsafe, err)
	case errors.Is(err, relay.ErrInvalidTone), errors.Is(err, relay.ErrInvalidLeg):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	case errors.Is(err, relay.ErrClosed):
		return ErrNotFound
	}
	return fmt.Errorf("%w: %w", ErrFailedPrecondition, err) // blocked, no media yet, queue full
}

// WatchKeys asks the relay to deliver a direction's keys whatever its masking.
func (m relayMedia) WatchKeys(d Direction) error {
	if err := m.c.WatchKeys(relay.Direction(d)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}
