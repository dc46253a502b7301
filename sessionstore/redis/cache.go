package redis

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/internal/boundedcache"
	"github.com/passgate/caddy-passgate/sessionstore"
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

	start    sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	watchers sync.WaitGroup
	kick     chan struct{} // resubscribe now: the master moved
	mu       sync.Mutex
	ps       *goredis.PubSub // the subscription to InvalidationChannel
	wps      *goredis.PubSub // the sentinel watch's subscription
	// master is, with Sentinel, the master the watched sentinel names
	// (empty until it has answered): the subscription is made there.
	master string
}

// NewSessionCache returns a cache of at most entries sessions, each kept at
// most ttl, fed by client's invalidation channel. Revocations are
// published with classic PUBLISH, which a Cluster delivers on every node,
// so one subscription on any node hears them all. With a Client made for
// Sentinel, the cache listens to a sentinel itself and subscribes on the
// master that sentinel names, again as soon as it announces a switch. It
// does not subscribe through the failover client: go-redis does not move
// a subscription on a switch, and a new one it makes asks the sentinel it
// happens to use, which may learn of the switch seconds after the one
// that announced it, so it would land on the old master, alive and
// hearing nothing, until the sentinels reconfigure that one.
func NewSessionCache(client goredis.UniversalClient, entries int, ttl time.Duration) *SessionCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &SessionCache{
		client: client,
		cache:  boundedcache.New[string, sessionstore.Session](entries, ttl, nil),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		kick:   make(chan struct{}, 1),
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
	if cl, ok := c.client.(*Client); ok && cl.Mode() == Sentinel {
		c.watchers.Go(func() { c.watchSentinels(cl.cfg) })
	}
	defer c.watchers.Wait()
	const first, most = 50 * time.Millisecond, time.Second
	backoff := first
	for c.ctx.Err() == nil {
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			return
		}
		ps, done := c.subscribe()
		if ps == nil { // no master named yet: the watch kicks when it is
			c.mu.Unlock()
			select {
			case <-c.ctx.Done():
			case <-c.kick:
			}
			continue
		}
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
					backoff = first
				}
			case *goredis.Message:
				c.forget(m.Payload)
			}
		}
		c.live.Store(false)
		c.flush()
		_ = ps.Close()
		done()
		if cc := clusterOf(c.client); cc != nil {
			// The node may be gone for good: ask where the slots are now.
			cc.ReloadState(c.ctx)
		}
		select {
		case <-c.ctx.Done():
		case <-c.kick:
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, most)
	}
}

func clusterOf(c goredis.UniversalClient) *goredis.ClusterClient {
	if cl, ok := c.(*Client); ok {
		c = cl.UniversalClient
	}
	cc, _ := c.(*goredis.ClusterClient)
	return cc
}

// subscribe makes the subscription to InvalidationChannel (c.mu held):
// through the client, or with Sentinel on the master the watched sentinel
// names, with a client of that server alone, which done closes. It
// returns nil with Sentinel until a master is named.
func (c *SessionCache) subscribe() (ps *goredis.PubSub, done func()) {
	cl, ok := c.client.(*Client)
	if !ok || cl.Mode() != Sentinel {
		return c.client.Subscribe(c.ctx, InvalidationChannel), func() {}
	}
	if c.master == "" {
		return nil, nil
	}
	cfg := cl.cfg
	one := goredis.NewClient(&goredis.Options{
		Addr: c.master, Username: cfg.Username, Password: cfg.Password, TLSConfig: cfg.TLS,
		DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout, PoolTimeout: cfg.Timeout,
		MaxRetries: -1, DisableIdentity: true, ClientName: cfg.Name,
	})
	return one.Subscribe(c.ctx, InvalidationChannel), func() { _ = one.Close() }
}

// setMaster records the master a sentinel names. If it is another one,
// the subscription ends, so that run subscribes again at once, there.
func (c *SessionCache) setMaster(addr string) {
	c.mu.Lock()
	if addr == c.master {
		c.mu.Unlock()
		return
	}
	c.master = addr
	if c.ps != nil {
		_ = c.ps.Close()
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// watchSentinels asks one sentinel after another (the next when one
// fails) for the master and listens there for +switch-master, until
// Close. A switch missed while no sentinel was listened to shows as
// another master when the next one is asked.
func (c *SessionCache) watchSentinels(cfg Config) {
	const first, most = 50 * time.Millisecond, time.Second
	backoff := first
	for i := 0; c.ctx.Err() == nil; i++ {
		sc := goredis.NewSentinelClient(&goredis.Options{
			Addr: cfg.Addrs[i%len(cfg.Addrs)], Password: cfg.SentinelPassword, TLSConfig: cfg.TLS,
			DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout,
			MaxRetries: -1, DisableIdentity: true, ClientName: cfg.Name,
		})
		c.mu.Lock()
		if c.ctx.Err() != nil {
			c.mu.Unlock()
			_ = sc.Close()
			return
		}
		ps := sc.Subscribe(c.ctx, "+switch-master")
		c.wps = ps
		c.mu.Unlock()
		if _, err := ps.Receive(c.ctx); err == nil { // the subscription's confirmation
			if m, err := sc.GetMasterAddrByName(c.ctx, cfg.MasterName).Result(); err == nil && len(m) == 2 {
				c.setMaster(net.JoinHostPort(m[0], m[1]))
				backoff = first
			}
			for {
				msg, err := ps.Receive(c.ctx)
				if err != nil {
					break
				}
				// "<master name> <old ip> <old port> <new ip> <new port>"
				if m, ok := msg.(*goredis.Message); ok {
					if f := strings.Fields(m.Payload); len(f) == 5 && f[0] == cfg.MasterName {
						c.setMaster(net.JoinHostPort(f[3], f[4]))
					}
				}
			}
		}
		_ = ps.Close()
		_ = sc.Close()
		select {
		case <-c.ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, most)
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
	if c.wps != nil {
		_ = c.wps.Close()
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
