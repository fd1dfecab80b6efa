package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/session"
)

// TestDirectoryFollowsSessions: a session created, changed and ended on a node is in the
// directory as it is after each control change (the change waits for its write), and
// gone with a tombstone once it ended.
func TestDirectoryFollowsSessions(t *testing.T) {
	f := newFleet(t)
	a := f.node("a", "127.0.0.1", "127.0.0.1")
	cust, agent := newPhone(t, 1), newPhone(t, 2)
	in := a.call(t, "call-1", cust, agent)
	d := f.dir()
	o, data, ok, err := d.load(ctx(t), in.ID)
	if err != nil || !ok {
		t.Fatalf("not in the directory: %v", err)
	}
	if o.Node != "a" || o.Inst != a.inst || o.Epoch == 0 || o.Media != "127.0.0.1" {
		t.Fatalf("owner %+v", o)
	}
	snap, err := decodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if snap.CallID != "call-1" || snap.Legs[session.Customer].Local != in.Customer.Local || snap.CaptureBegun {
		t.Fatalf("record %+v", snap)
	}
	// A control change is in the directory when it answers.
	if _, err := a.reg.StartCapture(in.ID, session.CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx(t), in.ID); err != nil {
		t.Fatal(err)
	}
	_, data, _, _ = d.load(ctx(t), in.ID)
	if snap, _ = decodeRecord(data); !snap.CaptureOn || !snap.CaptureBegun {
		t.Fatalf("capture not in the directory: %+v", snap)
	}
	if _, err := a.reg.Delete(in.ID, session.Request{}, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ended session to leave the directory", func() bool {
		_, ok, _ := d.owner(context.Background(), in.ID)
		return !ok
	})
	if ended, err := d.ended(ctx(t), in.ID); err != nil || !ended {
		t.Fatalf("no tombstone: %v %v", ended, err)
	}
	// A stale writer (the old epoch) cannot bring it back.
	w := &write{id: in.ID, epoch: o.Epoch, data: data}
	if err := d.flush(ctx(t), "a", a.inst, "127.0.0.1", []*write{w}); err != nil || w.result != -1 {
		t.Fatalf("stale write after the end: result %d err %v %v", w.result, err, w.err)
	}
}

// TestRestartTakesCallsBack: a node killed mid-call and started again under its name takes
// its calls back at once (no lease to wait for): the same ports, the remotes, the media
// flowing again, a newer claim, and the move on the session.
func TestRestartTakesCallsBack(t *testing.T) {
	f := newFleet(t)
	a := f.node("a", "127.0.0.1", "127.0.0.1")
	cust, agent := newPhone(t, 1), newPhone(t, 2)
	in := a.call(t, "call-1", cust, agent)
	flows(t, cust, agent, in.Customer.Local)
	o1, _, _ := f.dir().owner(ctx(t), in.ID)
	a.crash()

	start := time.Now()
	a2 := f.node("a", "127.0.0.1", "127.0.0.1")
	waitFor(t, "the restarted node to run the call", func() bool { _, err := a2.reg.Get(in.ID); return err == nil })
	took := time.Since(start)
	got, _ := a2.reg.Get(in.ID)
	if got.Customer.Local != in.Customer.Local || got.Agent.Local != in.Agent.Local {
		t.Fatalf("ports %v/%v, want %v/%v", got.Customer.Local, got.Agent.Local, in.Customer.Local, in.Agent.Local)
	}
	flows(t, cust, agent, in.Customer.Local)
	if len(got.Moves) != 1 || got.Moves[0].From != "a" || got.Moves[0].Reason != session.MoveTakeover {
		t.Errorf("moves %+v", got.Moves)
	}
	waitFor(t, "the new claim", func() bool {
		o, _, _ := f.dir().owner(context.Background(), in.ID)
		return o.Inst == a2.inst && o.Epoch > o1.Epoch
	})
	if took >= testLease {
		t.Errorf("took %v, not less than the lease (%v): a restart must not wait for its own lease", took, testLease)
	}
	t.Logf("restart took the call back in %v", took)
}

// TestStandbyTakesOver: a standby sharing the dead node's media address takes its calls
// over once the dead node's lease has run out, not before.
func TestStandbyTakesOver(t *testing.T) {
	f := newFleet(t)
	a := f.node("a", "127.0.0.1", "127.0.0.1")
	b := f.node("b", "127.0.0.1", "127.0.0.1")
	other := f.node("c", "127.0.0.1", "192.0.2.99") // another media address: never takes a's calls
	cust, agent := newPhone(t, 1), newPhone(t, 2)
	in := a.call(t, "call-1", cust, agent)
	a.crash()
	killed := time.Now()
	waitFor(t, "the standby to run the call", func() bool { _, err := b.reg.Get(in.ID); return err == nil })
	took := time.Since(killed)
	flows(t, cust, agent, in.Customer.Local)
	if other.reg.Len() != 0 {
		t.Error("a node with another media address took the call")
	}
	if took > 3*testLease {
		t.Errorf("took %v, lease %v", took, testLease)
	}
	waitFor(t, "the takeover to be reported", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.moved) == 1 && b.moved[0] == session.MoveTakeover
	})
	t.Logf("standby took the call over %v after the kill (lease %v)", took, testLease)
}

// TestSplitBrain: a node whose heartbeat stops (a partition as the others see it) while it
// still runs its call: the standby sharing its (floating) media address takes the call
// over with a newer fencing token; the old node finds the newer claim and stops
// forwarding; one owner is left, and the old node's stale writes are refused.
func TestSplitBrain(t *testing.T) {
	f := newFleet(t)
	// Both bind their own loopback address; the floating address they share is the
	// documentation address both advertise, as keepalived would move it.
	x := f.node("x", "127.0.0.2", "192.0.2.1")
	y := f.node("y", "127.0.0.3", "192.0.2.1")
	cust, agent := newPhone(t, 1), newPhone(t, 2)
	in := x.call(t, "call-1", cust, agent)
	flows(t, cust, agent, in.Customer.Local)
	ox, _, _ := f.dir().owner(ctx(t), in.ID)
	x.beatStop.Store(true)

	waitFor(t, "y to take the call", func() bool { _, err := y.reg.Get(in.ID); return err == nil })
	waitFor(t, "x to let the call go", func() bool { _, err := x.reg.Get(in.ID); return errors.Is(err, session.ErrNotFound) })
	oy, _, _ := f.dir().owner(ctx(t), in.ID)
	if oy.Node != "y" || oy.Epoch <= ox.Epoch {
		t.Fatalf("owner %+v after x's %+v: want y with a higher token", oy, ox)
	}
	gotY, _ := y.reg.Get(in.ID)
	if gotY.Customer.Local.Port() != in.Customer.Local.Port() {
		t.Fatalf("y bound %v, x had %v", gotY.Customer.Local, in.Customer.Local)
	}
	// x forwards no more: what the customer sends to x's socket goes nowhere, what it
	// sends to y's arrives, and nothing else does.
	_ = cust.send(in.Customer.Local)
	viaY := cust.send(gotY.Customer.Local)
	if got := agent.next(); string(got) != string(viaY) {
		t.Fatal("the agent got a packet through x after y took the call")
	}
	// x's writes are refused (it would otherwise overwrite y's state).
	w := &write{id: in.ID, epoch: ox.Epoch, data: []byte(`{}`)}
	if err := f.dir().flush(ctx(t), "x", x.inst, "192.0.2.1", []*write{w}); err != nil || w.result != -1 {
		t.Fatalf("x's stale write: result %d err %v", w.result, err)
	}
	// With its heartbeat back, x does not take the call back: y is alive.
	x.beatStop.Store(false)
	x.beat(ctx(t))
	x.reconcile(ctx(t))
	if _, err := x.reg.Get(in.ID); err == nil {
		t.Fatal("x took the call back from a live y")
	}
}

// TestRedisDownCatchesUp: with Redis frozen (accepting, never answering), control of the
// node's own sessions keeps working, bounded by the write timeout at first and at once
// after that; health turns degraded; media flows. Thawed, the directory catches up with
// every change made meanwhile and health recovers. Restarted empty, the directory gets
// every running session back, with its epoch.
func TestRedisDownCatchesUp(t *testing.T) {
	f := newFleet(t)
	var mu sync.Mutex
	var health []bool
	a := f.node("a", "127.0.0.1", "127.0.0.1", func(o *Options) {
		o.Hooks.Healthy = func(ok bool) { mu.Lock(); health = append(health, ok); mu.Unlock() }
	})
	cust, agent := newPhone(t, 1), newPhone(t, 2)
	in := a.call(t, "call-1", cust, agent)
	o1, _, _ := f.dir().owner(ctx(t), in.ID)

	f.redis.Freeze()
	waitFor(t, "health to turn degraded", func() bool { return !a.Healthy() })
	for i := range 20 {
		start := time.Now()
		var err error
		if i%2 == 0 {
			_, err = a.reg.StartCapture(in.ID, session.CaptureOptions{Actor: "agent-7"})
		} else {
			_, err = a.reg.StopCapture(in.ID, session.Request{}, "agent-7")
		}
		if err == nil {
			err = a.Sync(ctx(t), in.ID)
		}
		if !errors.Is(err, ErrDirectory) {
			t.Fatalf("control %d while Redis is frozen: %v, want the change made and ErrDirectory", i, err)
		}
		if d := time.Since(start); d > a.o.WriteTimeout+100*time.Millisecond {
			t.Fatalf("control %d took %v with Redis frozen", i, d)
		}
	}
	if _, err := a.reg.StartCapture(in.ID, session.CaptureOptions{Actor: "agent-7"}); err != nil {
		t.Fatal(err)
	}
	flows(t, cust, agent, in.Customer.Local)
	if a.Pending() == 0 {
		t.Error("no change pending while Redis is frozen")
	}

	f.redis.Thaw()
	waitFor(t, "the directory to catch up", func() bool {
		_, data, ok, _ := f.dir().load(context.Background(), in.ID)
		snap, err := decodeRecord(data)
		return ok && err == nil && snap.CaptureOn
	})
	waitFor(t, "health to recover", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(health) > 0 && health[len(health)-1]
	})
	mu.Lock()
	if len(health) < 2 || health[len(health)-2] || !health[len(health)-1] {
		t.Errorf("health changes %v, want degraded then recovered", health)
	}
	mu.Unlock()

	f.redis.Restart()
	waitFor(t, "the session back in an empty Redis", func() bool {
		o, ok, _ := f.dir().owner(context.Background(), in.ID)
		return ok && o.Epoch == o1.Epoch && o.Inst == a.inst
	})
	if e, _ := f.client().Get(ctx(t), f.dir().epochKey()).Int64(); uint64(e) < o1.Epoch {
		t.Errorf("epoch counter %d after the restart, below the session's %d: tokens must not go back", e, o1.Epoch)
	}
}

// TestHandoff: a draining node hands its call to a node sharing its media address at a
// quiet moment (after a secure capture stops, not during it); the call goes on on the
// same ports with a short gap, and the old node's session ends as moved.
func TestHandoff(t *testing.T) {
	f := newFleet(t)
	a := f.node("a", "127.0.0.1", "127.0.0.1")
	b := f.node("b", "127.0.0.1", "127.0.0.1")
	cust, agent := newPhone(t, 1), newPhone(t, 2)
	in := a.call(t, "call-1", cust, agent)
	if _, err := a.reg.StartCapture(in.ID, session.CaptureOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, _, err := a.reg.Watch(context.Background(), in.ID)
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	done := make(chan int, 1)
	go func() {
		n, err := a.Handoff(ctx(t))
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	// Not while capturing: a wait for the watch proves the handoff is waiting, then the
	// capture stops and it goes.
	waitFor(t, "a to stop taking sessions", a.isDraining)
	if _, err := a.reg.StopCapture(in.ID, session.Request{}, "agent-7"); err != nil {
		t.Fatal(err)
	}
	var ended session.Event
	for e := range ch {
		if e.Kind == session.EventEnded {
			ended = e
		}
	}
	stopped := time.Now()
	if ended.Reason != session.EndMoved {
		t.Fatalf("a's session ended %+v, want moved", ended)
	}
	waitFor(t, "b to run the call", func() bool { _, err := b.reg.Get(in.ID); return err == nil })
	gap := time.Since(stopped)
	flows(t, cust, agent, in.Customer.Local)
	if n := <-done; n != 1 {
		t.Fatalf("handed %d", n)
	}
	got, _ := b.reg.Get(in.ID)
	if len(got.Moves) != 1 || got.Moves[0].Reason != session.MoveHandoff || got.Moves[0].From != "a" {
		t.Errorf("moves %+v", got.Moves)
	}
	if got.Capture.On {
		t.Error("capture on after the handoff")
	}
	t.Logf("handoff gap (a let go -> b bound): %v", gap)
}
