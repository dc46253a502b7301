package redisenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClusterFailover: go-redis cluster clients (passgate's settings) and
// subscribers of one (classic and sharded pub/sub) follow a killed master's
// slots to its promoted replica without a new client, provided the client
// reloads the cluster's layout: by itself go-redis does so only every
// ClusterStateReloadInterval (60 s by default) or on a MOVED or READONLY
// reply, and a dead master gives neither. Three clients write at once:
// with go-redis's default interval, with a 1 s interval, and with the
// default interval plus a hook that asks for a reload on a network error.
// The old master, restarted, comes back as a replica. It reports how long
// the failover took, which errors each client saw for how long, and what
// the subscribers saw.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	e := Cluster(t, 3, 1)
	ctx := context.Background()
	c := clusterClient(e)
	defer c.Close()
	o := clusterOptions(e)
	o.ClusterStateReloadInterval = time.Second
	cInterval := redis.NewClusterClient(o)
	defer cInterval.Close()
	cHook := clusterClient(e)
	defer cHook.Close()
	cHook.AddHook(reloadOnNetError{cHook})

	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatalf("write through the cluster client: %v", err)
		}
	}

	// Classic pub/sub is cluster-wide: a PUBLISH on any node reaches a
	// subscriber on any other.
	victim := e.MasterOf(revoked)
	sub := subscribe(cInterval.Subscribe(ctx, revoked))
	defer sub.close()
	waitFor(t, "subscription", 5*time.Second, func() bool { return sub.subscriptions() >= 1 })
	var other *Node
	for _, m := range e.Masters() {
		if m != victim {
			other = m
		}
	}
	if err := other.Client().Publish(ctx, revoked, "cross-node").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a message published on another node", 5*time.Second, func() bool { return sub.has("cross-node") })

	// Sharded pub/sub (Redis 7): the channel lives in its slot's shard.
	const shardChan = "{passgate:revoked}sharded"
	ssub := subscribe(cInterval.SSubscribe(ctx, shardChan))
	defer ssub.close()
	waitFor(t, "sharded subscription", 5*time.Second, func() bool { return ssub.subscriptions() >= 1 })
	if err := cInterval.SPublish(ctx, shardChan, "sharded-before").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a sharded message", 5*time.Second, func() bool { return ssub.has("sharded-before") })
	if e.MasterOf(shardChan) != victim {
		t.Fatalf("the sharded channel's master is not the subscriber's")
	}

	// The written keys are in the channel's slot, so the kill hits all.
	const key = "{passgate:revoked}counter"
	var acked atomic.Int64
	incr := func(c *redis.ClusterClient, key string) func(ctx context.Context) error {
		return func(ctx context.Context) error { return c.Incr(ctx, key).Err() }
	}
	w := startLoad(incr(c, key+"-default"))
	defer w.stop()
	wInterval := startLoad(func(ctx context.Context) error {
		n, err := cInterval.Incr(ctx, key).Result()
		if err == nil {
			acked.Store(n)
		}
		return err
	})
	defer wInterval.stop()
	wHook := startLoad(incr(cHook, key+"-hook"))
	defer wHook.stop()
	waitFor(t, "writes before the failover", 5*time.Second, func() bool {
		return w.healthy(10) && wInterval.healthy(10) && wHook.healthy(10)
	})

	fault := time.Now()
	old := e.KillMasterOf(key)
	ackedAtKill := acked.Load()
	newMaster := e.WaitFailover(old)
	failover := time.Since(fault)
	waitFor(t, "writes after the failover", 30*time.Second, func() bool {
		return wInterval.failedAfter(fault) && wInterval.healthy(20) && wHook.failedAfter(fault) && wHook.healthy(20)
	})
	wInterval.stop()
	wHook.stop()
	t.Logf("cluster failover %s → %s: every node agreed after %v", old, newMaster, failover.Round(time.Millisecond))
	t.Logf("client with ClusterStateReloadInterval 1s: %s", wInterval.report(fault))
	t.Logf("client reloading on network errors: %s", wHook.report(fault))
	after, err := cInterval.Incr(ctx, key).Result()
	if err != nil {
		t.Fatalf("write after the failover: %v", err)
	}
	t.Logf("counter: %d acknowledged by the old master when it was killed, %d in all, now %d: %d acknowledged writes lost",
		ackedAtKill, acked.Load(), after, max(0, acked.Load()+1-after))

	for i := 0; ; i++ {
		p := fmt.Sprintf("after-%d", i)
		_ = cInterval.Publish(ctx, revoked, p).Err()
		_ = cInterval.SPublish(ctx, shardChan, p).Err()
		if waitForQuiet(sub, p, 100*time.Millisecond) && waitForQuiet(ssub, p, 100*time.Millisecond) {
			break
		}
		if time.Since(fault) > 30*time.Second {
			t.Fatalf("after the failover: classic subscriber received %v, sharded %v; errors %s; sharded errors %s",
				sub.has(p), ssub.has(p), sub.errors(fault), ssub.errors(fault))
		}
	}
	t.Logf("classic subscriber: errors %s; messages again from +%v", sub.errors(fault), firstAfter(sub, fault).Round(time.Millisecond))
	t.Logf("sharded subscriber: errors %s; messages again from +%v", ssub.errors(fault), firstAfter(ssub, fault).Round(time.Millisecond))
	w.stop()
	t.Logf("client with go-redis's defaults, at +%v: %s", time.Since(fault).Round(time.Millisecond), w.report(fault))

	began := time.Now()
	e.nodeByAddr(old).Restart()
	e.WaitHealthy()
	t.Logf("old master restarted and back as a replica in %v", time.Since(began).Round(time.Millisecond))
	if e.MasterOf(key).Addr != newMaster {
		t.Errorf("after the old master's return, %s serves the key, want %s", e.MasterOf(key).Addr, newMaster)
	}
	if err := cInterval.Incr(ctx, key).Err(); err != nil {
		t.Errorf("write after the old master's return: %v", err)
	}
}

// reloadOnNetError asks the cluster client to reload the cluster's layout
// when a command failed on the network (a node that is down), which
// go-redis does not do by itself.
type reloadOnNetError struct{ c *redis.ClusterClient }

func (reloadOnNetError) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h reloadOnNetError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}
func (h reloadOnNetError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetError) check(ctx context.Context, err error) {
	var redisErr redis.Error
	if err != nil && !errors.As(err, &redisErr) && !errors.Is(err, context.Canceled) {
		h.c.ReloadState(ctx) // asynchronous, and at most one at a time
	}
}

// firstAfter is when the subscriber received its first message after t.
func firstAfter(s *subscriber, t time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.gotAt {
		if at.After(t) {
			return at.Sub(t)
		}
	}
	return -1
}

// TestClusterManualFailoverTLS: over TLS (the cluster bus and replication
// too) with an ACL user, a failover that keeps the old master alive
// (CLUSTER FAILOVER on its replica) is followed by the same client, which
// is redirected with MOVED.
func TestClusterManualFailoverTLS(t *testing.T) {
	t.Parallel()
	e := Cluster(t, 3, 1, WithTLS(), WithUser("passgate", "data-pw"))
	ctx := context.Background()
	c := clusterClient(e)
	defer c.Close()

	o := e.ClusterOptions()
	o.Password, o.MaxRedirects = "wrong", -1
	bad := redis.NewClusterClient(o)
	if err := bad.Set(ctx, "k", "v", 0).Err(); err == nil {
		t.Errorf("a client with a wrong password wrote to the cluster")
	}
	bad.Close()

	const key = "{u:123}counter"
	var moved atomic.Int64
	c.OnNewNode(func(n *redis.Client) {
		n.AddHook(redirectCounter{&moved})
	})
	w := startLoad(func(ctx context.Context) error { return c.Incr(ctx, key).Err() })
	defer w.stop()
	waitFor(t, "writes before the failover", 5*time.Second, func() bool { return w.healthy(10) })

	master := e.MasterOf(key)
	var replica *Node
	for _, n := range e.Nodes {
		if !n.answering() || n == master {
			continue
		}
		nodes, err := n.Client().ClusterNodes(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		_, me, err := parseClusterNodes(nodes, false)
		if err != nil {
			t.Fatal(err)
		}
		if me.replicaOf == master.ID {
			replica = n
		}
	}
	if replica == nil {
		t.Fatalf("no replica of %s", master.Addr)
	}
	fault := time.Now()
	if err := replica.Client().Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER: %v", err)
	}
	newMaster := e.WaitFailover(master.Addr)
	failover := time.Since(fault)
	waitFor(t, "writes after the failover", 30*time.Second, func() bool {
		return w.recoveredAt().After(fault) && w.healthy(20) || w.errorCount() == 0 && time.Since(fault) > failover+time.Second
	})
	w.stop()
	t.Logf("manual cluster failover %s → %s: every node agreed after %v; the client's writes: %s; MOVED/ASK replies followed inside the client: %d",
		master.Addr, newMaster, failover.Round(time.Millisecond), w.report(fault), moved.Load())
	if newMaster != replica.Addr {
		t.Errorf("new master %s, want the replica %s", newMaster, replica.Addr)
	}
	e.WaitHealthy()

	// A master that hangs (SIGSTOP) rather than dies: the client sees
	// timeouts until the cluster has failed it over and the client has
	// reloaded the layout; thawed, it rejoins as a replica.
	c.AddHook(reloadOnNetError{c})
	w = startLoad(func(ctx context.Context) error { return c.Incr(ctx, key).Err() })
	defer w.stop()
	waitFor(t, "writes before the freeze", 5*time.Second, func() bool { return w.healthy(10) })
	frozen := e.MasterOf(key)
	fault = time.Now()
	frozen.Freeze()
	newMaster = e.WaitFailover(frozen.Addr)
	failover = time.Since(fault)
	waitFor(t, "writes after the failover", 30*time.Second, func() bool { return w.failedAfter(fault) && w.healthy(20) })
	w.stop()
	t.Logf("frozen master %s → %s: every other node agreed after %v; the client's writes: %s",
		frozen.Addr, newMaster, failover.Round(time.Millisecond), w.report(fault))
	frozen.Thaw()
	e.WaitHealthy()
	if m := e.MasterOf(key); m.Addr != newMaster {
		t.Errorf("after the thaw %s serves the key, want %s", m.Addr, newMaster)
	}
}

// redirectCounter counts the MOVED and ASK replies a node client passes up
// to the cluster client, which follows them.
type redirectCounter struct{ n *atomic.Int64 }

func (redirectCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h redirectCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && (strings.HasPrefix(err.Error(), "MOVED ") || strings.HasPrefix(err.Error(), "ASK ")) {
			h.n.Add(1)
		}
		return err
	}
}
func (redirectCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestClusterScripts: what the store change must satisfy for every
// script (slots), and how many times a script runs when its reply is late
// (resend).
//
// slots: the keys a script declares must share a slot (CROSSSLOT
// otherwise), which a common hash tag guarantees; keys a script builds
// itself are refused if they are in another slot; a transaction across
// slots is refused by go-redis before it reaches Redis.
func TestClusterScripts(t *testing.T) {
	t.Parallel()
	e := Cluster(t, 3, 0)
	t.Run("slots", func(t *testing.T) { testScriptSlots(t, e) })
	t.Run("resend", func(t *testing.T) { testResend(t, e) })
}

func testScriptSlots(t *testing.T, e *ClusterEnv) {
	ctx := context.Background()
	c := clusterClient(e)
	defer c.Close()
	two := redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return redis.call('GET', KEYS[1])
`)

	apart := []string{"passgate:u:123", "passgate:s:456"}
	if Slot(apart[0]) == Slot(apart[1]) {
		t.Fatalf("the test's keys share slot %d", Slot(apart[0]))
	}
	err := two.Run(ctx, c, apart, "x").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Errorf("script over keys in slots %d and %d: err %v, want CROSSSLOT", Slot(apart[0]), Slot(apart[1]), err)
	}
	t.Logf("two keys in different slots: %v", err)

	tagged := []string{"passgate:{u:123}", "passgate:{u:123}:s:456"}
	if Slot(tagged[0]) != Slot(tagged[1]) {
		t.Fatalf("hash tag: slots %d and %d", Slot(tagged[0]), Slot(tagged[1]))
	}
	if v, err := two.Run(ctx, c, tagged, "x").Text(); err != nil || v != "x" {
		t.Errorf("script over keys with one hash tag: %q, %v", v, err)
	}
	for _, k := range tagged {
		if v, err := c.Get(ctx, k).Result(); err != nil || v != "x" {
			t.Errorf("GET %s after the script: %q, %v", k, v, err)
		}
	}

	// Slot computed here agrees with the server's.
	for _, k := range append(apart, tagged...) {
		n, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil || int(n) != Slot(k) {
			t.Errorf("CLUSTER KEYSLOT %s = %d, %v; Slot says %d", k, n, err, Slot(k))
		}
	}

	// A key built inside the script (today's scripts do this: ARGV[1] ..
	// id), not declared in KEYS: refused if its slot is on another node,
	// but, for a script without a shebang (Redis's compatibility mode),
	// allowed in another slot of the same node, so such a script passes
	// or fails with the cluster's layout. With "#!lua" (Redis >= 7.0)
	// the server refuses any undeclared key outside the declared slot.
	declared := "passgate:{u:123}"
	var sameNode, otherNode string
	for i := 0; sameNode == "" || otherNode == ""; i++ {
		k := fmt.Sprintf("passgate:{u:%d}:other", i)
		switch {
		case Slot(k) == Slot(declared):
		case e.owners[Slot(k)] == e.owners[Slot(declared)]:
			sameNode = k
		default:
			otherNode = k
		}
	}
	for _, shebang := range []string{"", "#!lua\n"} {
		built := redis.NewScript(shebang + `
redis.call('SET', KEYS[1], '1')
return redis.call('GET', ARGV[1])
`)
		inSlot := built.Run(ctx, c, []string{declared}, "passgate:{u:123}:other").Err()
		onNode := built.Run(ctx, c, []string{declared}, sameNode).Err()
		offNode := built.Run(ctx, c, []string{declared}, otherNode).Err()
		t.Logf("script %q reading an undeclared key: in the declared slot: %v; in another slot on the same node: %v; on another node: %v",
			shebang, inSlot, onNode, offNode)
		if !errors.Is(inSlot, redis.Nil) {
			t.Errorf("script %q: undeclared key in the declared slot: %v", shebang, inSlot)
		}
		if offNode == nil || errors.Is(offNode, redis.Nil) {
			t.Errorf("script %q: a script reading an undeclared key on another node succeeded", shebang)
		}
		if shebang != "" && (onNode == nil || errors.Is(onNode, redis.Nil)) {
			t.Errorf("script %q: a script reading an undeclared key in another slot of its node succeeded", shebang)
		}
	}

	// A script publishes on a classic channel (no slot) from whatever
	// slot it runs in, and the notice reaches a subscriber on any node;
	// a sharded channel, by contrast, counts as a key of its own slot.
	sub := subscribe(c.Subscribe(ctx, revoked))
	defer sub.close()
	waitFor(t, "subscription", 5*time.Second, func() bool { return sub.subscriptions() >= 1 })
	pub := redis.NewScript("redis.call('SET', KEYS[1], '1') return redis.call('PUBLISH', ARGV[1], KEYS[1])")
	for _, k := range []string{sameNode, otherNode, declared} {
		if err := pub.Run(ctx, c, []string{k}, revoked).Err(); err != nil {
			t.Errorf("script in slot %d publishing: %v", Slot(k), err)
		}
		waitFor(t, "notice published by a script in slot "+fmt.Sprint(Slot(k)), 5*time.Second, func() bool { return sub.has(k) })
	}
	// A sharded channel is slot-bound: a script may SPUBLISH only where
	// it could touch a key of the channel's name.
	for _, shebang := range []string{"", "#!lua\n"} {
		spub := redis.NewScript(shebang + "return redis.call('SPUBLISH', ARGV[1], KEYS[1])")
		same := spub.Run(ctx, c, []string{declared}, "{u:123}revoked").Err()
		onNode := spub.Run(ctx, c, []string{declared}, sameNode).Err()
		offNode := spub.Run(ctx, c, []string{declared}, otherNode).Err()
		t.Logf("script %q SPUBLISH on a channel: in its slot: %v; another slot of its node: %v; on another node: %v", shebang, same, onNode, offNode)
		if same != nil || offNode == nil {
			t.Errorf("script %q SPUBLISH: in its slot %v, on another node %v", shebang, same, offNode)
		}
	}

	// MULTI/EXEC across slots never reaches Redis.
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, apart[0], "y", 0)
		p.Set(ctx, apart[1], "y", 0)
		return nil
	})
	if !errors.Is(err, redis.ErrCrossSlot) {
		t.Errorf("transaction across slots: err %v, want redis.ErrCrossSlot", err)
	}
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, tagged[0], "y", 0)
		p.Set(ctx, tagged[1], "y", 0)
		p.Publish(ctx, revoked, tagged[1]) // no key: it does not count
		return nil
	})
	if err != nil {
		t.Errorf("transaction in one slot, with a PUBLISH: %v", err)
	}
}

// slowIncr counts its runs in KEYS[1] and then keeps Redis busy for
// ARGV[1] ms, longer than the client waits for a reply: the client sees a
// timeout for a script that ran.
var slowIncr = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local start = t[1] * 1000 + math.floor(t[2] / 1000)
repeat
  t = redis.call('TIME')
until t[1] * 1000 + math.floor(t[2] / 1000) - start >= tonumber(ARGV[1])
return n
`)

// testResend: with MaxRetries -1, a plain client sends a script whose
// reply timed out once; the cluster client sends it again (its own loop,
// bounded by MaxRedirects, retries timeouts and lost connections), so the
// script runs up to MaxRedirects+1 times; a node hook that turns a
// possibly-sent command's network error into an error go-redis does not
// retry keeps it to one run, and still lets MOVED through.
func testResend(t *testing.T, e *ClusterEnv) {
	ctx := context.Background()
	key := "{resend}runs"
	master := e.MasterOf(key)
	const name = "resend-test"
	runs := func(t *testing.T, c interface {
		redis.Scripter
		Close() error
	}) (int64, error) {
		t.Helper()
		admin := master.Client()
		if err := admin.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		if err := slowIncr.Load(ctx, admin).Err(); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := slowIncr.Run(rctx, c, []string{key}, 300).Err()
		cancel()
		c.Close()
		// Every send has reached Redis once no connection of the test
		// client is left (Redis runs what a connection sent before it
		// notices the connection closed).
		e.poll("the test client's connections closed", 10*time.Second, func(ctx context.Context) error {
			list, err := admin.ClientList(ctx).Result()
			if err != nil {
				return err
			}
			if strings.Contains(list, "name="+name+" ") {
				return fmt.Errorf("still connected")
			}
			return nil
		})
		n, gerr := admin.Get(ctx, key).Int64()
		if gerr != nil {
			t.Fatal(gerr)
		}
		return n, err
	}
	short := func(o *redis.ClusterOptions) {
		o.ReadTimeout = 100 * time.Millisecond
		o.ClientName = name
	}

	plain := redis.NewClient(&redis.Options{Addr: master.Addr, ReadTimeout: 100 * time.Millisecond, MaxRetries: -1, ClientName: name, DisableIdentity: true})
	n, err := runs(t, plain)
	t.Logf("plain client, MaxRetries -1: %d run(s), error %v", n, err)
	if n != 1 {
		t.Errorf("plain client with MaxRetries -1: the script ran %d times", n)
	}

	o := clusterOptions(e)
	short(o)
	n, err = runs(t, redis.NewClusterClient(o))
	t.Logf("cluster client, MaxRetries -1, MaxRedirects default (3): %d run(s), error %v", n, err)
	if n < 2 {
		t.Errorf("cluster client: the script ran %d times; go-redis no longer re-sends? Then the hook below is not needed", n)
	}

	o = clusterOptions(e)
	short(o)
	cc := redis.NewClusterClient(o)
	cc.OnNewNode(func(n *redis.Client) { n.AddHook(noResend{}) })
	n, err = runs(t, cc)
	t.Logf("cluster client with the noResend node hook: %d run(s), error %v", n, err)
	if n != 1 {
		t.Errorf("cluster client with the noResend hook: the script ran %d times", n)
	}

	// The hook leaves redirects alone: a client that believes every slot
	// is on one node is MOVED to the right one.
	o = clusterOptions(e)
	wrong := e.Nodes[0].Addr
	o.ClusterSlots = func(context.Context) ([]redis.ClusterSlot, error) {
		return []redis.ClusterSlot{{Start: 0, End: Slots - 1, Nodes: []redis.ClusterNode{{Addr: wrong}}}}, nil
	}
	cc = redis.NewClusterClient(o)
	defer cc.Close()
	cc.OnNewNode(func(n *redis.Client) { n.AddHook(noResend{}) })
	moved := "{moved}k"
	if e.MasterOf(moved).Addr == wrong {
		moved = "{moved2}k"
	}
	if e.MasterOf(moved).Addr == wrong {
		t.Fatal("pick another key")
	}
	if err := cc.Set(ctx, moved, "v", 0).Err(); err != nil {
		t.Errorf("write MOVED from %s to %s through the noResend hook: %v", wrong, e.MasterOf(moved).Addr, err)
	}
}

// noResend is a node client hook for a cluster client: a command that may
// have reached Redis (it failed after it was written: a timeout, a lost
// connection) comes back as errMaybeRan, which go-redis's cluster loop
// does not retry. Redis's own refusals (MOVED, ASK, READONLY, TRYAGAIN,
// CLUSTERDOWN, ...), which mean the command did not run, and failed dials,
// pass through and are retried or redirected as usual.
type noResend struct{}

func (noResend) DialHook(next redis.DialHook) redis.DialHook { return next }
func (noResend) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return maybeRan(next(ctx, cmd))
	}
}
func (noResend) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return maybeRan(next(ctx, cmds))
	}
}

func maybeRan(err error) error {
	var redisErr redis.Error
	var opErr *net.OpError
	switch {
	case err == nil, errors.As(err, &redisErr), errors.Is(err, redis.ErrPoolTimeout),
		errors.As(err, &opErr) && opErr.Op == "dial":
		return err
	}
	return &errMaybeRan{err}
}

// errMaybeRan has no Unwrap on purpose: go-redis's retry test looks through
// wrapping for io.EOF and net.Error timeouts.
type errMaybeRan struct{ err error }

func (e *errMaybeRan) Error() string {
	return "redis: no reply (the command may have run): " + e.err.Error()
}
