package redisenv

import (
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StandaloneEnv is one redis-server.
type StandaloneEnv struct {
	*common
	*Node
}

// Standalone starts one redis-server.
func Standalone(t testing.TB, opts ...Option) *StandaloneEnv {
	t.Helper()
	began := time.Now()
	c := newCommon(t, opts)
	e := &StandaloneEnv{common: c}
	e.Node = c.startNodes([]nodeSpec{{name: "standalone", conf: c.serverConf}})[0]
	t.Logf("redisenv: standalone %s up in %v", e.Addr, time.Since(began).Round(time.Millisecond))
	return e
}

// Options are a go-redis client's options for the server, with the
// environment's credentials and TLS (and go-redis's defaults otherwise).
func (e *StandaloneEnv) Options() *redis.Options {
	return &redis.Options{
		Addr:      e.Addr,
		Username:  e.Username(),
		Password:  e.Password(),
		TLSConfig: e.ClientTLS(),
	}
}

// URL is a redis:// URL of the server with the credentials, database 0;
// rediss:// with TLS, where a client also needs ClientTLS's CA.
func (e *StandaloneEnv) URL() string {
	u := url.URL{Scheme: "redis", Host: e.Addr, Path: "/0"}
	if e.tls != nil {
		u.Scheme = "rediss"
	}
	if e.Password() != "" {
		u.User = url.UserPassword(e.Username(), e.Password())
	}
	return u.String()
}
