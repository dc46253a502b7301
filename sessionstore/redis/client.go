package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultTimeout bounds every Redis operation, so that a stopped or hung
// server turns into sessionstore.ErrUnavailable instead of a hanging
// request.
const DefaultTimeout = 2 * time.Second

// The topologies a Config can name.
const (
	Standalone = "standalone" // one server (or one address in front of several)
	Sentinel   = "sentinel"   // a master found through Redis Sentinel
	Cluster    = "cluster"    // Redis Cluster
)

// clusterReload is how old the cluster client's slot map may get before
// the next command reloads it. go-redis's default is a minute: a dead
// master answers neither MOVED nor READONLY, only refused connections, so
// its slots would fail that long after its replica took over.
const clusterReload = time.Second

// Config says how to reach Redis. Nothing in it is dialled until the first
// command, so a client can be made with every server down.
type Config struct {
	// Mode is Standalone (the default), Sentinel or Cluster.
	Mode string
	// URL is the server's redis:// or rediss:// URL (Standalone only).
	URL string
	// MasterName is the name the sentinels monitor the master under
	// (Sentinel only).
	MasterName string
	// Addrs are the sentinels (Sentinel) or some of the nodes (Cluster;
	// the others are learnt from them), as host:port.
	Addrs []string
	// Username and Password are the data servers' (an ACL user, or the
	// default user's requirepass). With a URL they may be in it instead.
	Username, Password string
	// SentinelPassword is the sentinels' own requirepass (Sentinel only).
	SentinelPassword string
	// TLS, if set, is used for every connection: data servers, sentinels
	// and cluster nodes alike. With a URL, rediss:// alone turns TLS on
	// with the system's roots.
	TLS *tls.Config
	// Timeout bounds dialling, each read and write, and the wait for a
	// pooled connection (DefaultTimeout if zero).
	Timeout time.Duration
	// Name is sent with CLIENT SETNAME, so operators can find passgate's
	// connections.
	Name string
}

// Client is a go-redis client for a Config: a plain client, a failover
// client that follows the sentinels, or a cluster client. The session cache
// needs to know which (see NewSessionCache).
type Client struct {
	goredis.UniversalClient
	cfg Config
}

// NewClient makes a client for cfg. Every command and script is sent at
// most once: a connection lost after Redis ran a script but before its
// reply arrived would run it again (rotate a refresh token twice, count a
// try twice). Redis's own refusals that say a command did not run (MOVED,
// ASK, READONLY, LOADING, CLUSTERDOWN, TRYAGAIN, ...) and failed dials are
// still followed or retried.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	t := cfg.Timeout
	o := &goredis.UniversalOptions{
		Addrs:            cfg.Addrs,
		MasterName:       cfg.MasterName,
		SentinelPassword: cfg.SentinelPassword,
		Username:         cfg.Username,
		Password:         cfg.Password,
		TLSConfig:        cfg.TLS,
		ClientName:       cfg.Name,
		DialTimeout:      t, ReadTimeout: t, WriteTimeout: t, PoolTimeout: t,
		ContextTimeoutEnabled: true,
		// In go-redis, 0 means 3 retries and -1 none. Connections the
		// server closed while idle (a restart) are found and dropped by
		// the pool's check before use, so a restart needs no retry. A
		// failed dial sends nothing, so one more dial is safe.
		MaxRetries:      -1,
		DialerRetries:   1,
		DisableIdentity: true,
		// ReadOnly, RouteByLatency and RouteRandomly stay off: a replica
		// may still hold a session just revoked or an attempt just used.
	}
	switch cfg.Mode {
	case "", Standalone:
		u, err := goredis.ParseURL(cfg.URL)
		if err != nil {
			return nil, err
		}
		o.Addrs, o.MasterName = []string{u.Addr}, ""
		if o.Username == "" {
			o.Username = u.Username
		}
		if o.Password == "" {
			o.Password = u.Password
		}
		switch {
		case cfg.TLS != nil && u.TLSConfig != nil && cfg.TLS.ServerName == "":
			o.TLSConfig = cfg.TLS.Clone()
			o.TLSConfig.ServerName = u.TLSConfig.ServerName
		case cfg.TLS == nil:
			o.TLSConfig = u.TLSConfig
		}
		simple := o.Simple()
		simple.DB = u.DB
		return &Client{goredis.NewClient(simple), cfg}, nil
	case Sentinel:
		if cfg.MasterName == "" || len(cfg.Addrs) == 0 {
			return nil, errors.New("sentinel: a master name and at least one sentinel address are needed")
		}
		return &Client{goredis.NewFailoverClient(o.Failover()), cfg}, nil
	case Cluster:
		if len(cfg.Addrs) == 0 {
			return nil, errors.New("cluster: at least one node address is needed")
		}
		co := o.Cluster()
		// Every node's client gets the hook that keeps the cluster client
		// from sending a command again once it may have run.
		co.NewClient = func(o *goredis.Options) *goredis.Client {
			c := goredis.NewClient(o)
			c.AddHook(noResend{})
			return c
		}
		co.ClusterStateReloadInterval = clusterReload
		c := goredis.NewClusterClient(co)
		c.AddHook(reloadOnNetError{c})
		return &Client{c, cfg}, nil
	default:
		return nil, fmt.Errorf("unknown mode %q (want %s, %s or %s)", cfg.Mode, Standalone, Sentinel, Cluster)
	}
}

// Mode is the topology the client was made for.
func (c *Client) Mode() string {
	if c.cfg.Mode == "" {
		return Standalone
	}
	return c.cfg.Mode
}

// noResend is a hook on every node client of a cluster client. go-redis's
// cluster client retries a command whose connection failed after it was
// written (an EOF, a timeout) on the same node and then on another, even
// with MaxRetries -1; passgate's scripts are not idempotent. A failure of
// a command that may have run comes back as errMaybeRan, which go-redis
// does not recognise as retryable. Redis's refusals (MOVED, ASK, READONLY,
// CLUSTERDOWN, TRYAGAIN, ...), failed dials and pool timeouts, after which
// nothing ran, pass through and are followed or retried as usual.
// Pipelines are not covered (go-redis decides their retry before a hook
// sees the error): only commands that may safely run twice go in one.
type noResend struct{}

func (noResend) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (noResend) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		return maybeRan(next(ctx, cmd))
	}
}
func (noResend) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func maybeRan(err error) error {
	var redisErr goredis.Error
	var opErr *net.OpError
	switch {
	case err == nil, errors.As(err, &redisErr), errors.Is(err, goredis.ErrPoolTimeout),
		errors.As(err, &opErr) && opErr.Op == "dial",
		errors.Is(err, context.Canceled):
		return err
	}
	return &errMaybeRan{err}
}

// errMaybeRan has no Unwrap on purpose: go-redis's retry test looks
// through wrapping for io.EOF and net.Error timeouts.
type errMaybeRan struct{ err error }

func (e *errMaybeRan) Error() string {
	return "no reply from redis (the command may have run): " + e.err.Error()
}

// reloadOnNetError asks the cluster client for a new slot map as soon as a
// command fails for want of a connection: a killed master's slots then
// move to its replica as soon as the cluster agrees, rather than at the
// next periodic reload. go-redis reloads at most one at a time, in the
// background.
type reloadOnNetError struct{ c *goredis.ClusterClient }

func (reloadOnNetError) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h reloadOnNetError) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}
func (h reloadOnNetError) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetError) check(ctx context.Context, err error) {
	var redisErr goredis.Error
	if err != nil && !errors.Is(err, goredis.Nil) && (!errors.As(err, &redisErr) || isClusterDown(err)) &&
		!errors.Is(err, context.Canceled) {
		h.c.ReloadState(ctx)
	}
}

func isClusterDown(err error) bool {
	return strings.HasPrefix(err.Error(), "CLUSTERDOWN")
}
