package session

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// Idempotency (AIP-155, and the semantics of the big payment APIs): a caller may repeat a
// mutating request with the same request id, after a lost answer or a failover, and gets
// the first request's session back with nothing changed. A key is scoped to one caller,
// one method and (except for creates) one session, so callers never see each other's
// answers. The request's digest is remembered with it: reusing a key for a different
// request is refused (ErrRequestIDReused) and changes nothing, so a copied or recycled
// request id can never hand one call's session to another.

// Digest is a hash of a whole request (the API uses SHA-256 of its deterministic protobuf
// encoding). Two requests with the same key are the same request only if their digests are.
type Digest [sha256.Size]byte

// Request identifies a mutating request for idempotency.
type Request struct {
	// ID is the caller's idempotency key (request_id); empty: the request is not deduplicated.
	ID string
	// Caller names the authenticated caller (identity, role, method): the scope of ID.
	Caller string
	// Digest identifies the request's content; required when ID is set.
	Digest Digest
}

// Operation names, as the API calls them: part of each key, and named in errors.
const (
	opCreate         = "CreateSession"
	opUpdate         = "UpdateSession"
	opDelete         = "DeleteSession"
	opPause          = "PauseRecording"
	opResume         = "ResumeRecording"
	opStartRecording = "StartRecording"
	opCaptureStart   = "StartSecureCapture"
	opCaptureStop    = "StopSecureCapture"
	opPlayDTMF       = "PlayDtmf"
)

const (
	// requestTTL is how long a request id is remembered: far longer than any retry loop.
	requestTTL = 10 * time.Minute
	// maxRequests bounds the memory of remembered requests (and of ended sessions kept for
	// their answers); the oldest are forgotten first.
	maxRequests = 100000
	// maxWaits bounds how often a repeat waits for an identical request still in flight.
	maxWaits = 3
)

// reqKey scopes a request id: to one caller, one operation and one session ("" for a create).
type reqKey struct {
	caller, op, sessionID, id string
}

// done is a finished request: which request it was and which session it answered with.
type done struct {
	digest    Digest
	sessionID string
}

// flight is a request still running; identical repeats wait for it.
type flight struct {
	digest Digest
	done   chan struct{}
}

// requestCache remembers finished requests by key for requestTTL, bounded in size, and
// tracks those in flight. It has its own lock, taken after (never before) any other.
type requestCache struct {
	mu       sync.Mutex
	finished *expiring[reqKey, done]
	inflight map[reqKey]*flight
}

func newRequestCache(ttl time.Duration, max int) *requestCache {
	return &requestCache{finished: newExpiring[reqKey, done](ttl, max), inflight: make(map[reqKey]*flight)}
}

// beginState is what begin found for a key.
type beginState int

const (
	beginFirst    beginState = iota // no such request: the caller runs it and calls finish
	beginReplay                     // the same request finished: answer with its session
	beginConflict                   // the key was used for a different request
	beginWait                       // the same request is running: wait on the channel
)

func (c *requestCache) begin(k reqKey, d Digest, now time.Time) (beginState, string, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.finished.get(k, now); ok {
		if e.digest != d {
			return beginConflict, "", nil
		}
		return beginReplay, e.sessionID, nil
	}
	if f := c.inflight[k]; f != nil {
		if f.digest != d {
			return beginConflict, "", nil
		}
		return beginWait, "", f.done
	}
	c.inflight[k] = &flight{digest: d, done: make(chan struct{})}
	return beginFirst, "", nil
}

// finish ends a request begin let run; a failed one is forgotten, so a retry runs anew.
func (c *requestCache) finish(k reqKey, sessionID string, ok bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.inflight[k]
	delete(c.inflight, k)
	if ok {
		c.finished.put(k, done{digest: f.digest, sessionID: sessionID}, now)
	}
	close(f.done)
}

// idempotent runs do once per request: a repeat of a finished request returns the session
// it answered with, as it is now (ended sessions as they ended); a repeat while it runs
// waits for it; a different request under the same key is refused.
func (r *Registry) idempotent(op, sessionID string, q Request, do func() (Info, error)) (Info, error) {
	if q.ID == "" {
		return do()
	}
	if q.Digest == (Digest{}) {
		return Info{}, fmt.Errorf("%w: %s: request_id without a request digest", ErrInvalid, op)
	}
	k := reqKey{caller: q.Caller, op: op, sessionID: sessionID, id: q.ID}
	for range maxWaits {
		st, sid, wait := r.reqs.begin(k, q.Digest, r.now())
		switch st {
		case beginConflict:
			return Info{}, fmt.Errorf("%w (%s); nothing was changed: use a new request_id for a new request", ErrRequestIDReused, op)
		case beginReplay:
			return r.answer(sid)
		case beginWait:
			<-wait
			continue
		}
		ok := false
		var in Info
		defer func() { r.reqs.finish(k, in.ID, ok, r.now()) }()
		in, err := do()
		ok = err == nil
		return in, err
	}
	return Info{}, fmt.Errorf("%w (%s); retry", ErrRequestInProgress, op)
}

// answer is what a repeated request gets: its session as it is now.
func (r *Registry) answer(sessionID string) (Info, error) {
	r.mu.Lock()
	s := r.byID[sessionID]
	final, gone := r.gone.get(sessionID, r.now())
	r.mu.Unlock()
	switch {
	case s != nil:
		return s.info(), nil
	case gone:
		return final, nil
	}
	// Ended so long ago that its final state was forgotten: never an old answer whose
	// ports may since belong to another call.
	return Info{}, ErrNotFound
}

// expiring is a map whose entries live for ttl, bounded to max entries, oldest dropped
// first. Callers hold the lock that guards it.
type expiring[K comparable, V any] struct {
	ttl   time.Duration
	max   int
	items map[K]expEntry[V]
	order []expKey[K] // insertion order, for eviction
}

type expEntry[V any] struct {
	v       V
	expires time.Time
}

type expKey[K comparable] struct {
	k       K
	expires time.Time
}

func newExpiring[K comparable, V any](ttl time.Duration, max int) *expiring[K, V] {
	return &expiring[K, V]{ttl: ttl, max: max, items: make(map[K]expEntry[V])}
}

func (m *expiring[K, V]) get(k K, now time.Time) (V, bool) {
	e, ok := m.items[k]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (m *expiring[K, V]) put(k K, v V, now time.Time) {
	m.evict(now)
	exp := now.Add(m.ttl)
	m.items[k] = expEntry[V]{v: v, expires: exp}
	m.order = append(m.order, expKey[K]{k: k, expires: exp})
}

func (m *expiring[K, V]) len() int { return len(m.items) }

// evict drops expired entries from the front of the insertion order, and the oldest ones
// while the map is full. An order entry whose key was put again later only drops the key
// when the expiry matches, so a re-put key keeps its newer entry.
func (m *expiring[K, V]) evict(now time.Time) {
	n := 0
	for n < len(m.order) {
		o := m.order[n]
		e, ok := m.items[o.k]
		live := ok && e.expires.Equal(o.expires)
		if live && now.Before(e.expires) && len(m.items) < m.max {
			break
		}
		if live {
			delete(m.items, o.k)
		}
		n++
	}
	if n > 0 {
		m.order = append(m.order[:0], m.order[n:]...)
	}
}
