package relay

import (
	"testing"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/udpio"
)

// heldEngine takes a group and serves nothing: the test makes the handlers
// itself, as a worker would.
type heldEngine struct{ g *udpio.Group }

func (e *heldEngine) Name() string                { return "held" }
func (e *heldEngine) Close() error                { return nil }
func (e *heldEngine) Raw() bool                   { return false }
func (e *heldEngine) Attach(g *udpio.Group) error { e.g = g; return nil }
func (e *heldEngine) Detach(*udpio.Group)         {}

// A recorded call's maskers are made by Start, on the control path, and the
// receivers an engine makes take them: the worker that serves every call
// makes none (nor takes the page faults of their buffers).
func TestStartMakesRecordedMaskers(t *testing.T) {
	useEngine(t, udpio.Portable)
	e := &heldEngine{}
	c := unstartedCall(t, CallConfig{StrictSource: true,
		Customer: LegConfig{Remote: ap("127.0.0.1:5000")}, Agent: LegConfig{Remote: ap("127.0.0.1:9")}},
		WithEngine(e), WithRecordTap(RecordTap{Sink: &levelSink{}}))
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var made [numLegs]*mask.Masker
	for l := range numLegs {
		if c.lines[l] == nil || c.lines[l].mk == nil {
			t.Fatalf("Start left the %v leg's masker to the engine", Leg(l))
		}
		made[l] = c.lines[l].mk
	}
	rtp := 0
	for _, ep := range e.g.Endpoints {
		r := ep.New(udpio.Write, true).(*receiver)
		if r.kind != kindRTP {
			continue
		}
		rtp++
		if r.dl != c.lines[r.in] || r.dl.mk != made[r.in] {
			t.Errorf("the %v leg's receiver made a delay line or masker of its own", r.in)
		}
		if r.dl.tx == nil || r.dl.late != 0 {
			t.Errorf("the %v leg's delay line did not take the engine's send and lateness", r.in)
		}
	}
	if rtp != int(numLegs) {
		t.Fatalf("%d RTP receivers, want %d", rtp, numLegs)
	}
}
