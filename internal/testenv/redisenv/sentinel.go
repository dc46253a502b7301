package redisenv

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name under which the sentinels monitor the master.
const MasterName = "passgate-test"

// SentinelEnv is a master, its replicas and the sentinels monitoring it.
type SentinelEnv struct {
	*common
	MasterName string
	// Servers are the data servers: Servers[0] was made the master, the
	// others its replicas; a failover changes which is which.
	Servers []*Node
	// Sentinels are the redis-server --sentinel processes.
	Sentinels []*Node
}

// Sentinel starts a master, replicas replicating from it, and sentinels
// monitoring it under MasterName (quorum: a majority of the sentinels), and
// waits until every replica is in sync, every sentinel names the master,
// sees every replica and every other sentinel, and a failover could be
// authorised (SENTINEL CKQUORUM).
func Sentinel(t testing.TB, replicas, sentinels int, opts ...Option) *SentinelEnv {
	t.Helper()
	if replicas < 0 || sentinels < 1 {
		t.Fatalf("redisenv: Sentinel(%d replicas, %d sentinels): need at least one sentinel", replicas, sentinels)
	}
	began := time.Now()
	c := newCommon(t, opts)
	e := &SentinelEnv{common: c, MasterName: MasterName}

	master := c.startNodes([]nodeSpec{{name: "master", conf: c.serverConf}})[0]
	specs := make([]nodeSpec, replicas)
	for i := range specs {
		specs[i] = nodeSpec{name: fmt.Sprintf("replica-%d", i+1), conf: func(n *Node) string {
			return c.serverConf(n) + fmt.Sprintf("replicaof 127.0.0.1 %d\n", master.Port)
		}}
	}
	e.Servers = append([]*Node{master}, c.startNodes(specs)...)
	// The sentinels learn of the replicas from the master's INFO when
	// they connect, so the replicas go first.
	e.waitReplicas(master.Addr)

	// Each sentinel is told of the others (their ports and IDs, chosen
	// here) and of the replicas in its configuration, as a sentinel
	// records them itself; otherwise they find each other through hello
	// messages, sent every 2 s. (Should a port be taken meanwhile, that
	// sentinel starts elsewhere and is found the slow way.)
	quorum := sentinels/2 + 1
	peers := make([]sentinelPeer, sentinels)
	for i := range peers {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = sentinelPeer{port: port, id: randomHex(t, 20)}
	}
	specs = make([]nodeSpec, sentinels)
	for i := range specs {
		specs[i] = nodeSpec{name: fmt.Sprintf("sentinel-%d", i+1), sentinel: true, port: peers[i].port, conf: func(n *Node) string {
			var others []sentinelPeer
			for j, p := range peers {
				if j != i {
					others = append(others, p)
				}
			}
			return e.sentinelConf(n, master.Port, quorum, peers[i].id, others, e.Servers[1:])
		}}
	}
	e.Sentinels = c.startNodes(specs)
	e.waitSentinels(master.Addr)
	t.Logf("redisenv: sentinel group (master %s, %d replicas, %d sentinels) up in %v",
		master.Addr, replicas, sentinels, time.Since(began).Round(time.Millisecond))
	return e
}

type sentinelPeer struct {
	port int
	id   string
}

func (e *SentinelEnv) sentinelConf(n *Node, masterPort, quorum int, id string, peers []sentinelPeer, replicas []*Node) string {
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("bind 127.0.0.1")
	e.listenConf(line, n.Port)
	line("dir %q", n.Dir)
	line("logfile %q", n.Dir+"/redis.log")
	if e.tls != nil {
		// The sentinels reach the servers, and each other, over TLS.
		line("tls-replication yes")
	}
	if e.cfg.sentinelPassword != "" {
		// The sentinels use it with each other too.
		line("requirepass %s", e.cfg.sentinelPassword)
	}
	ms := cmp.Or(e.cfg.nodeTimeout, DefaultSentinelDownAfter).Milliseconds()
	line("sentinel monitor %s 127.0.0.1 %d %d", e.MasterName, masterPort, quorum)
	line("sentinel down-after-milliseconds %s %d", e.MasterName, ms)
	// Also the wait before a sentinel tries again after a failover that
	// did not complete (twice this), and the bound on a promotion.
	line("sentinel failover-timeout %s %d", e.MasterName, max(5000, 5*ms))
	line("sentinel parallel-syncs %s 1", e.MasterName)
	line("sentinel myid %s", id)
	for _, p := range peers {
		line("sentinel known-sentinel %s 127.0.0.1 %d %s", e.MasterName, p.port, p.id)
	}
	for _, r := range replicas {
		line("sentinel known-replica %s 127.0.0.1 %d", e.MasterName, r.Port)
	}
	if e.cfg.username != "" {
		line("sentinel auth-user %s %s", e.MasterName, e.cfg.username)
	}
	if e.cfg.password != "" {
		line("sentinel auth-pass %s %s", e.MasterName, e.cfg.password)
	}
	return b.String()
}

// SentinelAddrs are the sentinels' addresses.
func (e *SentinelEnv) SentinelAddrs() []string {
	addrs := make([]string, len(e.Sentinels))
	for i, s := range e.Sentinels {
		addrs[i] = s.Addr
	}
	return addrs
}

// FailoverOptions are a go-redis failover client's options for the group,
// with the environment's credentials and TLS (go-redis's defaults
// otherwise).
func (e *SentinelEnv) FailoverOptions() *redis.FailoverOptions {
	return &redis.FailoverOptions{
		MasterName:       e.MasterName,
		SentinelAddrs:    e.SentinelAddrs(),
		SentinelPassword: e.SentinelPassword(),
		Username:         e.Username(),
		Password:         e.Password(),
		TLSConfig:        e.ClientTLS(),
	}
}

// MasterAddr is the master's address as the first sentinel that answers
// names it.
func (e *SentinelEnv) MasterAddr() string {
	e.t.Helper()
	var addr string
	e.poll("a sentinel naming the master", readyTimeout, func(ctx context.Context) error {
		var err error
		for _, s := range e.Sentinels {
			if !s.answering() {
				continue
			}
			if addr, err = e.askMaster(ctx, s); err == nil {
				return nil
			}
		}
		if err == nil {
			err = fmt.Errorf("no sentinel is running")
		}
		return err
	})
	return addr
}

// Master is the node the sentinels name as master.
func (e *SentinelEnv) Master() *Node { return e.nodeByAddr(e.MasterAddr()) }

func (e *SentinelEnv) askMaster(ctx context.Context, s *Node) (string, error) {
	r, err := s.Client().Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", e.MasterName).StringSlice()
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Name, err)
	}
	if len(r) != 2 {
		return "", fmt.Errorf("%s: get-master-addr-by-name: %q", s.Name, r)
	}
	return r[0] + ":" + r[1], nil
}

// KillMaster kills the current master with SIGKILL and returns its
// address, for WaitFailover.
func (e *SentinelEnv) KillMaster() string {
	e.t.Helper()
	m := e.Master()
	m.Kill()
	return m.Addr
}

// StopNode, KillNode, FreezeNode, ThawNode and RestartNode act on
// Servers[i] (see Node's methods of the same names).
func (e *SentinelEnv) StopNode(i int)    { e.t.Helper(); e.Servers[i].Stop() }
func (e *SentinelEnv) KillNode(i int)    { e.t.Helper(); e.Servers[i].Kill() }
func (e *SentinelEnv) FreezeNode(i int)  { e.t.Helper(); e.Servers[i].Freeze() }
func (e *SentinelEnv) ThawNode(i int)    { e.t.Helper(); e.Servers[i].Thaw() }
func (e *SentinelEnv) RestartNode(i int) { e.t.Helper(); e.Servers[i].Restart() }

// WaitFailover waits until every answering sentinel names the same master,
// other than oldMaster, and that server says it is a master; it returns
// the new master's address.
func (e *SentinelEnv) WaitFailover(oldMaster string) string {
	e.t.Helper()
	var addr string
	e.poll("failover from "+oldMaster, failoverTimeout, func(ctx context.Context) error {
		var err error
		addr, err = e.agreedMaster(ctx)
		if err != nil {
			return err
		}
		if addr == oldMaster {
			return fmt.Errorf("the sentinels still name %s", oldMaster)
		}
		n := e.nodeByAddr(addr)
		if n == nil {
			return fmt.Errorf("the sentinels name %s, not a server of this group", addr)
		}
		info, err := n.Client().Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("new master %s: %w", addr, err)
		}
		if role := infoField(info, "role"); role != "master" {
			return fmt.Errorf("new master %s says role:%s", addr, role)
		}
		return nil
	})
	return addr
}

// agreedMaster is the master every answering sentinel names.
func (e *SentinelEnv) agreedMaster(ctx context.Context) (string, error) {
	agreed := ""
	for _, s := range e.Sentinels {
		if !s.answering() {
			continue
		}
		addr, err := e.askMaster(ctx, s)
		if err != nil {
			return "", err
		}
		if agreed != "" && addr != agreed {
			return "", fmt.Errorf("the sentinels disagree: %s and %s", agreed, addr)
		}
		agreed = addr
	}
	if agreed == "" {
		return "", fmt.Errorf("no sentinel is running")
	}
	return agreed, nil
}

// WaitReplicas waits until every running server other than the master is
// its replica with the link up and in sync, and every sentinel sees them:
// after a failover and a restart of the old master, for example.
func (e *SentinelEnv) WaitReplicas() {
	e.t.Helper()
	master := e.MasterAddr()
	e.waitReplicas(master)
	e.waitSentinels(master)
}

func (e *SentinelEnv) waitReplicas(master string) {
	e.t.Helper()
	e.poll("replicas in sync with "+master, readyTimeout, func(ctx context.Context) error {
		m := e.nodeByAddr(master)
		mi, err := m.Client().Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("master %s: %w", master, err)
		}
		offset := infoField(mi, "master_repl_offset")
		for _, n := range e.Servers {
			if n.Addr == master || !n.answering() {
				continue
			}
			info, err := n.Client().Info(ctx, "replication").Result()
			if err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			host, port := infoField(info, "master_host"), infoField(info, "master_port")
			switch {
			case infoField(info, "role") != "slave" || host+":"+port != master:
				return fmt.Errorf("%s: role:%s of %s:%s", n.Name, infoField(info, "role"), host, port)
			case infoField(info, "master_link_status") != "up":
				return fmt.Errorf("%s: link to master %s", n.Name, infoField(info, "master_link_status"))
			case offsetBehind(info, offset):
				return fmt.Errorf("%s: behind the master", n.Name)
			}
		}
		return nil
	})
}

// offsetBehind: the replica has not yet processed the master's offset.
func offsetBehind(replicaInfo, masterOffset string) bool {
	var r, m int64
	fmt.Sscan(infoField(replicaInfo, "slave_repl_offset"), &r)
	fmt.Sscan(masterOffset, &m)
	return r < m
}

// waitSentinels waits until every answering sentinel names master, sees
// every running replica as a replica (not down, not disconnected) and can
// authorise a failover with every other sentinel known.
func (e *SentinelEnv) waitSentinels(master string) {
	e.t.Helper()
	var want []string
	for _, n := range e.Servers {
		if n.Addr != master && n.answering() {
			want = append(want, n.Addr)
		}
	}
	e.poll("sentinels agreeing on "+master, readyTimeout, func(ctx context.Context) error {
		for _, s := range e.Sentinels {
			if !s.answering() {
				continue
			}
			c := s.Client()
			addr, err := e.askMaster(ctx, s)
			if err != nil {
				return err
			}
			if addr != master {
				return fmt.Errorf("%s names %s", s.Name, addr)
			}
			reps, err := c.Do(ctx, "SENTINEL", "REPLICAS", e.MasterName).Slice()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			seen := map[string]bool{}
			for _, r := range reps {
				f := fields(r)
				// The servers' own INFO says whether the link is up;
				// a sentinel refreshes its copy only every 10 s.
				if f["flags"] == "slave" {
					seen[f["ip"]+":"+f["port"]] = true
				}
			}
			for _, w := range want {
				if !seen[w] {
					return fmt.Errorf("%s does not see replica %s", s.Name, w)
				}
			}
			others, err := c.Do(ctx, "SENTINEL", "SENTINELS", e.MasterName).Slice()
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			if len(others) < len(e.Sentinels)-1 {
				return fmt.Errorf("%s knows %d other sentinels of %d", s.Name, len(others), len(e.Sentinels)-1)
			}
			if err := c.Do(ctx, "SENTINEL", "CKQUORUM", e.MasterName).Err(); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
		}
		return nil
	})
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// fields turns a RESP2 flat array of names and values (or a RESP3 map)
// into a map.
func fields(v any) map[string]string {
	m := map[string]string{}
	switch v := v.(type) {
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			k, _ := v[i].(string)
			m[k] = fmt.Sprint(v[i+1])
		}
	case map[any]any:
		for k, val := range v {
			m[fmt.Sprint(k)] = fmt.Sprint(val)
		}
	}
	return m
}
