package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hushmedia/hush/internal/session"
)

// Hooks observe a node for metrics and health. Every field is optional.
type Hooks struct {
	// Healthy hears when the directory becomes reachable or unreachable.
	Healthy func(ok bool)
	// Moved: a session moved to this node (reason session.MoveTakeover or MoveHandoff).
	Moved func(reason string)
	// Fenced: this node stopped running a session another node holds a newer claim on.
	Fenced func()
	// WriteFailed: a batch of directory writes failed (they are retried).
	WriteFailed func()
}

// Options configure a Node.
type Options struct {
	Redis  *redis.Client
	Prefix string
	// Node is this node's name; PeerAddr where other nodes reach its peer listener;
	// MediaAddr its advertised media address: it takes over dead nodes' sessions bound
	// to the same address.
	Node, PeerAddr, MediaAddr string
	// Lease: a node whose heartbeat is this old is dead. The heartbeat and the checks of
	// this node's claims run four times per lease.
	Lease time.Duration
	// WriteTimeout bounds how long a control request waits for its session's write.
	WriteTimeout time.Duration
	Logger       *slog.Logger
	Hooks        Hooks
}

// owned is this node's bookkeeping of one of its sessions.
type owned struct {
	epoch    uint64 // the fencing token of this node's claim; 0 until first written
	version  uint64 // changes seen
	written  uint64 // version last written
	ended    bool
	reason   session.EndReason
	claiming bool // restored here, claim not settled yet: not written, not checked
}

// Node is this hushd in the fleet: it keeps the directory current with its sessions,
// heartbeats, takes over dead nodes' sessions and lets go of sessions claimed by others.
type Node struct {
	o    Options
	dir  directory
	inst string
	log  *slog.Logger
	reg  *session.Registry

	mu       sync.Mutex
	own      map[string]*owned
	dirty    map[string]struct{}
	flushed  chan struct{} // closed and replaced after each flush
	draining bool
	peers    map[string]*nodeInfo // live nodes as of the last scan, for routing
	failing  map[string]bool      // takeovers that failed (warned once)

	wake     chan struct{} // to the flusher
	adopt    chan struct{} // to the reconciler: a session was handed to this node
	healthy  atomic.Bool
	healthMu sync.Mutex
	beatStop atomic.Bool // tests: the heartbeat stops (a partition, as the others see it)
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// NewNode prepares a node. Its Changed method may be handed to the session registry
// (session.Hooks.Changed) before Start.
func NewNode(o Options) *Node {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Lease <= 0 {
		o.Lease = 1500 * time.Millisecond
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 250 * time.Millisecond
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Node{o: o, dir: directory{rdb: o.Redis, prefix: o.Prefix}, inst: hex.EncodeToString(b[:]),
		log: o.Logger.With("node", o.Node), own: map[string]*owned{}, dirty: map[string]struct{}{}, failing: map[string]bool{},
		flushed: make(chan struct{}), wake: make(chan struct{}, 1), adopt: make(chan struct{}, 1)}
}

// Name is the node's name.
func (n *Node) Name() string { return n.o.Node }

// Healthy reports whether the directory answered the last heartbeat and write.
func (n *Node) Healthy() bool { return n.healthy.Load() }

// Changed notes a session change for the directory (session.Hooks.Changed). It runs
// under the session's lock, on control and packet goroutines: it never blocks.
func (n *Node) Changed(c session.Change) {
	n.mu.Lock()
	o := n.own[c.ID]
	if o == nil {
		o = &owned{}
		n.own[c.ID] = o
	}
	o.version++
	if c.Ended {
		o.ended, o.reason = true, c.Reason
	}
	n.dirty[c.ID] = struct{}{}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Pending is how many sessions have changes not yet in the directory.
func (n *Node) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, o := range n.own {
		if o.version > o.written {
			c++
		}
	}
	return c
}

// Start runs the node's loops until Close: the first heartbeat and the takeover of any
// session this node should run come at once.
func (n *Node) Start(reg *session.Registry) {
	n.reg = reg
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.beat(ctx)
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.flushLoop(ctx) }()
	go func() { defer n.wg.Done(); n.beatLoop(ctx) }()
	go func() { defer n.wg.Done(); n.subscribe(ctx) }()
}

// Close stops the loops after a last flush (bounded by the lease) and takes the node's
// heartbeat out, so its ended sessions are gone from the directory and nobody waits for
// its lease. Sessions still running stay in the directory: a node restarting under this
// name takes them back.
func (n *Node) Close() {
	if n.cancel == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.o.Lease)
	defer cancel()
	_ = n.flushOnce(ctx)
	n.cancel()
	n.wg.Wait()
	n.mu.Lock()
	running := 0
	for _, o := range n.own {
		if !o.ended {
			running++
		}
	}
	n.mu.Unlock()
	if running == 0 {
		_ = n.dir.leave(ctx, n.o.Node, n.inst)
	}
}

// SetDraining marks the node as draining: it takes over and adopts nothing more, and
// other nodes hand it nothing.
func (n *Node) SetDraining() {
	n.mu.Lock()
	n.draining = true
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), n.o.Lease)
	defer cancel()
	n.beat(ctx)
}

func (n *Node) isDraining() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.draining
}

func (n *Node) setHealthy(ok bool, err error) {
	// One change at a time, so the hook hears them in the order they were made.
	n.healthMu.Lock()
	defer n.healthMu.Unlock()
	if n.healthy.Swap(ok) == ok {
		return
	}
	if ok {
		n.log.Info("session directory reachable")
	} else {
		n.log.Warn("session directory unreachable: local sessions go on, changes are kept until it answers", "err", err)
	}
	if h := n.o.Hooks.Healthy; h != nil {
		h(ok)
	}
}

// Sync waits until the directory has the session as it is now, at most the write
// timeout; when the directory is down it does not wait at all (the write goes on in the
// background). A control request calls it before it answers, so a change it acknowledges
// survives a crash whenever the directory is up.
func (n *Node) Sync(ctx context.Context, id string) error {
	n.mu.Lock()
	o := n.own[id]
	if o == nil {
		n.mu.Unlock()
		return nil
	}
	target := o.version
	n.mu.Unlock()
	if !n.healthy.Load() {
		return ErrDirectory
	}
	ctx, cancel := context.WithTimeout(ctx, n.o.WriteTimeout)
	defer cancel()
	for {
		n.mu.Lock()
		o := n.own[id]
		if o == nil || o.written >= target || o.ended {
			n.mu.Unlock()
			return nil
		}
		ch := n.flushed
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrDirectory, ctx.Err())
		}
	}
}

// flushLoop writes changed sessions as they change, retrying with a backoff while the
// directory does not answer.
func (n *Node) flushLoop(ctx context.Context) {
	var backoff time.Duration
	for {
		var retry <-chan time.Time
		var t *time.Timer
		if backoff > 0 {
			t = time.NewTimer(backoff)
			retry = t.C
		}
		select {
		case <-ctx.Done():
		case <-n.wake:
		case <-retry:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		wctx, cancel := context.WithTimeout(ctx, max(n.o.WriteTimeout, time.Second))
		err := n.flushOnce(wctx)
		cancel()
		if err != nil {
			backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
			n.log.Debug("directory write failed; retrying", "err", err, "backoff", backoff)
			if h := n.o.Hooks.WriteFailed; h != nil {
				h()
			}
			n.setHealthy(false, err)
			continue
		}
		backoff = 0
		n.mu.Lock()
		more := len(n.dirty) > 0
		n.mu.Unlock()
		if more {
			select {
			case n.wake <- struct{}{}:
			default:
			}
		}
	}
}

// maxBatch bounds one flush's round trip.
const maxBatch = 512

// flushOnce writes one batch of changed sessions.
func (n *Node) flushOnce(ctx context.Context) error {
	type item struct {
		w       *write
		version uint64
	}
	n.mu.Lock()
	var ids []string
	for id := range n.dirty {
		if o := n.own[id]; o != nil && o.claiming {
			continue // written once the claim is settled
		}
		ids = append(ids, id)
		delete(n.dirty, id)
		if len(ids) == maxBatch {
			break
		}
	}
	n.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	var items []item
	for _, id := range ids {
		n.mu.Lock()
		o := n.own[id]
		if o == nil {
			n.mu.Unlock()
			continue
		}
		ver, epoch, ended, reason := o.version, o.epoch, o.ended, o.reason
		if ended && reason == session.EndMoved {
			delete(n.own, id) // it goes on elsewhere: the directory is the new owner's
			n.mu.Unlock()
			continue
		}
		n.mu.Unlock()
		if ended {
			items = append(items, item{w: &write{id: id, epoch: epoch}, version: ver})
			continue
		}
		snap, err := n.reg.Snapshot(id)
		if err != nil {
			continue // ending: its end is noted next
		}
		data, err := encodeRecord(&snap)
		if err != nil {
			n.log.Error("session not written to the directory", "session_id", id, "err", err)
			continue
		}
		items = append(items, item{w: &write{id: id, epoch: epoch, data: data}, version: ver})
	}
	ws := make([]*write, len(items))
	for i := range items {
		ws[i] = items[i].w
	}
	err := n.dir.flush(ctx, n.o.Node, n.inst, n.o.MediaAddr, ws)
	var fenced []string
	n.mu.Lock()
	for _, it := range items {
		w, o := it.w, n.own[it.w.id]
		switch {
		case o == nil:
		case w.err != nil:
			n.dirty[w.id] = struct{}{}
		case w.result < 0:
			delete(n.own, w.id)
			if w.data != nil {
				fenced = append(fenced, w.id)
			}
		case w.data == nil:
			delete(n.own, w.id)
		default:
			o.epoch = uint64(w.result)
			o.written = max(o.written, it.version)
		}
	}
	close(n.flushed)
	n.flushed = make(chan struct{})
	n.mu.Unlock()
	for _, id := range fenced {
		n.fence(id, "a write was refused: another node holds a newer claim")
	}
	if err != nil {
		return err
	}
	n.setHealthy(true, nil)
	return nil
}

// fence stops running a session another node holds a newer claim on.
func (n *Node) fence(id, why string) {
	if _, err := n.reg.Relinquish(id, "cluster"); err != nil {
		return
	}
	n.log.Warn("session stopped here: another node holds a newer claim on it", "session_id", id, "why", why)
	if h := n.o.Hooks.Fenced; h != nil {
		h()
	}
}

func (n *Node) info() nodeInfo {
	return nodeInfo{Inst: n.inst, Peer: n.o.PeerAddr, Media: n.o.MediaAddr, Draining: n.isDraining()}
}

func (n *Node) beat(ctx context.Context) {
	if n.beatStop.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, n.o.Lease/2)
	defer cancel()
	err := n.dir.heartbeat(ctx, n.o.Node, n.info(), n.o.Lease)
	if err != nil {
		n.log.Debug("heartbeat failed", "err", err)
	}
	n.setHealthy(err == nil, err)
}

// beatLoop heartbeats and reconciles four times a lease, and at once when a session is
// handed to this node.
func (n *Node) beatLoop(ctx context.Context) {
	t := time.NewTicker(n.o.Lease / 4)
	defer t.Stop()
	n.reconcile(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.beat(ctx)
		case <-n.adopt:
		}
		n.reconcile(ctx)
	}
}

// subscribe wakes the reconciler when a session is handed to this node.
func (n *Node) subscribe(ctx context.Context) {
	ps := n.dir.rdb.Subscribe(ctx, n.dir.adoptChannel(n.o.Node))
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			select {
			case n.adopt <- struct{}{}:
			default:
			}
		}
	}
}

// reconcile checks this node's claims and takes on the sessions it should run.
func (n *Node) reconcile(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, n.o.Lease)
	defer cancel()
	if err := n.checkClaims(ctx); err != nil {
		n.log.Debug("claims not checked", "err", err)
		n.setHealthy(false, err)
		return
	}
	if n.isDraining() {
		return
	}
	if err := n.takeOn(ctx); err != nil && !errors.Is(err, context.Canceled) {
		n.log.Debug("takeover scan incomplete", "err", err)
	}
}

// checkClaims gives up the sessions another node now holds a newer claim on, and marks
// for writing those the directory lost (Redis restarted empty).
func (n *Node) checkClaims(ctx context.Context) error {
	n.mu.Lock()
	ids := make([]string, 0, len(n.own))
	epochs := make([]uint64, 0, len(n.own))
	for id, o := range n.own {
		if o.epoch > 0 && !o.claiming && !o.ended {
			ids = append(ids, id)
			epochs = append(epochs, o.epoch)
		}
	}
	n.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	owners, err := n.dir.owners(ctx, ids)
	if err != nil {
		return err
	}
	lost := false
	for i, o := range owners {
		switch {
		case o == nil:
			n.mu.Lock()
			n.dirty[ids[i]] = struct{}{}
			n.mu.Unlock()
			lost = true
		case o.Node != n.o.Node || o.Inst != n.inst || o.Epoch != epochs[i]:
			n.mu.Lock()
			delete(n.own, ids[i])
			n.mu.Unlock()
			n.fence(ids[i], fmt.Sprintf("claimed by %s at epoch %d (this node's: %d)", o.Node, o.Epoch, epochs[i]))
		}
	}
	if lost {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// takeOn restores the sessions this node should run and does not: handed to it, left by
// its own previous process, or left by a dead node that shared its media address.
func (n *Node) takeOn(ctx context.Context) error {
	nodes, err := n.dir.nodes(ctx)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.peers = nodes
	n.mu.Unlock()
	for name, info := range nodes {
		if name != n.o.Node && info != nil {
			continue // alive: its sessions are its own
		}
		ids, err := n.dir.sessionsOf(ctx, name)
		if err != nil {
			return err
		}
		if len(ids) == 0 && name != n.o.Node {
			_ = n.dir.forget(ctx, name)
			continue
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			n.takeOne(ctx, id)
		}
	}
	return nil
}

// firstFailure reports whether a takeover of id fails for the first time.
func (n *Node) firstFailure(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failing[id] {
		return false
	}
	if len(n.failing) > 10000 {
		clear(n.failing) // bounded: at worst a warning is said again
	}
	n.failing[id] = true
	return true
}

// peer is a live node as the last scan saw it (nil: not seen alive).
func (n *Node) peer(name string) *nodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peers[name]
}

// takeOne restores one session if this node should run it: the session's ports are bound
// first (only the holder of the media address can, and only once the old process let go
// of them), then the claim is made; a claim lost is a session let go at once.
func (n *Node) takeOne(ctx context.Context, id string) {
	if _, err := n.reg.Get(id); err == nil {
		return // runs here
	}
	o, data, ok, err := n.dir.load(ctx, id)
	if err != nil || !ok || o.Media != n.o.MediaAddr {
		return
	}
	reason := session.MoveTakeover
	handedHere := o.Node == n.o.Node && o.Inst == n.inst
	if handedHere {
		reason = session.MoveHandoff
	}
	from := o.Node
	if handedHere {
		from = o.From
	}
	snap, err := decodeRecord(data)
	if err != nil {
		n.log.Error("session in the directory cannot be taken over", "session_id", id, "err", err)
		return
	}
	n.mu.Lock()
	if _, busy := n.own[id]; busy {
		n.mu.Unlock()
		return
	}
	n.own[id] = &owned{claiming: true}
	n.mu.Unlock()
	drop := func() {
		n.mu.Lock()
		delete(n.own, id)
		n.mu.Unlock()
	}
	if _, err := n.reg.Restore(snap, session.Move{From: from, Reason: reason}); err != nil {
		drop()
		lvl := slog.LevelDebug // the old process has not let go of the ports yet
		if !errors.Is(err, session.ErrPortUnavailable) && n.firstFailure(id) {
			lvl = slog.LevelWarn // said once; retried every quarter lease
		}
		n.log.Log(ctx, lvl, "session not taken over yet; retrying", "session_id", id, "owner", o.Node, "err", err)
		return
	}
	n.mu.Lock()
	delete(n.failing, id)
	n.mu.Unlock()
	epoch := o.Epoch
	if !handedHere {
		e, err := n.dir.claim(ctx, id, n.o.Node, n.inst, o)
		if err != nil || e <= 0 {
			drop()
			_, _ = n.reg.Relinquish(id, "cluster")
			n.log.Warn("claim on a session lost; let go of it", "session_id", id, "owner", o.Node, "result", e, "err", err)
			return
		}
		epoch = uint64(e)
	}
	n.mu.Lock()
	if ow := n.own[id]; ow != nil {
		ow.claiming, ow.epoch = false, epoch
		n.dirty[id] = struct{}{}
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	n.log.Info("session taken over", "session_id", id, "from", from, "reason", reason, "epoch", epoch)
	if h := n.o.Hooks.Moved; h != nil {
		h(reason)
	}
}
