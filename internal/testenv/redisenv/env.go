// Package redisenv starts real redis-server processes for tests: a
// standalone server, a Sentinel group (a master, its replicas and the
// sentinels monitoring it) and a Cluster (masters and their replicas, joined
// by redis-cli --cluster create), on free loopback ports in temporary
// directories, with optional passwords, an ACL user and TLS. It has helpers
// that make things happen (kill, stop, freeze, thaw, restart a node) and
// that wait, by polling with a deadline, for what should follow (a failover,
// a healthy cluster). Everything it starts is stopped when the test ends.
//
// It is imported by tests only; it needs redis-server and redis-cli
// (Debian: apt-get install redis-server redis-tools). REDISENV_DEBUG=1 logs
// every unmet condition while it waits.
package redisenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// startTimeout bounds the wait for one process to answer.
	startTimeout = 10 * time.Second
	// readyTimeout bounds the wait for a topology to be usable, and
	// failoverTimeout the wait for a failover to finish. A restarted old
	// Sentinel master is turned into a replica only after two of the
	// sentinels' 10 s INFO rounds and their 8 s grace, so 30 s was
	// missed on a loaded machine.
	readyTimeout    = 60 * time.Second
	failoverTimeout = 30 * time.Second
	pollInterval    = 20 * time.Millisecond
	// DefaultNodeTimeout is cluster-node-timeout unless WithNodeTimeout
	// says otherwise: low, so that a failover takes seconds, not the
	// default's 15 s.
	DefaultNodeTimeout = time.Second
	// DefaultSentinelDownAfter is the sentinels' down-after-milliseconds
	// unless WithNodeTimeout says otherwise. A sentinel starts the clock
	// of a new master's first PING at the switch, and a loaded test
	// machine (the promoted server's CONFIG REWRITE and fsync, a starved
	// process) can leave it unanswered for a second: with 1 s the
	// sentinels then found the new master down at once, failed it over
	// again, and promoted the old master restarted empty, whose replica
	// the master with the data became. 3 s is well past such stalls.
	DefaultSentinelDownAfter = 3 * time.Second
)

// Option changes how an environment is set up.
type Option func(*config)

type config struct {
	username, password string
	sentinelPassword   string
	tls                bool
	aof                bool
	nodeTimeout        time.Duration
	extra              []string
}

// WithPassword protects the data servers with requirepass (the default
// user's password); replicas and sentinels are given it (masterauth,
// sentinel auth-pass).
func WithPassword(password string) Option {
	return func(c *config) { c.username, c.password = "", password }
}

// WithUser creates an ACL user with every permission and turns the default
// user off, so that a client must AUTH as this user; replicas, sentinels
// and redis-cli use it too (masteruser, sentinel auth-user).
func WithUser(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithSentinelPassword protects the sentinels themselves with requirepass:
// what go-redis calls SentinelPassword, distinct from the data servers'
// password.
func WithSentinelPassword(password string) Option {
	return func(c *config) { c.sentinelPassword = password }
}

// WithTLS serves every node on TLS only (port 0, tls-port), with a CA and a
// server certificate made for the test; replication, the cluster bus and
// the sentinels' connections use TLS too. Clients need not present a
// certificate (tls-auth-clients no).
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithAOF turns the append-only file on (fsync always), so that a node that
// is stopped or killed and restarted comes back with its data. Without it a
// restarted node comes back empty, as a replaced machine would.
func WithAOF() Option { return func(c *config) { c.aof = true } }

// WithNodeTimeout sets cluster-node-timeout and the sentinels'
// down-after-milliseconds (DefaultNodeTimeout and DefaultSentinelDownAfter
// otherwise).
func WithNodeTimeout(d time.Duration) Option { return func(c *config) { c.nodeTimeout = d } }

// WithConfig adds configuration lines to every data server (not the
// sentinels), for example "min-replicas-to-write 1".
func WithConfig(lines ...string) Option {
	return func(c *config) { c.extra = append(c.extra, lines...) }
}

// common is what every topology shares: the test, the options, the TLS
// material and the nodes to stop at the end.
type common struct {
	t   testing.TB
	cfg config
	// TLS is nil without WithTLS.
	tls   *TLSFiles
	nodes []*Node
}

func newCommon(t testing.TB, opts []Option) *common {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("redisenv: %s not found: install it (Debian: apt-get install redis-server redis-tools)", bin)
		}
	}
	c := &common{t: t}
	for _, o := range opts {
		o(&c.cfg)
	}
	if c.cfg.tls {
		c.tls = newTLSFiles(t)
	}
	t.Cleanup(c.stopAll)
	return c
}

// Username and Password are what a client of the data servers sends
// (both empty without WithPassword or WithUser; Username empty with
// WithPassword).
func (c *common) Username() string { return c.cfg.username }
func (c *common) Password() string { return c.cfg.password }

// SentinelPassword is the sentinels' own password (empty without
// WithSentinelPassword).
func (c *common) SentinelPassword() string { return c.cfg.sentinelPassword }

// TLS is the CA and server certificate the nodes use, or nil without
// WithTLS.
func (c *common) TLS() *TLSFiles { return c.tls }

// ClientTLS is the client side of TLS (trusting the test's CA), or nil
// without WithTLS.
func (c *common) ClientTLS() *tls.Config {
	if c.tls == nil {
		return nil
	}
	return c.tls.ClientConfig()
}

// nodeOptions are the options of a client of one node, for the package's
// own checks: no retries, short timeouts.
func (c *common) nodeOptions(addr string, sentinel bool) *redis.Options {
	o := &redis.Options{
		Addr:            addr,
		DialTimeout:     500 * time.Millisecond,
		ReadTimeout:     2 * time.Second,
		WriteTimeout:    2 * time.Second,
		MaxRetries:      -1,
		DialerRetries:   1,
		PoolSize:        2,
		DisableIdentity: true,
		TLSConfig:       c.ClientTLS(),
	}
	if sentinel {
		o.Password = c.cfg.sentinelPassword
	} else {
		o.Username, o.Password = c.cfg.username, c.cfg.password
	}
	return o
}

// makeNode makes a node in a new temporary directory and starts it, picking
// other ports if the ones it picked were taken meanwhile.
func (c *common) makeNode(s nodeSpec) (*Node, error) {
	n := &Node{Name: s.name, Dir: c.t.TempDir(), env: c, sentinel: s.sentinel}
	// Registered after TempDir's, so it runs before the log is removed.
	c.t.Cleanup(func() {
		if c.t.Failed() {
			c.t.Log(n.logTail())
		}
	})
	n.conf = func() string { return s.conf(n) }
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt == 0 && s.port != 0 {
			n.Port = s.port
		} else if n.Port, err = freePort(); err != nil {
			return nil, err
		}
		if s.bus {
			// The bus port is given explicitly (cluster-port): the
			// default, port+10000, may be taken or past 65535.
			if n.BusPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		n.Addr = fmt.Sprintf("127.0.0.1:%d", n.Port)
		if err = n.start(); err == nil {
			return n, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		// A cluster node may have written its state for the old port.
		_ = os.Remove(filepath.Join(n.Dir, "nodes.conf"))
	}
	return nil, fmt.Errorf("%s: %w", s.name, err)
}

type nodeSpec struct {
	name          string
	sentinel, bus bool
	port          int // the first port to try; 0: any free one
	conf          func(n *Node) string
}

// startNodes starts several nodes at once (a start is mostly waiting), and
// fails the test if any does not start.
func (c *common) startNodes(specs []nodeSpec) []*Node {
	c.t.Helper()
	nodes := make([]*Node, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = c.makeNode(s)
		}()
	}
	wg.Wait()
	for _, n := range nodes {
		if n != nil {
			c.nodes = append(c.nodes, n)
		}
	}
	for _, err := range errs {
		if err != nil {
			c.t.Fatalf("redisenv: %v", err)
		}
	}
	return nodes
}

// Close kills every process of the environment and waits until they have
// exited (the test's cleanup does this too).
func (c *common) Close() { c.stopAll() }

// stopAll kills every node: the tests are done with the data.
func (c *common) stopAll() {
	for _, n := range c.nodes {
		n.signalGroup(syscall.SIGKILL)
	}
	for _, n := range c.nodes {
		n.wait()
	}
}

// serverConf is the configuration every data server shares.
func (c *common) serverConf(n *Node) string {
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("bind 127.0.0.1")
	c.listenConf(line, n.Port)
	line("dir %q", n.Dir)
	line("logfile %q", n.Dir+"/redis.log")
	line("save \"\"")
	if c.cfg.aof {
		line("appendonly yes")
		line("appendfsync always")
	} else {
		line("appendonly no")
	}
	// A replica's first sync starts at once, not after the default 5 s.
	line("repl-diskless-sync-delay 0")
	switch {
	case c.cfg.username != "":
		line("user default off")
		line("user %s on >%s ~* &* +@all", c.cfg.username, c.cfg.password)
		line("masteruser %s", c.cfg.username)
		line("masterauth %s", c.cfg.password)
	case c.cfg.password != "":
		line("requirepass %s", c.cfg.password)
		line("masterauth %s", c.cfg.password)
	}
	if c.tls != nil {
		line("tls-replication yes")
	}
	for _, l := range c.cfg.extra {
		line("%s", l)
	}
	return b.String()
}

// listenConf: the port, and TLS if on (then the plain port is closed).
func (c *common) listenConf(line func(string, ...any), port int) {
	if c.tls == nil {
		line("port %d", port)
		return
	}
	line("port 0")
	line("tls-port %d", port)
	line("tls-cert-file %q", c.tls.CertFile)
	line("tls-key-file %q", c.tls.KeyFile)
	line("tls-ca-cert-file %q", c.tls.CAFile)
	line("tls-auth-clients no")
}

// poll calls check every pollInterval until it returns nil or timeout has
// passed, and then fails the test with what and the last error.
func (c *common) poll(what string, timeout time.Duration, check func(ctx context.Context) error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := check(ctx)
		cancel()
		if err == nil {
			return
		}
		if os.Getenv("REDISENV_DEBUG") != "" {
			c.t.Logf("redisenv: %s: %v", what, err)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redisenv: %s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// nodeByAddr finds a node by its address.
func (c *common) nodeByAddr(addr string) *Node {
	for _, n := range c.nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// infoField reads one field of an INFO reply.
func infoField(info, field string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), field+":"); ok {
			return v
		}
	}
	return ""
}
