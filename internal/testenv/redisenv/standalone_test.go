package redisenv

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestStandalone: the server answers with the options it was given (an ACL
// user, TLS), refuses clients without them, and a stop and restart keeps
// its data with WithAOF.
func TestStandalone(t *testing.T) {
	t.Parallel()
	e := Standalone(t, WithUser("passgate", "pw"), WithTLS(), WithAOF())
	ctx := context.Background()
	c := redis.NewClient(e.Options())
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("write: %v", err)
	}
	for name, o := range map[string]*redis.Options{
		"no TLS":       {Addr: e.Addr, Username: "passgate", Password: "pw"},
		"default user": {Addr: e.Addr, TLSConfig: e.ClientTLS()},
		"wrong pass":   {Addr: e.Addr, Username: "passgate", Password: "nope", TLSConfig: e.ClientTLS()},
	} {
		o.MaxRetries = -1
		bad := redis.NewClient(o)
		if err := bad.Get(ctx, "k").Err(); err == nil {
			t.Errorf("%s: read the key", name)
		}
		bad.Close()
	}
	if u := e.URL(); !strings.HasPrefix(u, "rediss://passgate:pw@127.0.0.1:") {
		t.Errorf("URL %q", u)
	}
	o, err := redis.ParseURL(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	o.TLSConfig = e.ClientTLS()
	uc := redis.NewClient(o)
	if v, err := uc.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("client from URL: %q, %v", v, err)
	}
	uc.Close()

	pid := e.PID()
	e.Stop()
	if e.Running() || e.PID() != 0 {
		t.Fatalf("still running after Stop")
	}
	e.Restart()
	if e.PID() == pid || !e.Running() {
		t.Fatalf("Restart: pid %d (was %d), running %v", e.PID(), pid, e.Running())
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("after a stop and restart with AOF: %q, %v", v, err)
	}
}
