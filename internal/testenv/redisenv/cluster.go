package redisenv

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Slots is the number of hash slots of a Redis Cluster.
const Slots = 16384

// ClusterEnv is a Redis Cluster.
type ClusterEnv struct {
	*common
	// Nodes are every node; a failover changes which are masters.
	Nodes []*Node
	// owners is, per slot, the address of the master that served it when
	// the cluster was last seen healthy.
	owners []string
}

// Cluster starts masters*(1+replicasPerMaster) cluster-enabled servers, joins
// them with redis-cli --cluster create --cluster-replicas, and waits until
// every node says cluster_state:ok with every slot served, knows every other
// node, and every replica's link to its master is up.
func Cluster(t testing.TB, masters, replicasPerMaster int, opts ...Option) *ClusterEnv {
	t.Helper()
	if masters < 3 {
		t.Fatalf("redisenv: Cluster(%d masters): redis-cli --cluster create needs at least 3", masters)
	}
	began := time.Now()
	c := newCommon(t, opts)
	e := &ClusterEnv{common: c}
	specs := make([]nodeSpec, masters*(1+replicasPerMaster))
	for i := range specs {
		specs[i] = nodeSpec{name: fmt.Sprintf("node-%d", i), bus: true, conf: e.nodeConf}
	}
	e.Nodes = c.startNodes(specs)
	started := time.Since(began)

	args := []string{"--cluster", "create"}
	for _, n := range e.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	out, err := e.cli(args...)
	if err != nil {
		t.Fatalf("redisenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	created := time.Since(began)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range e.Nodes {
		if n.ID, err = n.Client().Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
			t.Fatalf("redisenv: %s: CLUSTER MYID: %v", n.Name, err)
		}
	}
	e.WaitHealthy()
	t.Logf("redisenv: cluster of %d masters with %d replicas each up in %v (processes %v, redis-cli --cluster create %v, state ok %v)",
		masters, replicasPerMaster, time.Since(began).Round(time.Millisecond), started.Round(time.Millisecond),
		(created - started).Round(time.Millisecond), (time.Since(began) - created).Round(time.Millisecond))
	return e
}

func (e *ClusterEnv) nodeConf(n *Node) string {
	var b strings.Builder
	b.WriteString(e.serverConf(n))
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("cluster-enabled yes")
	line("cluster-config-file nodes.conf")
	line("cluster-port %d", n.BusPort)
	line("cluster-node-timeout %d", cmp.Or(e.cfg.nodeTimeout, DefaultNodeTimeout).Milliseconds())
	// A replica may take over however long its link was down: a test
	// kills masters on purpose.
	line("cluster-replica-validity-factor 0")
	if e.tls != nil {
		line("tls-cluster yes")
	}
	return b.String()
}

// cli runs redis-cli with the environment's credentials and TLS.
func (e *ClusterEnv) cli(args ...string) (string, error) {
	var pre []string
	if e.cfg.username != "" {
		pre = append(pre, "--user", e.cfg.username, "--pass", e.cfg.password)
	} else if e.cfg.password != "" {
		pre = append(pre, "-a", e.cfg.password)
	}
	if e.cfg.password != "" {
		pre = append(pre, "--no-auth-warning")
	}
	if e.tls != nil {
		pre = append(pre, "--tls", "--cacert", e.tls.CAFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", append(pre, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Addrs are every node's address (a cluster client's seed list).
func (e *ClusterEnv) Addrs() []string {
	addrs := make([]string, len(e.Nodes))
	for i, n := range e.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// ClusterOptions are a go-redis cluster client's options for the cluster,
// with the environment's credentials and TLS (go-redis's defaults
// otherwise).
func (e *ClusterEnv) ClusterOptions() *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Addrs:     e.Addrs(),
		Username:  e.Username(),
		Password:  e.Password(),
		TLSConfig: e.ClientTLS(),
	}
}

// Slot is the hash slot of key, as CLUSTER KEYSLOT computes it (CRC16 of
// the key's hash tag, or of the whole key, modulo 16384).
func Slot(key string) int {
	k := key
	if i := strings.IndexByte(k, '{'); i >= 0 {
		if j := strings.IndexByte(k[i+1:], '}'); j > 0 {
			k = k[i+1 : i+1+j]
		}
	}
	return int(crc16(k) % Slots)
}

// crc16 is CRC-16/XMODEM, the cluster's key hash.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// MasterOf is the node that served key's slot when the cluster was last
// seen healthy (at start, or after WaitHealthy or WaitFailover).
func (e *ClusterEnv) MasterOf(key string) *Node { return e.nodeByAddr(e.owners[Slot(key)]) }

// Masters are the nodes that served slots when the cluster was last seen
// healthy.
func (e *ClusterEnv) Masters() []*Node {
	var ms []*Node
	for _, n := range e.Nodes {
		if slices.Contains(e.owners, n.Addr) {
			ms = append(ms, n)
		}
	}
	return ms
}

// KillMaster kills, with SIGKILL, the master of slot 0 and returns its
// address, for WaitFailover.
func (e *ClusterEnv) KillMaster() string {
	e.t.Helper()
	n := e.nodeByAddr(e.owners[0])
	n.Kill()
	return n.Addr
}

// KillMasterOf kills the master of key's slot and returns its address.
func (e *ClusterEnv) KillMasterOf(key string) string {
	e.t.Helper()
	n := e.MasterOf(key)
	n.Kill()
	return n.Addr
}

// StopNode, KillNode, FreezeNode, ThawNode and RestartNode act on Nodes[i]
// (see Node's methods of the same names).
func (e *ClusterEnv) StopNode(i int)    { e.t.Helper(); e.Nodes[i].Stop() }
func (e *ClusterEnv) KillNode(i int)    { e.t.Helper(); e.Nodes[i].Kill() }
func (e *ClusterEnv) FreezeNode(i int)  { e.t.Helper(); e.Nodes[i].Freeze() }
func (e *ClusterEnv) ThawNode(i int)    { e.t.Helper(); e.Nodes[i].Thaw() }
func (e *ClusterEnv) RestartNode(i int) { e.t.Helper(); e.Nodes[i].Restart() }

// WaitFailover waits until every slot oldMaster served is served by another
// master in the view of every answering node, and the cluster is healthy
// in the sense of WaitHealthy except that the nodes that are down are
// left out; it returns the address of the master that took over oldMaster's
// first slot.
func (e *ClusterEnv) WaitFailover(oldMaster string) string {
	e.t.Helper()
	var oldSlots []int
	for s, o := range e.owners {
		if o == oldMaster {
			oldSlots = append(oldSlots, s)
		}
	}
	if len(oldSlots) == 0 {
		e.t.Fatalf("redisenv: WaitFailover: %s served no slot", oldMaster)
	}
	e.poll("cluster failover from "+oldMaster, failoverTimeout, func(ctx context.Context) error {
		owners, err := e.check(ctx, false)
		if err != nil {
			return err
		}
		for _, s := range oldSlots {
			if owners[s] == oldMaster {
				return fmt.Errorf("%s still serves slot %d", oldMaster, s)
			}
		}
		e.owners = owners
		return nil
	})
	return e.owners[oldSlots[0]]
}

// WaitHealthy waits until every answering node says cluster_state:ok with
// every slot served, every node agrees on which master serves each slot,
// each knows every node, and every answering replica's link to its master is
// up.
func (e *ClusterEnv) WaitHealthy() {
	e.t.Helper()
	e.poll("cluster healthy", readyTimeout, func(ctx context.Context) error {
		owners, err := e.check(ctx, true)
		if err == nil {
			e.owners = owners
		}
		return err
	})
}

// check asks every answering node for its view and returns the owner of
// each slot they agree on. all: every node must be answering and known as
// healthy by the others (no fail flags).
func (e *ClusterEnv) check(ctx context.Context, all bool) ([]string, error) {
	var agreed []string
	for _, n := range e.Nodes {
		if !n.answering() {
			if all {
				return nil, fmt.Errorf("%s is not answering", n.Name)
			}
			continue
		}
		c := n.Client()
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		if st := infoField(info, "cluster_state"); st != "ok" {
			return nil, fmt.Errorf("%s: cluster_state:%s", n.Name, st)
		}
		if ok := infoField(info, "cluster_slots_ok"); ok != strconv.Itoa(Slots) {
			return nil, fmt.Errorf("%s: cluster_slots_ok:%s", n.Name, ok)
		}
		if known := infoField(info, "cluster_known_nodes"); known != strconv.Itoa(len(e.Nodes)) {
			return nil, fmt.Errorf("%s: cluster_known_nodes:%s of %d", n.Name, known, len(e.Nodes))
		}
		text, err := c.ClusterNodes(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		owners, me, err := parseClusterNodes(text, all)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		if agreed != nil && !slices.Equal(agreed, owners) {
			return nil, fmt.Errorf("%s disagrees with other nodes on which master serves which slot", n.Name)
		}
		agreed = owners
		if me.replicaOf != "" {
			ri, err := c.Info(ctx, "replication").Result()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n.Name, err)
			}
			if st := infoField(ri, "master_link_status"); st != "up" {
				return nil, fmt.Errorf("%s: link to its master %s", n.Name, st)
			}
		}
	}
	if agreed == nil {
		return nil, fmt.Errorf("no node is answering")
	}
	return agreed, nil
}

type clusterNode struct {
	id, addr, replicaOf string
	flags               []string
}

// parseClusterNodes reads CLUSTER NODES: the address of each slot's master
// (every slot must have one, not flagged fail), and the asking node itself.
// strict: no node at all may be flagged fail or pfail.
func parseClusterNodes(text string, strict bool) ([]string, clusterNode, error) {
	owners := make([]string, Slots)
	var me clusterNode
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 {
			return nil, me, fmt.Errorf("CLUSTER NODES line %q", l)
		}
		// <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
		n := clusterNode{id: f[0], addr: strings.SplitN(strings.SplitN(f[1], ",", 2)[0], "@", 2)[0], flags: strings.Split(f[2], ",")}
		if f[3] != "-" {
			n.replicaOf = f[3]
		}
		if slices.Contains(n.flags, "myself") {
			me = n
		}
		failing := slices.Contains(n.flags, "fail") || slices.Contains(n.flags, "fail?")
		if strict && failing {
			return nil, me, fmt.Errorf("node %s is flagged %s", n.addr, f[2])
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue // a slot being migrated or imported
			}
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || a < 0 || b >= Slots || a > b {
				return nil, me, fmt.Errorf("slot range %q", r)
			}
			if failing {
				return nil, me, fmt.Errorf("slots %s are served by %s, flagged %s", r, n.addr, f[2])
			}
			for s := a; s <= b; s++ {
				owners[s] = n.addr
			}
		}
	}
	for s, o := range owners {
		if o == "" {
			return nil, me, fmt.Errorf("slot %d is not served", s)
		}
	}
	return owners, me, nil
}
