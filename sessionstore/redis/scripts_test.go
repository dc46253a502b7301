package redis_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// Every script starts with a #!lua line (so Redis 7 refuses, in a cluster,
// any key outside its declared keys' slot, whatever the layout) and names
// only keys from KEYS: the first argument of every redis.call that takes a
// key is KEYS[n].
func TestScriptsDeclareTheirKeys(t *testing.T) {
	call := regexp.MustCompile(`redis\.p?call\(\s*'([A-Za-z]+)'\s*(?:,\s*([^,)]+))?`)
	keyless := map[string]bool{"PUBLISH": true, "TIME": true}
	if len(redisstore.Scripts()) < 10 {
		t.Fatalf("only %d scripts registered", len(redisstore.Scripts()))
	}
	for name := range redisstore.Scripts() {
		src := redisstore.ScriptSource(name)
		first, _, _ := strings.Cut(src, "\n")
		if first != "#!lua" && first != "#!lua flags=no-writes" {
			t.Errorf("script %s starts with %q, want a #!lua line", name, first)
		}
		calls := call.FindAllStringSubmatch(src, -1)
		if len(calls) == 0 {
			t.Errorf("script %s: no redis.call found", name)
		}
		for _, m := range calls {
			cmd, arg := strings.ToUpper(m[1]), strings.TrimSpace(m[2])
			if keyless[cmd] {
				continue
			}
			if !regexp.MustCompile(`^KEYS\[\d+\]$`).MatchString(arg) {
				t.Errorf("script %s: %s on %q, not on a key from KEYS", name, cmd, arg)
			}
		}
	}
}

// scriptRecorder notes, for every script of the store, the runs that
// succeeded and the errors Redis answered, through a hook on the client.
type scriptRecorder struct {
	mu     sync.Mutex
	bySHA  map[string]string // sha1 -> script name
	ok     map[string]int
	errors map[string][]string
}

func recordScripts(c *redisstore.Client) *scriptRecorder {
	r := &scriptRecorder{bySHA: map[string]string{}, ok: map[string]int{}, errors: map[string][]string{}}
	for name := range redisstore.Scripts() {
		sum := sha1.Sum([]byte(redisstore.ScriptSource(name)))
		r.bySHA[hex.EncodeToString(sum[:])] = name
	}
	c.AddHook(r)
	return r
}

func (r *scriptRecorder) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r *scriptRecorder) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		r.note(cmd)
		return err
	}
}
func (r *scriptRecorder) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			r.note(c)
		}
		return err
	}
}

func (r *scriptRecorder) note(cmd goredis.Cmder) {
	args := cmd.Args()
	if len(args) < 2 {
		return
	}
	var name string
	switch strings.ToUpper(fmt.Sprint(args[0])) {
	case "EVALSHA":
		name = r.bySHA[fmt.Sprint(args[1])]
	case "EVAL":
		sum := sha1.Sum([]byte(fmt.Sprint(args[1])))
		name = r.bySHA[hex.EncodeToString(sum[:])]
	default:
		return
	}
	if name == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	err := cmd.Err()
	switch {
	case err == nil || err == goredis.Nil:
		r.ok[name]++
	case strings.HasPrefix(err.Error(), "NOSCRIPT"):
	default:
		r.errors[name] = append(r.errors[name], err.Error())
	}
}

// check fails the test if a script never ran, or Redis refused one.
func (r *scriptRecorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for name := range redisstore.Scripts() {
		if r.ok[name] == 0 {
			t.Errorf("script %s never ran successfully on the cluster", name)
		}
		for _, e := range r.errors[name] {
			t.Errorf("script %s failed on the cluster: %s", name, e)
		}
	}
	t.Logf("scripts run on the cluster: %v", r.ok)
}

// A command whose reply does not come in time may have run; the cluster
// client must not send it again (go-redis's would, twice, on the same node
// and then another: passgate's scripts are not idempotent).
func TestClusterClientSendsScriptsOnce(t *testing.T) {
	t.Parallel()
	e := redisenv.Cluster(t, 3, 0)
	cfg := clusterConfig(e)
	cfg.Timeout = 100 * time.Millisecond
	cfg.Name = "passgate-resend-test"
	client := newClient(t, cfg)
	slow := goredis.NewScript(`#!lua
local t = redis.call('TIME')
local stop = t[1] * 1000000 + t[2] + 300000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop
return redis.call('INCR', KEYS[1])
`)
	ctx := context.Background()
	const key = "passgate-test:{runs}"
	err := slow.Run(ctx, client, []string{key}).Err()
	if err == nil {
		t.Fatal("a script that takes 300 ms answered within the 100 ms timeout")
	}
	client.Close()
	// Redis runs what a connection sent before it notices the connection
	// closed: once none of the client's connections is left on any node,
	// every send has been run.
	for _, n := range e.Nodes {
		admin := n.Client()
		waitFor(t, 10*time.Second, "the test client's connections closed on "+n.Addr, func() bool {
			list, err := admin.ClientList(ctx).Result()
			return err == nil && !strings.Contains(list, "name="+cfg.Name+" ")
		})
	}
	admin := e.MasterOf(key).Client()
	n, gerr := admin.Get(ctx, key).Int64()
	if gerr != nil || n != 1 {
		t.Fatalf("the script ran %d times (%v), want once; the error was %v", n, gerr, err)
	}
}
