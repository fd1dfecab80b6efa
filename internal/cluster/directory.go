package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// The directory's keys, under the fleet's prefix P:
//
//	P:node:<node>           a live node: JSON nodeInfo, expires after the lease
//	P:nodes                 set of every node that registered (to find the dead ones)
//	P:node-sessions:<node>  set of the session ids a node owns
//	P:session:<id>          hash: owner, inst, epoch, media, data (the JSON record)
//	P:ended:<id>            a session that ended, for an hour: no stale writer revives it
//	P:epoch                 the fencing token counter
//	P:adopt:<node>          channel: sessions handed over to the node
type directory struct {
	rdb    *redis.Client
	prefix string
}

// tombstoneTTL keeps an ended session from being written back by a node that missed its
// end (a partitioned old owner): far longer than any partition a lease lets pass.
const tombstoneTTL = time.Hour

// NewRedis connects to the session directory. Operations time out on their own, so a
// hung Redis costs a control request at most cluster.write_timeout and the background
// loops a bounded wait; nothing is retried inside the client (the loops retry).
func NewRedis(addr, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Password: password,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 16, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

func (d *directory) key(parts ...string) string {
	k := d.prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

func (d *directory) nodeKey(node string) string      { return d.key("node", node) }
func (d *directory) nodesKey() string                { return d.key("nodes") }
func (d *directory) nodeSessions(node string) string { return d.key("node-sessions", node) }
func (d *directory) sessionKey(id string) string     { return d.key("session", id) }
func (d *directory) endedKey(id string) string       { return d.key("ended", id) }
func (d *directory) epochKey() string                { return d.key("epoch") }
func (d *directory) adoptChannel(node string) string { return d.key("adopt", node) }

// nodeInfo is what a live node says of itself.
type nodeInfo struct {
	Inst     string `json:"inst"`     // process instance: a restart is another
	Peer     string `json:"peer"`     // its peer listener, host:port
	Media    string `json:"media"`    // its advertised media address
	Draining bool   `json:"draining"` // takes no sessions
}

// owner is a session's owner as the directory says.
type owner struct {
	Node, Inst string
	Epoch      uint64
	Media      string
	From       string // the node that handed it over, when it did
}

// Lua scripts: each check-and-set runs atomically in Redis. Return values: the epoch
// written or claimed (> 0), 0 when the session is not in the directory, -1 when another
// owner (or a newer epoch) holds it: the caller is fenced, -2 when the old owner is alive
// (a claim) or the target is gone (a handoff).

// writeScript writes a session's snapshot if the caller still owns it at its epoch. A
// session not in the directory is created: with a new epoch when the caller has none
// (ARGV[3] == 0), else with the caller's (the directory lost it: Redis restarted empty),
// raising the counter so tokens stay monotonic, unless the session ended meanwhile.
// KEYS: session, node-sessions, epoch, ended. ARGV: node, inst, epoch, media, data, id.
const writeScript = `
local cur = redis.call('HMGET', KEYS[1], 'owner', 'inst', 'epoch')
local want = tonumber(ARGV[3])
if cur[3] then
  if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or tonumber(cur[3]) ~= want then return -1 end
  redis.call('HSET', KEYS[1], 'media', ARGV[4], 'data', ARGV[5])
  redis.call('SADD', KEYS[2], ARGV[6])
  return want
end
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
if want == 0 then
  want = redis.call('INCR', KEYS[3])
else
  local e = tonumber(redis.call('GET', KEYS[3]) or '0')
  if e < want then redis.call('SET', KEYS[3], want) end
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'inst', ARGV[2], 'epoch', want, 'media', ARGV[4], 'data', ARGV[5])
redis.call('SADD', KEYS[2], ARGV[6])
return want
`

// deleteScript removes an ended session the caller owns and leaves a tombstone.
// KEYS: session, node-sessions, ended. ARGV: node, inst, epoch, id, tombstone ms.
const deleteScript = `
local cur = redis.call('HMGET', KEYS[1], 'owner', 'inst', 'epoch')
if cur[3] and (cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or tonumber(cur[3]) ~= tonumber(ARGV[3])) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[5])
if cur[3] then return 1 end
return 0
`

// claimScript takes a dead owner's session: it must still be held by that owner at that
// epoch, and the owner's node key must be gone or name another process.
// KEYS: session, old node-sessions, new node-sessions, epoch, old node key.
// ARGV: new node, new inst, old node, old inst, old epoch, id.
const claimScript = `
local cur = redis.call('HMGET', KEYS[1], 'owner', 'inst', 'epoch')
if not cur[3] then return 0 end
if cur[1] ~= ARGV[3] or cur[2] ~= ARGV[4] or tonumber(cur[3]) ~= tonumber(ARGV[5]) then return -1 end
local n = redis.call('GET', KEYS[5])
if n then
  local ok, d = pcall(cjson.decode, n)
  if ok and type(d) == 'table' and d.inst == ARGV[4] then return -2 end
end
local e = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'inst', ARGV[2], 'epoch', e)
redis.call('SREM', KEYS[2], ARGV[6])
redis.call('SADD', KEYS[3], ARGV[6])
return e
`

// handoffScript gives the caller's session to a live target node.
// KEYS: session, old node-sessions, new node-sessions, epoch, target node key.
// ARGV: node, inst, epoch, target node, id.
const handoffScript = `
local cur = redis.call('HMGET', KEYS[1], 'owner', 'inst', 'epoch')
if not cur[3] then return 0 end
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or tonumber(cur[3]) ~= tonumber(ARGV[3]) then return -1 end
local n = redis.call('GET', KEYS[5])
if not n then return -2 end
local ok, d = pcall(cjson.decode, n)
if not ok or type(d) ~= 'table' or type(d.inst) ~= 'string' or d.draining then return -2 end
local e = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'owner', ARGV[4], 'inst', d.inst, 'epoch', e, 'from', ARGV[1])
redis.call('SREM', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[5])
return e
`

// directoryErr marks a failure to reach Redis (as opposed to an answer).
func directoryErr(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrDirectory, err)
}

// heartbeat says the node is alive for lease.
func (d *directory) heartbeat(ctx context.Context, node string, info nodeInfo, lease time.Duration) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	_, err = d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, d.nodeKey(node), b, lease)
		p.SAdd(ctx, d.nodesKey(), node)
		return nil
	})
	return directoryErr(err)
}

// leave removes the node's heartbeat (a clean stop): its sessions are gone or handed over.
func (d *directory) leave(ctx context.Context, node, inst string) error {
	cur, err := d.node(ctx, node)
	if err != nil || cur == nil || cur.Inst != inst {
		return err
	}
	return directoryErr(d.rdb.Del(ctx, d.nodeKey(node)).Err())
}

// node returns a live node's info, nil when it is not alive.
func (d *directory) node(ctx context.Context, node string) (*nodeInfo, error) {
	b, err := d.rdb.Get(ctx, d.nodeKey(node)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, directoryErr(err)
	}
	var ni nodeInfo
	if err := json.Unmarshal(b, &ni); err != nil {
		return nil, fmt.Errorf("%w: node %s: %v", ErrBadRecord, node, err)
	}
	return &ni, nil
}

// nodes returns every registered node and, for the live ones, their info.
func (d *directory) nodes(ctx context.Context) (map[string]*nodeInfo, error) {
	names, err := d.rdb.SMembers(ctx, d.nodesKey()).Result()
	if err != nil {
		return nil, directoryErr(err)
	}
	out := make(map[string]*nodeInfo, len(names))
	if len(names) == 0 {
		return out, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = d.nodeKey(n)
	}
	vals, err := d.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, directoryErr(err)
	}
	for i, n := range names {
		out[n] = nil
		if s, ok := vals[i].(string); ok {
			var ni nodeInfo
			if json.Unmarshal([]byte(s), &ni) == nil {
				out[n] = &ni
			}
		}
	}
	return out, nil
}

// owner reads who owns a session; ok is false when it is not in the directory.
func (d *directory) owner(ctx context.Context, id string) (owner, bool, error) {
	v, err := d.rdb.HMGet(ctx, d.sessionKey(id), "owner", "inst", "epoch", "media").Result()
	if err != nil {
		return owner{}, false, directoryErr(err)
	}
	return parseOwner(v)
}

func parseOwner(v []any) (owner, bool, error) {
	if len(v) < 3 || v[2] == nil {
		return owner{}, false, nil
	}
	o := owner{}
	o.Node, _ = v[0].(string)
	o.Inst, _ = v[1].(string)
	es, _ := v[2].(string)
	e, err := strconv.ParseUint(es, 10, 64)
	if err != nil || o.Node == "" {
		return owner{}, false, fmt.Errorf("%w: owner fields", ErrBadRecord)
	}
	o.Epoch = e
	if len(v) > 3 {
		o.Media, _ = v[3].(string)
	}
	return o, true, nil
}

// load reads a session's owner and record.
func (d *directory) load(ctx context.Context, id string) (owner, []byte, bool, error) {
	v, err := d.rdb.HMGet(ctx, d.sessionKey(id), "owner", "inst", "epoch", "media", "data", "from").Result()
	if err != nil {
		return owner{}, nil, false, directoryErr(err)
	}
	o, ok, err := parseOwner(v)
	if !ok || err != nil {
		return o, nil, ok, err
	}
	data, _ := v[4].(string)
	o.From, _ = v[5].(string)
	return o, []byte(data), true, nil
}

// sessionsOf lists the sessions a node owns.
func (d *directory) sessionsOf(ctx context.Context, node string) ([]string, error) {
	ids, err := d.rdb.SMembers(ctx, d.nodeSessions(node)).Result()
	return ids, directoryErr(err)
}

func (d *directory) claim(ctx context.Context, id, node, inst string, from owner) (int64, error) {
	n, err := d.rdb.Eval(ctx, claimScript,
		[]string{d.sessionKey(id), d.nodeSessions(from.Node), d.nodeSessions(node), d.epochKey(), d.nodeKey(from.Node)},
		node, inst, from.Node, from.Inst, from.Epoch, id).Int64()
	return n, directoryErr(err)
}

func (d *directory) handoff(ctx context.Context, id, node, inst string, epoch uint64, target string) (int64, error) {
	n, err := d.rdb.Eval(ctx, handoffScript,
		[]string{d.sessionKey(id), d.nodeSessions(node), d.nodeSessions(target), d.epochKey(), d.nodeKey(target)},
		node, inst, epoch, target, id).Int64()
	if err != nil {
		return 0, directoryErr(err)
	}
	if n > 0 {
		// A wake-up for the target; it also finds the session by its own scan.
		_ = d.rdb.Publish(ctx, d.adoptChannel(target), id).Err()
	}
	return n, nil
}

// write is one session's write (or delete) in a flush.
type write struct {
	id     string
	epoch  uint64
	data   []byte // nil: delete
	result int64
	err    error
}

// flush writes a batch of sessions in one round trip.
func (d *directory) flush(ctx context.Context, node, inst, media string, ws []*write) error {
	cmds := make([]*redis.Cmd, len(ws))
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range ws {
			if w.data == nil {
				cmds[i] = p.Eval(ctx, deleteScript, []string{d.sessionKey(w.id), d.nodeSessions(node), d.endedKey(w.id)},
					node, inst, w.epoch, w.id, tombstoneTTL.Milliseconds())
				continue
			}
			cmds[i] = p.Eval(ctx, writeScript, []string{d.sessionKey(w.id), d.nodeSessions(node), d.epochKey(), d.endedKey(w.id)},
				node, inst, w.epoch, media, w.data, w.id)
		}
		return nil
	})
	for i, w := range ws {
		w.result, w.err = cmds[i].Int64()
		w.err = directoryErr(w.err)
	}
	return directoryErr(err)
}

// owners reads the owners of many sessions in one round trip (nil entries: not there).
func (d *directory) owners(ctx context.Context, ids []string) ([]*owner, error) {
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, d.sessionKey(id), "owner", "inst", "epoch", "media")
		}
		return nil
	})
	if err != nil {
		return nil, directoryErr(err)
	}
	out := make([]*owner, len(ids))
	for i, c := range cmds {
		if o, ok, err := parseOwner(c.Val()); ok && err == nil {
			out[i] = &o
		}
	}
	return out, nil
}

// ended reports whether a session ended (its tombstone is there).
func (d *directory) ended(ctx context.Context, id string) (bool, error) {
	n, err := d.rdb.Exists(ctx, d.endedKey(id)).Result()
	return n == 1, directoryErr(err)
}

// forget removes a node from the list of registered nodes once it has no sessions.
func (d *directory) forget(ctx context.Context, node string) error {
	return directoryErr(d.rdb.SRem(ctx, d.nodesKey(), node).Err())
}
