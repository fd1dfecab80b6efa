package session

import "time"

// requestCache remembers the results of requests by idempotency key for a while, so a
// retried request (a lost response, a platform failover) gets the first answer. It is
// bounded in both time and size; callers hold the registry lock.
type requestCache struct {
	ttl   time.Duration
	max   int
	items map[string]cachedEntry
	order []string // insertion order, for eviction
}

type cached struct {
	sessionID string
	info      Info
}

type cachedEntry struct {
	cached
	expires time.Time
}

func newRequestCache(ttl time.Duration, max int) *requestCache {
	return &requestCache{ttl: ttl, max: max, items: make(map[string]cachedEntry)}
}

func reqKey(op, sessionID, requestID string) string {
	return op + "\x00" + sessionID + "\x00" + requestID
}

func (c *requestCache) get(key string, now time.Time) (cached, bool) {
	e, ok := c.items[key]
	if !ok || now.After(e.expires) {
		return cached{}, false
	}
	return e.cached, true
}

func (c *requestCache) put(key string, v cached, now time.Time) {
	c.evict(now)
	if _, ok := c.items[key]; !ok {
		c.order = append(c.order, key)
	}
	c.items[key] = cachedEntry{cached: v, expires: now.Add(c.ttl)}
}

// evict drops expired entries from the front of the insertion order, and the oldest ones
// when the cache is full.
func (c *requestCache) evict(now time.Time) {
	n := 0
	for n < len(c.order) {
		k := c.order[n]
		e, ok := c.items[k]
		if ok && now.Before(e.expires) && len(c.items) < c.max {
			break
		}
		delete(c.items, k)
		n++
	}
	if n > 0 {
		c.order = append(c.order[:0], c.order[n:]...)
	}
}
