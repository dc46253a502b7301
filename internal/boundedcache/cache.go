// Package boundedcache is a small in-process cache whose memory is bounded
// twice: by a number of entries and by a time to live. passgate uses it on
// the request hot path (sessions, decoded cookies, verified access tokens),
// where an unbounded cache would let a client grow the process's memory
// just by presenting new values.
package boundedcache

import (
	"sync"
	"time"
)

// Cache maps keys to values for at most TTL each, holding at most Max
// entries. It is safe for concurrent use. When full, an insert first drops
// expired entries it meets, then arbitrary ones: the hot path never pays
// for bookkeeping a recency list would need, and under churn the cache
// degrades to misses, never to growth.
type Cache[K comparable, V any] struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	entries map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache of at most max entries, each kept at most ttl. now
// is the clock; nil means time.Now.
func New[K comparable, V any](max int, ttl time.Duration, now func() time.Time) *Cache[K, V] {
	if max < 1 {
		max = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[K, V]{max: max, ttl: ttl, now: now, entries: make(map[K]entry[V])}
}

// Get returns the value under k if it is there and has not expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under k for the cache's TTL.
func (c *Cache[K, V]) Put(k K, v V) { c.PutUntil(k, v, time.Time{}) }

// PutUntil stores v under k until the earlier of the cache's TTL and
// until (ignored if zero): a cached proof must not outlive what it proves.
func (c *Cache[K, V]) PutUntil(k K, v V, until time.Time) {
	now := c.now()
	exp := now.Add(c.ttl)
	if !until.IsZero() && until.Before(exp) {
		exp = until
	}
	if !now.Before(exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[k] = entry[V]{v: v, expires: exp}
}

// evictLocked makes room for one entry: expired ones first (looking at a
// few), else whichever the map yields first.
func (c *Cache[K, V]) evictLocked(now time.Time) {
	var victim K
	seen, found := 0, false
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
			return
		}
		if !found {
			victim, found = k, true
		}
		if seen++; seen >= 8 {
			break
		}
	}
	if found {
		delete(c.entries, victim)
	}
}

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// DeleteFunc forgets every entry for which drop returns true.
func (c *Cache[K, V]) DeleteFunc(drop func(K, V) bool) {
	c.mu.Lock()
	for k, e := range c.entries {
		if drop(k, e.v) {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
}

// Clear forgets everything.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// Len is the number of entries held, expired ones included.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
