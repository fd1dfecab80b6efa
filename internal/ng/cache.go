package ng

import (
	"net/netip"
	"sync"
	"time"
)

// replyCache remembers the reply to each request by its sender and cookie, so that a
// retransmission (the client's reply was lost, or it gave up waiting) gets the same reply
// and never makes hush act twice: a retransmitted offer must not create a second session.
// A request still being handled is marked pending; its retransmissions are dropped, and
// the client gets the reply when it is sent. The cache is bounded in time and bytes.
type replyCache struct {
	ttl      time.Duration
	maxBytes int

	mu    sync.Mutex
	items map[cacheKey]*cacheEntry
	order []cacheKey // insertion order, for expiry and eviction
	head  int        // order[head:] are live keys (or keys deleted since)
	bytes int
}

type cacheKey struct {
	from   netip.AddrPort
	cookie string
}

type cacheEntry struct {
	reply   []byte // nil while pending
	expires time.Time
}

func newReplyCache(ttl time.Duration, maxBytes int) *replyCache {
	return &replyCache{ttl: ttl, maxBytes: maxBytes, items: map[cacheKey]*cacheEntry{}}
}

// begin looks a request up. It returns the cached reply of a repeated request (nil while
// that request is still pending, with seen true), or marks a new request pending.
func (c *replyCache) begin(k cacheKey, now time.Time) (reply []byte, seen bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	if e, ok := c.items[k]; ok {
		return e.reply, true
	}
	c.items[k] = &cacheEntry{expires: now.Add(c.ttl)}
	c.order = append(c.order, k)
	c.bytes += len(k.cookie) + 64
	return nil, false
}

// finish stores a request's reply.
func (c *replyCache) finish(k cacheKey, reply []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok && e.reply == nil {
		e.reply = reply
		e.expires = now.Add(c.ttl)
		c.bytes += len(reply)
	}
	c.expire(now)
}

// expire drops entries from the front of the insertion order that have expired, and the
// oldest ones while the cache holds more than maxBytes.
func (c *replyCache) expire(now time.Time) {
	for c.head < len(c.order) {
		k := c.order[c.head]
		e, ok := c.items[k]
		if ok && now.Before(e.expires) && c.bytes <= c.maxBytes {
			break
		}
		if ok {
			c.bytes -= len(e.reply) + len(k.cookie) + 64
			delete(c.items, k)
		}
		c.head++
	}
	if c.head > 1024 && c.head*2 > len(c.order) { // compact now and then
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

func (c *replyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}
