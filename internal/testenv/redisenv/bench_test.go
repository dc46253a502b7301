package redisenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The time each topology takes to come up and to fail over: run with
// go test -run '^$' -bench . -benchtime 3x ./internal/testenv/redisenv/

func BenchmarkStandaloneUp(b *testing.B) {
	for b.Loop() {
		Standalone(b).Close()
	}
}

func BenchmarkSentinelUp(b *testing.B) {
	for b.Loop() {
		Sentinel(b, 1, 3).Close()
	}
}

func BenchmarkClusterUp(b *testing.B) {
	for b.Loop() {
		Cluster(b, 3, 1).Close()
	}
}

// BenchmarkSentinelFailover: from the master's kill to every sentinel
// naming the replica, which says it is master.
func BenchmarkSentinelFailover(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := Sentinel(b, 1, 3)
		b.StartTimer()
		e.WaitFailover(e.KillMaster())
		b.StopTimer()
		e.Close()
	}
}

// BenchmarkClusterFailover: from a master's kill to every node agreeing
// that its replica serves its slots, with cluster_state:ok.
func BenchmarkClusterFailover(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := Cluster(b, 3, 1)
		b.StartTimer()
		e.WaitFailover(e.KillMaster())
		b.StopTimer()
		e.Close()
	}
}

// BenchmarkWait: what waiting for the replica costs a write (a script, as
// passgate's writes are), on loopback: the script alone, and the script
// and WAIT 1 in one round trip.
func BenchmarkWait(b *testing.B) {
	e := Sentinel(b, 1, 1)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: e.Servers[0].Addr, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	script := redis.NewScript("return redis.call('INCR', KEYS[1])")
	if err := script.Load(ctx, c).Err(); err != nil {
		b.Fatal(err)
	}
	b.Run("script", func(b *testing.B) {
		for b.Loop() {
			if err := script.EvalSha(ctx, c, []string{"n"}).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("script+WAIT", func(b *testing.B) {
		for b.Loop() {
			var wait *redis.Cmd
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				script.EvalSha(ctx, p, []string{"n"})
				wait = p.Do(ctx, "WAIT", 1, time.Second.Milliseconds())
				return nil
			})
			if n, _ := wait.Int64(); err != nil || n != 1 {
				b.Fatalf("WAIT: %d, %v", n, err)
			}
		}
	})
}
