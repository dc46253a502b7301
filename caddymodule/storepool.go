package caddymodule

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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
func loadStore(cfg StoreConfig) (sessionstore.Store, string, error) {
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
		rc, files, err := redisConfig(cfg)
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
					return nil, fmt.Errorf("%s: %s", redactURL(cfg.URL), redactErr(err, cfg.URL))
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

// redisConfig is how the redis backend reaches Redis, with the TLS files
// read; files is their content, so a reload after a certificate's renewal
// makes a new client.
func redisConfig(cfg StoreConfig) (rc redisstore.Config, files []byte, err error) {
	rc = redisstore.Config{
		Mode:             cfg.Mode,
		URL:              cfg.URL,
		MasterName:       cfg.Master,
		Addrs:            cfg.Addrs,
		Username:         cfg.Username,
		Password:         cfg.Password,
		SentinelPassword: cfg.SentinelPassword,
		Timeout:          time.Duration(cfg.Timeout),
		Name:             "passgate",
	}
	t := cfg.TLS
	if t == nil {
		return rc, nil, nil
	}
	rc.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return rc, nil, fmt.Errorf("tls ca: %v", err)
		}
		rc.TLS.RootCAs = x509.NewCertPool()
		if !rc.TLS.RootCAs.AppendCertsFromPEM(pem) {
			return rc, nil, fmt.Errorf("tls ca %s: no PEM certificate in it", t.CA)
		}
		files = append(files, pem...)
	}
	if t.ClientCert != "" {
		certPEM, err := os.ReadFile(t.ClientCert)
		if err != nil {
			return rc, nil, fmt.Errorf("tls client_cert: %v", err)
		}
		keyPEM, err := os.ReadFile(t.ClientKey)
		if err != nil {
			return rc, nil, fmt.Errorf("tls client_cert key: %v", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return rc, nil, fmt.Errorf("tls client_cert %s, %s: %v", t.ClientCert, t.ClientKey, err)
		}
		rc.TLS.Certificates = []tls.Certificate{cert}
		files = append(append(files, certPEM...), keyPEM...)
	}
	return rc, files, nil
}

// validate holds every rule of the store settings, for the parser and for
// Validate (a JSON config). Values with placeholders are checked once
// replaced, at provision.
func (c StoreConfig) validate() error {
	switch c.Backend {
	case "", "memory":
		for _, o := range []struct {
			name string
			set  bool
		}{{"timeout", c.Timeout != 0}, {"username", c.Username != ""}, {"password", c.Password != ""},
			{"sentinel_password", c.SentinelPassword != ""}, {"tls", c.TLS != nil}} {
			if o.set {
				return errAt("store "+o.name, "store memory has no %s", o.name)
			}
		}
		if c.Mode != "" || c.URL != "" || c.Master != "" || len(c.Addrs) > 0 {
			return errAt("store", "store memory: only prefix may be set")
		}
		return nil
	case "redis":
	default:
		return errAt("store", "unknown store %q (want memory or redis)", c.Backend)
	}
	switch c.Mode {
	case "":
		if c.URL == "" {
			return errAt("store", "store redis: a URL is required (redis://host:6379/0), or sentinel or cluster")
		}
		if c.Master != "" || len(c.Addrs) > 0 {
			return errAt("store", "store redis with a URL: no master or addresses (those are for sentinel and cluster)")
		}
		if c.SentinelPassword != "" {
			return errAt("store sentinel_password", "store redis: sentinel_password is for store redis sentinel")
		}
		if literal(c.URL) {
			u, err := redis.ParseURL(c.URL)
			if err != nil {
				return errAt("store", "store redis %s: %s", redactURL(c.URL), redactErr(err, c.URL))
			}
			if c.Password != "" && u.Password != "" {
				return errAt("store password", "store redis: the password is in the URL and in the block; give it once")
			}
			if c.Username != "" && u.Username != "" {
				return errAt("store username", "store redis: the username is in the URL and in the block; give it once")
			}
			if c.TLS != nil && u.TLSConfig == nil {
				return errAt("store tls", "store redis: tls needs a rediss:// URL")
			}
		}
	case "sentinel":
		if c.URL != "" {
			return errAt("store", "store redis sentinel: no URL, the sentinels' addresses")
		}
		if c.Master == "" || hasSpace(c.Master) {
			return errAt("store", "store redis sentinel: want the master's name (as the sentinels monitor it), then the sentinels")
		}
		if len(c.Addrs) == 0 {
			return errAt("store", "store redis sentinel %s: want at least one sentinel's host:port", c.Master)
		}
	case "cluster":
		if c.URL != "" || c.Master != "" {
			return errAt("store", "store redis cluster: no URL or master name, the nodes' addresses")
		}
		if len(c.Addrs) == 0 {
			return errAt("store", "store redis cluster: want at least one node's host:port")
		}
		if c.SentinelPassword != "" {
			return errAt("store sentinel_password", "store redis cluster: sentinel_password is for store redis sentinel")
		}
	default:
		return errAt("store", "store redis: unknown mode %q (want sentinel or cluster, or a URL)", c.Mode)
	}
	for _, a := range c.Addrs {
		if !literal(a) {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return errAt("store", "store redis %s: address %q: want host:port", c.Mode, a)
		}
	}
	if t := c.TLS; t != nil && (t.ClientCert == "") != (t.ClientKey == "") {
		return errAt("store tls", "store redis tls: client_cert needs both the certificate and the key file")
	}
	return nil
}

func hasSpace(s string) bool { return strings.ContainsAny(s, " \t\r\n") }

// replacePlaceholders replaces {env.X} and {file.X} in every setting that
// may hold one; an unset one is an error, not an empty value that the
// Redis client would refuse with a message naming nothing.
func (c *StoreConfig) replacePlaceholders() error {
	type setting struct {
		what string
		v    *string
	}
	settings := []setting{{"url", &c.URL}, {"master", &c.Master}, {"username", &c.Username},
		{"password", &c.Password}, {"sentinel_password", &c.SentinelPassword}}
	c.Addrs = slices.Clone(c.Addrs)
	for i := range c.Addrs {
		settings = append(settings, setting{"address", &c.Addrs[i]})
	}
	if c.TLS != nil {
		t := *c.TLS
		c.TLS = &t
		settings = append(settings, setting{"tls ca", &t.CA}, setting{"tls server_name", &t.ServerName},
			setting{"tls client_cert", &t.ClientCert}, setting{"tls client_cert key", &t.ClientKey})
	}
	repl := caddy.NewReplacer()
	for _, s := range settings {
		v, err := repl.ReplaceOrErr(*s.v, true, true)
		if err != nil {
			return fmt.Errorf("store %s: %v", s.what, err)
		}
		*s.v = v
	}
	return c.validate()
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

// redactURL hides the password of a store URL, for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// redactErr is err with every copy of the raw URL, and of its password,
// replaced: URL parse errors quote their input.
func redactErr(err error, raw string) string {
	msg := strings.ReplaceAll(err.Error(), raw, redactURL(raw))
	if u, perr := url.Parse(raw); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	} else if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i {
		msg = strings.ReplaceAll(msg, raw[i+3:j], "xxxxx")
	}
	return msg
}
