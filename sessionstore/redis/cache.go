package redis

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"

	"github.com/passgate/caddy-passgate/internal/boundedcache"
)

// InvalidationChannel is the Redis pub/sub channel on which every removal
// of a session is announced, with the session's key as the message. The
// scripts that delete sessions publish in the same atomic step, so no
// revocation goes unannounced.
const InvalidationChannel = "passgate:revoked"

// Session cache bounds. An entry lives at most SessionCacheTTL even if its
// revocation notice is lost, so a revoked session is refused on every
// instance within that time whatever happens to pub/sub; in practice the
// notice arrives within milliseconds. At 1 s a busy session costs Redis
// one read per second per instance instead of one per request.
const (
	SessionCacheTTL     = time.Second
	SessionCacheEntries = 10000
)

// SessionCache keeps recently read sessions of a Redis store in process,
// for at most its TTL, and forgets them as soon as a revocation is
// announced on InvalidationChannel. It is used only while subscribed:
// until the subscription is confirmed, and from the moment it is lost
// until it is confirmed again, every lookup goes to Redis, so a Redis
// outage fails closed as soon as the subscription notices it (at once for
// a closed connection, within the TTL for a server that hangs).
//
// The subscription starts with the first lookup, not before: building a
// store must not touch the network. Close stops it.
type SessionCache struct {
	client goredis.UniversalClient
	cache  *boundedcache.Cache[string, sessionstore.Session]
	live   atomic.Bool
	// gen changes with every invalidation, so that a read that raced with
	// a revocation does not put the revoked session back.
	gen atomic.Uint64

	start  sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	ps     *goredis.PubSub
}

// NewSessionCache returns a cache of at most entries sessions, each kept at
// most ttl, fed by client's invalidation channel.
func NewSessionCache(client goredis.UniversalClient, entries int, ttl time.Duration) *SessionCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &SessionCache{
		client: client,
		cache:  boundedcache.New[string, sessionstore.Session](entries, ttl, nil),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
}

// Live reports whether the cache is in use: subscribed, and not closed.
func (c *SessionCache) Live() bool { return c.live.Load() }

// Len is the number of sessions held.
func (c *SessionCache) Len() int { return c.cache.Len() }

func (c *SessionCache) get(key string) (sessionstore.Session, bool) {
	if !c.live.Load() {
		c.start.Do(func() { go c.run() })
		return sessionstore.Session{}, false
	}
	s, ok := c.cache.Get(key)
	s.Roles = slices.Clone(s.Roles) // the caller's copy, not the cache's
	return s, ok
}

func (c *SessionCache) generation() uint64 { return c.gen.Load() }

// put caches s unless an invalidation happened since gen was read.
func (c *SessionCache) put(key string, s sessionstore.Session, gen uint64) {
	if !c.live.Load() {
		return
	}
	c.cache.Put(key, s)
	if c.gen.Load() != gen {
		c.cache.Delete(key)
	}
}

func (c *SessionCache) forget(key string) {
	c.gen.Add(1)
	c.cache.Delete(key)
}

func (c *SessionCache) forgetUser(keyPrefix, userID string) {
	c.gen.Add(1)
	c.cache.DeleteFunc(func(k string, s sessionstore.Session) bool {
		return s.UserID == userID && strings.HasPrefix(k, keyPrefix)
	})
}

func (c *SessionCache) flush() {
	c.gen.Add(1)
	c.cache.Clear()
}

// run keeps the subscription up, resubscribing after a loss with a
// bounded backoff, until Close.
func (c *SessionCache) run() {
	defer close(c.done)
	backoff := 50 * time.Millisecond
	for c.ctx.Err() == nil {
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			return
		}
		ps := c.client.Subscribe(c.ctx, InvalidationChannel)
		c.ps = ps
		c.mu.Unlock()
		for {
			msg, err := ps.Receive(c.ctx)
			if err != nil {
				break
			}
			switch m := msg.(type) {
			case *goredis.Subscription:
				if m.Kind == "subscribe" && m.Channel == InvalidationChannel {
					// Anything cached before now may have missed a notice.
					c.flush()
					c.live.Store(true)
					backoff = 50 * time.Millisecond
				}
			case *goredis.Message:
				c.forget(m.Payload)
			}
		}
		c.live.Store(false)
		c.flush()
		_ = ps.Close()
		select {
		case <-c.ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Close stops the subscription and empties the cache; lookups then always
// go to Redis.
func (c *SessionCache) Close() error {
	c.cancel()
	started := true
	c.start.Do(func() { started = false })
	c.mu.Lock()
	if c.ps != nil {
		_ = c.ps.Close()
	}
	c.mu.Unlock()
	if started {
		<-c.done
	}
	c.live.Store(false)
	c.flush()
	return nil
}

// WithCache returns a copy of r that reads sessions through c. Several
// stores (prefixes) may share one cache: it is keyed by the full key.
func (r *Store) WithCache(c *SessionCache) *Store {
	cp := *r
	cp.cache = c
	return &cp
}
