package redisenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Node is one redis-server process: a data server (standalone, a member of
// a Sentinel group, or a cluster node) or a sentinel. Its port, directory
// and configuration file stay the same across Stop and Restart, so the
// other members find it where they left it.
type Node struct {
	// Name says what the node was made as, for logs: "master", "replica-1",
	// "sentinel-2", "node-3".
	Name string
	// Addr is host:port of the port clients use (the TLS port with WithTLS).
	Addr string
	Port int
	// BusPort is the cluster bus port (cluster nodes only).
	BusPort int
	// ID is the cluster node ID (cluster nodes only).
	ID string
	// Dir holds the node's configuration file, its log (redis.log) and its
	// data files.
	Dir string

	env      *common
	sentinel bool
	conf     func() string // the configuration file's text, for the current ports

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	frozen bool
	admin  *redis.Client
}

// PID is the process ID, or 0 while the node is stopped.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Running reports whether the process is alive (a frozen one is).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runningLocked()
}

func (n *Node) runningLocked() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Frozen reports whether the process is stopped by SIGSTOP.
func (n *Node) Frozen() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.frozen && n.runningLocked()
}

// answering: running and not frozen, so that it can be asked things.
func (n *Node) answering() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.frozen && n.runningLocked()
}

// Client is a client of this node alone, with the environment's credentials
// (the sentinel password for a sentinel) and TLS. It never re-sends a
// command and gives up quickly. It is closed when the test ends.
func (n *Node) Client() *redis.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.admin == nil {
		o := n.env.nodeOptions(n.Addr, n.sentinel)
		n.admin = redis.NewClient(o)
	}
	return n.admin
}

// Kill ends the process with SIGKILL, as a crash would, and waits until it
// has exited.
func (n *Node) Kill() {
	n.env.t.Helper()
	n.signalGroup(syscall.SIGKILL)
	n.wait()
}

// Stop shuts the process down with SIGTERM, as an operator would, and waits
// until it has exited.
func (n *Node) Stop() {
	n.env.t.Helper()
	n.mu.Lock()
	frozen := n.frozen
	n.mu.Unlock()
	if frozen {
		n.Thaw()
	}
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	// Only the server itself: a child it forked (a sync) ends with it.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		n.env.t.Errorf("redisenv: %s (%s) did not exit within 30s of SIGTERM; killing it", n.Name, n.Addr)
		n.signalGroup(syscall.SIGKILL)
	}
	n.wait()
}

// Freeze stops the process with SIGSTOP: it keeps its port and connections
// but answers nothing, as a hung server or a partition would.
func (n *Node) Freeze() {
	n.env.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		n.env.t.Fatalf("redisenv: Freeze %s (%s): not running", n.Name, n.Addr)
	}
	if err := syscall.Kill(-n.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		n.env.t.Fatalf("redisenv: Freeze %s: %v", n.Name, err)
	}
	n.frozen = true
}

// Thaw resumes a frozen process with SIGCONT.
func (n *Node) Thaw() {
	n.env.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGCONT)
	}
	n.frozen = false
}

// Restart starts a stopped or killed node again on the same port, with the
// same directory and configuration, and waits until it answers. A running
// node is killed first.
func (n *Node) Restart() {
	n.env.t.Helper()
	if n.Running() {
		n.Kill()
	}
	if err := n.start(); err != nil {
		n.env.t.Fatalf("redisenv: restart %s (%s): %v", n.Name, n.Addr, err)
	}
}

func (n *Node) signalGroup(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	// The process group: the server and any child it forked for a sync or
	// a rewrite. SIGKILL also ends a frozen process.
	_ = syscall.Kill(-n.cmd.Process.Pid, sig)
}

// wait waits for the process to exit and forgets it.
func (n *Node) wait() {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return
	}
	<-exited
	n.mu.Lock()
	n.cmd, n.exited, n.frozen = nil, nil, false
	if n.admin != nil {
		// Its connections are dead; a new client starts clean.
		_ = n.admin.Close()
		n.admin = nil
	}
	n.mu.Unlock()
}

// errPortTaken: the server could not bind, so the caller may pick other
// ports and try again.
var errPortTaken = errors.New("port taken")

// start writes the configuration, runs redis-server and waits until this
// process, not another one on the port, answers.
func (n *Node) start() error {
	conf := filepath.Join(n.Dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(n.conf()), 0o600); err != nil {
		return err
	}
	args := []string{conf}
	if n.sentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = n.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so that a kill reaches its children too; and
		// killed with the test binary, so that a test that times out
		// leaves no server behind.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if err := spawn(cmd); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited, n.frozen = cmd, exited, false
	n.mu.Unlock()

	// A plain TCP dial until the port is open: failed dials would put the
	// go-redis pool into its dial back-off (a second between tries).
	c := redis.NewClient(n.env.nodeOptions(n.Addr, n.sentinel))
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		if conn, err := net.DialTimeout("tcp", n.Addr, time.Second); err == nil {
			conn.Close()
			break
		}
		select {
		case <-exited:
		case <-time.After(5 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
		}
		break
	}
	for {
		select {
		case <-exited:
			n.mu.Lock()
			n.cmd, n.exited = nil, nil
			n.mu.Unlock()
			log := n.logTail()
			if strings.Contains(log, "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("redis-server exited at start: %s%s", out.String(), log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.Info(ctx, "server").Result()
		cancel()
		if err == nil {
			if !strings.Contains(info, "process_id:"+strconv.Itoa(cmd.Process.Pid)+"\r") {
				n.signalGroup(syscall.SIGKILL)
				n.wait()
				return fmt.Errorf("%w: another server answers on %s", errPortTaken, n.Addr)
			}
			return nil
		}
		if time.Now().After(deadline) {
			n.signalGroup(syscall.SIGKILL)
			n.wait()
			return fmt.Errorf("no answer within %v (last error: %v)%s", startTimeout, err, n.logTail())
		}
		time.Sleep(pollInterval)
	}
}

// logTail is the end of the node's log, for error messages.
func (n *Node) logTail() string {
	b, err := os.ReadFile(filepath.Join(n.Dir, "redis.log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n--- " + n.Name + " redis.log (end) ---\n" + string(b)
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds; start then reports errPortTaken.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// spawn starts cmd from one OS thread that never exits: Pdeathsig fires
// when the thread that forked the child ends, not the process, and Go may
// end threads.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread()
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd, done}
	return <-done
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)
