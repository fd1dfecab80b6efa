package loadgen

import (
	"context"
	"net/netip"
)

// Target is the relay under test.
type Target interface {
	// Name labels the target in reports ("hush", "rtpengine", "direct").
	Name() string
	// CreateCall sets up call i: the customer sends from, and receives on, customer; the
	// agent on agent. The relay must forward customer -> agent and agent -> customer.
	CreateCall(ctx context.Context, i int, customer, agent netip.AddrPort) (Call, error)
	// PID is the relay's process id for CPU and memory readings; 0 = nothing to measure.
	PID() int
}

// Call is one call set up on a target.
type Call struct {
	ID         string         // the target's id for it (hush session id, rtpengine call-id)
	CustomerIn netip.AddrPort // where the customer sends media
	AgentIn    netip.AddrPort // where the agent sends media
	// Close tears the call down (DeleteSession, ng delete).
	Close func(context.Context) error
}

// CaptureToggler is a Target that can switch secure capture on a call (hush).
type CaptureToggler interface {
	SetCapture(ctx context.Context, c Call, on bool) error
}

// Direct is the calibration target: no relay, each leg sends straight to the other. Its
// latency is the generator's and the kernel's own, the floor under every relay's figure.
type Direct struct{}

func (Direct) Name() string { return "direct" }
func (Direct) PID() int     { return 0 }

func (Direct) CreateCall(_ context.Context, _ int, customer, agent netip.AddrPort) (Call, error) {
	return Call{CustomerIn: agent, AgentIn: customer, Close: func(context.Context) error { return nil }}, nil
}

// RecordingLateCounter is a Target that reports how many audio packets its recordings got
// after their place in the file was written (hush's /metrics, counted as each recording
// ends), read before the calls are set up and after they are closed.
type RecordingLateCounter interface {
	RecordingLate(ctx context.Context) (float64, error)
}

// DropCounter is a Target that reports the relay's own drop counters by reason (hush's
// /metrics), read before and after a run.
type DropCounter interface {
	Drops(ctx context.Context) (map[string]float64, error)
}
