package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// instance is one passgate's store: its own client and session cache, with
// caches that keep entries an hour, so that only a revocation notice can
// explain a refusal.
type instance struct {
	s *redisstore.Store
	c *redisstore.SessionCache
}

func newInstance(t *testing.T, cfg redisstore.Config, prefix string) instance {
	t.Helper()
	client := newClient(t, cfg)
	c := redisstore.NewSessionCache(client, 100, time.Hour)
	t.Cleanup(func() { c.Close() })
	return instance{redisstore.New(client, prefix, 0).WithCache(c), c}
}

// subscribers counts the passgate subscriptions to the revocation channel
// on one server.
func subscribers(t *testing.T, n *redisenv.Node) int64 {
	t.Helper()
	m, err := n.Client().PubSubNumSub(context.Background(), redisstore.InvalidationChannel).Result()
	if err != nil {
		return -1
	}
	return m[redisstore.InvalidationChannel]
}

// revokeSeen revokes s through one instance and waits, at most 1 s, for
// another's cache to refuse it.
func revokeSeen(t *testing.T, from, other instance, s sessionstore.Session) time.Duration {
	t.Helper()
	ctx := context.Background()
	began := time.Now()
	if err := from.s.DeleteSession(ctx, s.ID, s.UserID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the other instance refuses the revoked session", func() bool {
		_, err := other.s.Session(ctx, s.ID)
		return errors.Is(err, sessionstore.ErrNotFound)
	})
	return time.Since(began)
}

// After a Sentinel failover that leaves the old master alive (SENTINEL
// FAILOVER: the case go-redis leaves a subscription behind on), every
// instance's cache subscribes again on the new master as soon as the
// sentinels switch, and revocations reach every instance.
func TestSessionCacheFollowsSentinelSwitch(t *testing.T) {
	t.Parallel()
	e := redisenv.Sentinel(t, 1, 3)
	cfg := sentinelConfig(e)
	prefix := "passgate-test:"
	a, b := newInstance(t, cfg, prefix), newInstance(t, cfg, prefix)
	s1 := newSession(t, a.s, "u1")
	s2 := newSession(t, a.s, "u2")
	for _, in := range []instance{a, b} {
		warm(t, in.s, in.c, s1.ID)
		warm(t, in.s, in.c, s2.ID)
	}
	old := e.Master()
	waitFor(t, 5*time.Second, "both caches subscribed on the master", func() bool { return subscribers(t, old) == 2 })
	t.Logf("revocation seen by the other instance before the failover after %v", revokeSeen(t, a, b, s1))

	// Replication is asynchronous and the sentinels promote the replica as
	// it is: the old master's writes it has not received yet are lost
	// when that one is made its replica. The sessions must survive, so
	// the replica must have them first.
	e.WaitReplicas()
	began := time.Now()
	if err := e.Sentinels[0].Client().Do(context.Background(), "SENTINEL", "FAILOVER", e.MasterName).Err(); err != nil {
		t.Fatal(err)
	}
	now := e.WaitFailover(old.Addr)
	switched := time.Since(began)
	newMaster := e.Master()
	waitFor(t, 5*time.Second, "both caches subscribed on the new master "+now, func() bool { return subscribers(t, newMaster) == 2 })
	resubscribed := time.Since(began)
	waitFor(t, 5*time.Second, "both caches live again", func() bool { return a.c.Live() && b.c.Live() })
	// Warm again (a resubscription flushes) and revoke on the new master.
	warm(t, a.s, a.c, s2.ID)
	warm(t, b.s, b.c, s2.ID)
	seen := revokeSeen(t, a, b, s2)
	t.Logf("SENTINEL FAILOVER: sentinels agreed after %v, both caches subscribed on the new master after %v (old master still has %d), revocation seen by the other instance after %v",
		switched.Round(time.Millisecond), resubscribed.Round(time.Millisecond), subscribers(t, old), seen.Round(time.Millisecond))
}

// When the Cluster node a cache is subscribed on dies, the cache stops
// being used at once (lookups read Redis) and subscribes again, on another
// node, once the cluster has failed the node over; revocations then reach
// every instance again.
func TestSessionCacheSurvivesClusterNodeLoss(t *testing.T) {
	t.Parallel()
	e := redisenv.Cluster(t, 3, 1)
	cfg := clusterConfig(e)
	prefix := "passgate-test:"
	a, b := newInstance(t, cfg, prefix), newInstance(t, cfg, prefix)
	s1 := newSession(t, a.s, "u1")
	s2 := newSession(t, a.s, "u2")
	for _, in := range []instance{a, b} {
		warm(t, in.s, in.c, s1.ID)
	}
	// go-redis subscribes on the master of the channel's slot.
	node := e.MasterOf(redisstore.InvalidationChannel)
	waitFor(t, 5*time.Second, "both caches subscribed on "+node.Addr, func() bool { return subscribers(t, node) == 2 })

	began := time.Now()
	e.KillMasterOf(redisstore.InvalidationChannel)
	waitFor(t, 2*time.Second, "both caches out of use once their node died", func() bool { return !a.c.Live() && !b.c.Live() })
	bypassed := time.Since(began)
	// Out of use, they are bypassed: a revocation is seen at once, by
	// reading Redis (or the read fails: unavailable, never the session).
	ctx := context.Background()
	for {
		err := a.s.DeleteSession(ctx, s1.ID, s1.UserID)
		if err == nil {
			break
		}
		if !errors.Is(err, sessionstore.ErrUnavailable) {
			t.Fatal(err)
		}
		if time.Since(began) > 30*time.Second {
			t.Fatalf("logout still unavailable 30 s after the node died: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := b.s.Session(ctx, s1.ID); !errors.Is(err, sessionstore.ErrNotFound) && !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("a revoked session during the resubscription: %v, want not found or unavailable", err)
	}
	failedOver := e.WaitFailover(node.Addr)
	waitFor(t, 10*time.Second, "both caches live again", func() bool {
		// A lookup is what starts nothing here; the caches resubscribe by
		// themselves.
		return a.c.Live() && b.c.Live()
	})
	live := time.Since(began)
	warm(t, a.s, a.c, s2.ID)
	warm(t, b.s, b.c, s2.ID)
	seen := revokeSeen(t, a, b, s2)
	t.Logf("cluster master %s killed: caches out of use after %v, failed over to %s, caches live again after %v, revocation seen by the other instance after %v",
		node.Addr, bypassed.Round(time.Millisecond), failedOver, live.Round(time.Millisecond), seen.Round(time.Millisecond))
	if !strings.Contains(failedOver, ":") {
		t.Fatalf("no new master: %q", failedOver)
	}
}
