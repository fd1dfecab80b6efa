package cluster

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hushmedia/hush/internal/session"
)

// quietPoll is how often a handoff looks for a quiet moment in a session.
const quietPoll = 50 * time.Millisecond

// Handoff hands this node's sessions, one at a time, to live nodes that share its media
// address (a floating address, or one host's address shared by two processes), each at
// a quiet moment: no secure capture running and no automatic pause (keys being pressed).
// The node stops taking sessions first. It returns how many it handed over; sessions
// left (no node to take them, or ctx ended) run on here. ErrNoTarget when no node can
// take any.
func (n *Node) Handoff(ctx context.Context) (int, error) {
	n.SetDraining()
	page, _, _ := n.reg.List(session.ListFilter{PageSize: 1 << 30})
	handed := 0
	for _, in := range page {
		if ctx.Err() != nil {
			break
		}
		target, err := n.pickTarget(ctx)
		if err != nil {
			return handed, err
		}
		if err := n.waitQuiet(ctx, in.ID); err != nil {
			continue
		}
		if err := n.handOne(ctx, in.ID, target); err != nil {
			n.log.Warn("session not handed over; it runs on here", "session_id", in.ID, "target", target, "err", err)
			continue
		}
		handed++
	}
	return handed, nil
}

// pickTarget is the live, not draining node sharing this node's media address that owns
// the fewest sessions.
func (n *Node) pickTarget(ctx context.Context) (string, error) {
	nodes, err := n.dir.nodes(ctx)
	if err != nil {
		return "", err
	}
	var names []string
	for name, info := range nodes {
		if name != n.o.Node && info != nil && !info.Draining && info.Media == n.o.MediaAddr {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "", ErrNoTarget
	}
	sort.Strings(names)
	best, bestN := "", int64(-1)
	for _, name := range names {
		c, err := n.dir.rdb.SCard(ctx, n.dir.nodeSessions(name)).Result()
		if err != nil {
			return "", directoryErr(err)
		}
		if bestN < 0 || c < bestN {
			best, bestN = name, c
		}
	}
	return best, nil
}

// waitQuiet waits until no capture runs and no key is being pressed in the session.
func (n *Node) waitQuiet(ctx context.Context, id string) error {
	t := time.NewTicker(quietPoll)
	defer t.Stop()
	for {
		snap, err := n.reg.Snapshot(id)
		if err != nil {
			return err
		}
		if !snap.CaptureOn && !snap.Recording.Auto {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// handOne gives one session to target: the directory first gets its last state and names
// the target owner (a newer epoch), then this node lets go of the ports, then the target
// is woken to bind them. A crash in between leaves the session with the target, which
// binds the ports once this process is gone.
func (n *Node) handOne(ctx context.Context, id, target string) error {
	n.mu.Lock()
	if o := n.own[id]; o != nil {
		o.version++ // written now, even if nothing changed since the last write
		n.dirty[id] = struct{}{}
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	if err := n.Sync(ctx, id); err != nil {
		return err
	}
	n.mu.Lock()
	o := n.own[id]
	var epoch uint64
	if o != nil {
		epoch = o.epoch
	}
	n.mu.Unlock()
	if epoch == 0 {
		return fmt.Errorf("%w: not in the directory yet", ErrDirectory)
	}
	e, err := n.dir.handoff(ctx, id, n.o.Node, n.inst, epoch, target)
	switch {
	case err != nil:
		return err
	case e == -1:
		n.fence(id, "claimed by another node before the handoff")
		return ErrFenced
	case e <= 0:
		return fmt.Errorf("%w: %s cannot take it (result %d)", ErrNoTarget, target, e)
	}
	n.mu.Lock()
	delete(n.own, id)
	n.mu.Unlock()
	_, _ = n.reg.Relinquish(id, "drain") // ErrNotFound: a claim check got there first
	// The target tried at the first wake-up, while this node still held the ports.
	_ = n.dir.rdb.Publish(ctx, n.dir.adoptChannel(target), id).Err()
	n.log.Info("session handed over", "session_id", id, "to", target, "epoch", e)
	return nil
}
