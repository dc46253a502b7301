package redisenv

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const revoked = "passgate:revoked"

// TestSentinelFailover: a go-redis failover client (passgate's settings:
// no re-sends) and a subscriber of it follow a killed master to the
// promoted replica without a new client, and the old master, restarted,
// comes back as a replica. It reports how long the failover took, which
// errors the client saw for how long, and how many acknowledged writes the
// failover lost.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	e := Sentinel(t, 1, 3, WithUser("passgate", "data-pw"), WithSentinelPassword("sentinel-pw"))
	ctx := context.Background()
	c := failoverClient(e)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("write through the failover client: %v", err)
	}
	for _, bad := range []func(o *redis.FailoverOptions){
		func(o *redis.FailoverOptions) { o.SentinelPassword = "" },
		func(o *redis.FailoverOptions) { o.Password = "wrong" },
	} {
		o := e.FailoverOptions()
		o.MaxRetries = -1
		bad(o)
		bc := redis.NewFailoverClient(o)
		if err := bc.Ping(ctx).Err(); err == nil {
			t.Errorf("a client with a wrong password reached the group")
		}
		bc.Close()
	}

	sub := subscribe(c.Subscribe(ctx, revoked))
	defer sub.close()
	waitFor(t, "subscription", 5*time.Second, func() bool { return sub.subscriptions() >= 1 })
	if err := c.Publish(ctx, revoked, "before").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "message before the failover", 5*time.Second, func() bool { return sub.has("before") })

	var acked atomic.Int64
	w := startLoad(func(ctx context.Context) error {
		n, err := c.Incr(ctx, "counter").Result()
		if err == nil {
			acked.Store(n)
		}
		return err
	})
	defer w.stop()
	waitFor(t, "writes before the failover", 5*time.Second, func() bool { return acked.Load() > 10 })

	fault := time.Now()
	old := e.KillMaster()
	ackedAtKill := acked.Load()
	newMaster := e.WaitFailover(old)
	failover := time.Since(fault)
	waitFor(t, "writes after the failover", 15*time.Second, func() bool { return w.failedAfter(fault) && w.healthy(20) })
	w.stop()
	t.Logf("failover %s → %s: sentinels agreed after %v; the client's writes: %s",
		old, newMaster, failover.Round(time.Millisecond), w.report(fault))
	if w.errorCount() == 0 {
		t.Errorf("the client saw no error while its master was killed: was it writing to it?")
	}

	// Acknowledged writes the replica had not received are lost.
	after, err := c.Incr(ctx, "counter").Result()
	if err != nil {
		t.Fatalf("write after the failover: %v", err)
	}
	finalAcked := acked.Load()
	t.Logf("counter: %d acknowledged by the old master when it was killed, %d writes acknowledged in all, now %d: %d acknowledged writes lost",
		ackedAtKill, finalAcked, after, max(0, finalAcked+1-after))

	// The subscriber follows the new master by itself (go-redis reconnects
	// and resubscribes on the next Receive).
	subRecovery := waitFor(t, "message after the failover", 15*time.Second, func() bool {
		_ = c.Publish(ctx, revoked, "after").Err()
		return sub.has("after")
	})
	t.Logf("subscriber: errors %s; first message published after the failover received +%v after the sentinels agreed",
		sub.errors(fault), subRecovery.Round(time.Millisecond))

	// The old master comes back as a replica of the new one.
	began := time.Now()
	oldNode := e.nodeByAddr(old)
	oldNode.Restart()
	e.WaitReplicas()
	t.Logf("old master restarted and back as a replica in %v", time.Since(began).Round(time.Millisecond))
	info, err := oldNode.Client().Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	if infoField(info, "role") != "slave" || infoField(info, "master_port") != strings.Split(newMaster, ":")[1] {
		t.Errorf("restarted old master: role:%s master_port:%s, want a replica of %s",
			infoField(info, "role"), infoField(info, "master_port"), newMaster)
	}
	if err := c.Incr(ctx, "counter").Err(); err != nil {
		t.Errorf("write after the old master's return: %v", err)
	}
}

// TestSentinelManualFailoverTLS: over TLS, with the data servers' and the
// sentinels' own passwords, a failover that keeps the old master alive
// (SENTINEL FAILOVER: it is demoted to a replica) is followed by the same
// client; the report says whether it saw READONLY, and what a subscriber
// still connected to the demoted master receives.
func TestSentinelManualFailoverTLS(t *testing.T) {
	t.Parallel()
	e := Sentinel(t, 1, 3, WithTLS(), WithPassword("data-pw"), WithSentinelPassword("sentinel-pw"))
	ctx := context.Background()
	master := e.Master()

	plain := redis.NewClient(&redis.Options{Addr: master.Addr, Password: "data-pw", MaxRetries: -1})
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Errorf("a client without TLS reached the TLS port")
	}
	plain.Close()

	c := failoverClient(e)
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("write through the failover client over TLS: %v", err)
	}
	sub := subscribe(c.Subscribe(ctx, revoked))
	defer sub.close()
	waitFor(t, "subscription", 5*time.Second, func() bool { return sub.subscriptions() >= 1 })

	var acked atomic.Int64
	w := startLoad(func(ctx context.Context) error {
		n, err := c.Incr(ctx, "counter").Result()
		if err == nil {
			acked.Store(n)
		}
		return err
	})
	defer w.stop()
	waitFor(t, "writes before the failover", 5*time.Second, func() bool { return w.healthy(10) })

	fault := time.Now()
	if err := e.Sentinels[0].Client().Do(ctx, "SENTINEL", "FAILOVER", e.MasterName).Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	newMaster := e.WaitFailover(master.Addr)
	failover := time.Since(fault)
	waitFor(t, "writes after the failover", 15*time.Second, func() bool {
		return w.recoveredAt().After(fault) && w.healthy(20) || w.errorCount() == 0 && time.Since(fault) > failover+time.Second
	})
	w.stop()
	t.Logf("manual failover %s → %s: sentinels agreed after %v; the client's writes: %s",
		master.Addr, newMaster, failover.Round(time.Millisecond), w.report(fault))

	oldInfo, err := master.Client().Info(ctx, "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	splitErr := master.Client().Set(ctx, "split", "written to the old master", 0).Err()
	t.Logf("the old master right after the sentinels agreed: role:%s; a write sent to it directly: %v", infoField(oldInfo, "role"), splitErr)

	// Writes the old master acknowledged after the promotion, before the
	// sentinels made it a replica, are lost.
	after, err := c.Incr(ctx, "counter").Result()
	if err != nil {
		t.Fatalf("write after the failover: %v", err)
	}
	t.Logf("counter: %d writes acknowledged, now %d: %d acknowledged writes lost", acked.Load(), after, max(0, acked.Load()+1-after))

	for i := 0; ; i++ {
		payload := fmt.Sprintf("after-%d", i)
		if err := c.Publish(ctx, revoked, payload).Err(); err != nil {
			t.Fatalf("publish after the failover: %v", err)
		}
		if waitForQuiet(sub, payload, 200*time.Millisecond) {
			t.Logf("subscriber: errors %s; the first message published on the new master that it received arrived +%v after the failover began",
				sub.errors(fault), sub.receivedAt(payload).Sub(fault).Round(time.Millisecond))
			break
		}
		if time.Since(fault) > 20*time.Second {
			t.Fatalf("the subscriber received nothing published after the failover; its errors: %s", sub.errors(fault))
		}
	}
	e.WaitReplicas()
	n, err := c.Exists(ctx, "split").Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("once the old master is a replica, the write it acknowledged after the failover is on the new master: %v", n == 1)
}

func waitForQuiet(s *subscriber, payload string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.has(payload) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// TestWaitAndMinReplicas: what WAIT and min-replicas-to-write can and
// cannot do about asynchronous replication. WAIT, on the connection that
// wrote, says how many replicas have the write; when the replica is stuck
// it says 0 after its timeout, but the write stays applied on the master.
// min-replicas-to-write makes the master refuse writes (NOREPLICAS) once no
// replica has acknowledged within min-replicas-max-lag seconds: a bound in
// seconds, not a guarantee for one write.
func TestWaitAndMinReplicas(t *testing.T) {
	t.Parallel()
	e := Sentinel(t, 1, 1)
	ctx := context.Background()
	master := e.Master()
	c := redis.NewClient(&redis.Options{Addr: master.Addr, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	incrWait := func(timeout time.Duration) (int64, int64, error) {
		var incr *redis.IntCmd
		var wait *redis.Cmd
		// One pipeline, so one connection: WAIT waits for this
		// connection's writes.
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			incr = p.Incr(ctx, "n")
			wait = p.Do(ctx, "WAIT", 1, timeout.Milliseconds())
			return nil
		})
		acks, _ := wait.Int64()
		return incr.Val(), acks, err
	}
	n, acks, err := incrWait(time.Second)
	if err != nil || acks != 1 {
		t.Fatalf("INCR + WAIT 1 with the replica up: n %d, acks %d, %v", n, acks, err)
	}

	replica := e.Servers[1]
	replica.Freeze()
	began := time.Now()
	n, acks, err = incrWait(200 * time.Millisecond)
	took := time.Since(began)
	if err != nil || acks != 0 {
		t.Fatalf("INCR + WAIT 1 200 with the replica frozen: n %d, acks %d, %v", n, acks, err)
	}
	if got, _ := c.Get(ctx, "n").Int64(); got != n {
		t.Errorf("after WAIT timed out: n is %d on the master, want %d (WAIT does not undo)", got, n)
	}
	t.Logf("replica frozen: INCR + WAIT 1 200ms answered %d replicas after %v; the write stays on the master", acks, took.Round(time.Millisecond))

	if err := c.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "min-replicas-max-lag", "1").Err(); err != nil {
		t.Fatal(err)
	}
	var refused error
	waited := waitFor(t, "NOREPLICAS", 15*time.Second, func() bool {
		refused = c.Incr(ctx, "n").Err()
		return refused != nil
	})
	t.Logf("min-replicas-to-write 1, max-lag 1 s: writes refused %v after the replica froze (%v): %v",
		(time.Since(began)).Round(time.Millisecond), waited.Round(time.Millisecond), refused)
	if !strings.HasPrefix(refused.Error(), "NOREPLICAS") {
		t.Errorf("refusal: %v, want NOREPLICAS", refused)
	}
	script := redis.NewScript("return redis.call('INCR', KEYS[1])")
	t.Logf("a script that writes, meanwhile: %v; with #!lua: %v", script.Run(ctx, c, []string{"n"}).Err(),
		redis.NewScript("#!lua\nreturn redis.call('INCR', KEYS[1])").Run(ctx, c, []string{"n"}).Err())

	replica.Thaw()
	waitFor(t, "writes after the replica's return", 15*time.Second, func() bool { return c.Incr(ctx, "n").Err() == nil })
}
