package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// storePool shares backends across config reloads: a reload provisions the
// new handler (taking a reference) before cleaning up the old one (dropping
// its reference), so a Redis client or a memory store lives on untouched
// while any config uses it, and is closed when the last one lets go.
var storePool = caddy.NewUsagePool()

type pooledMemory struct{ *memory.Store }

func (p pooledMemory) Destruct() error { return p.Close() }

// pooledRedis is a client with its session cache: the cache's
// subscription lives exactly as long as the client.
type pooledRedis struct {
	*redisstore.Client
	cache *redisstore.SessionCache
}

func (p pooledRedis) Destruct() error {
	p.cache.Close()
	return p.Close()
}

// loadStore returns the store cfg describes and the pool key to release
// it with. Nothing here touches the network: go-redis dials lazily, so
// `caddy validate` works without a reachable server, and passgate starts
// with some cluster nodes or sentinels down.
func loadStore(cfg config.StoreConfig) (sessionstore.Store, string, error) {
	timeout := time.Duration(cfg.Timeout)
	switch cfg.Backend {
	case "", "memory":
		// Memory stores with the same prefix are one store, as they would
		// be in Redis: state survives a reload.
		key := "memory\x00" + cfg.Prefix
		v, _, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
			return pooledMemory{memory.New(nil, time.Minute)}, nil
		})
		if err != nil {
			return nil, "", err
		}
		return v.(pooledMemory).Store, key, nil
	case "redis":
		rc, files, err := cfg.RedisConfig()
		if err != nil {
			return nil, "", err
		}
		// One client per way of reaching Redis (the prefix is the
		// store's), and a new one when a TLS file's content changes.
		conn := cfg
		conn.Prefix = ""
		b, err := json.Marshal(conn)
		if err != nil {
			return nil, "", err
		}
		key := fmt.Sprintf("redis\x00%s\x00%x", b, sha256.Sum256(files))
		v, _, err := storePool.LoadOrNew(key, func() (caddy.Destructor, error) {
			c, err := redisstore.NewClient(rc)
			if err != nil {
				if cfg.URL != "" {
					return nil, fmt.Errorf("%s: %s", config.RedactURL(cfg.URL), config.RedactErr(err, cfg.URL))
				}
				return nil, err
			}
			cache := redisstore.NewSessionCache(c, redisstore.SessionCacheEntries, redisstore.SessionCacheTTL)
			return pooledRedis{c, cache}, nil
		})
		if err != nil {
			return nil, "", err
		}
		pr := v.(pooledRedis)
		return redisstore.New(pr.Client, cfg.Prefix, timeout).WithCache(pr.cache), key, nil
	default:
		return nil, "", fmt.Errorf("unknown store backend %q (want memory or redis)", cfg.Backend)
	}
}

// sessionCacheLen is the number of sessions the pooled Redis stores'
// caches hold, for the metrics.
func sessionCacheLen() float64 {
	n := 0
	storePool.Range(func(_, v any) bool {
		if r, ok := v.(pooledRedis); ok {
			n += r.cache.Len()
		}
		return true
	})
	return float64(n)
}

func releaseStore(key string) error {
	if key == "" {
		return nil
	}
	_, err := storePool.Delete(key)
	return err
}

func init() {
	// go-redis reports dial failures on its own logger, by default stderr.
	// passgate reports store failures itself; keep go-redis at debug level.
	redis.SetLogger(redisLogger{})
}

type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if c := caddy.Log().Named("passgate.redis").Check(zapcore.DebugLevel, "go-redis"); c != nil {
		c.Write(zap.String("detail", fmt.Sprintf(format, v...)))
	}
}
