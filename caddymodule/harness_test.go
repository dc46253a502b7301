package caddymodule_test

// The test harness: a real Caddy in this process (loaded with caddy.Load,
// as `caddy run` does), real redis-server processes on loopback, and a
// real upstream that echoes what it received.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/redis/go-redis/v9"

	_ "github.com/passgate/caddy-passgate"
	"github.com/passgate/caddy-passgate/caddymodule"
)

const testSecret = "test-secret-0123456789abcdef-0123456789"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisServer is a private redis-server that a test may stop and start.
type redisServer struct {
	t      *testing.T
	port   int
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install it (apt-get install redis-server); the integration tests start their own")
	}
	rs := &redisServer{t: t, dir: t.TempDir()}
	// A free port can be taken by another process between freePort and
	// the server's bind; then the server exits, and another port is tried.
	for attempt := 1; ; attempt++ {
		rs.port = freePort(t)
		err := rs.tryStart()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("redis-server on port %d: %v; trying another port", rs.port, err)
	}
	t.Cleanup(rs.stop)
	return rs
}

func (rs *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", rs.port) }

// start runs the server again on its port, after stop.
func (rs *redisServer) start() {
	rs.t.Helper()
	if err := rs.tryStart(); err != nil {
		rs.t.Fatal(err)
	}
}

// tryStart runs the server with an append-only file, so that data survives
// a stop and start as it would in production, and waits until it is this
// server, not whatever else listens on the port, that answers.
func (rs *redisServer) tryStart() error {
	rs.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(rs.port), "--bind", "127.0.0.1",
		"--dir", rs.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	if err := rs.cmd.Start(); err != nil {
		return err
	}
	cmd, exited := rs.cmd, make(chan struct{})
	rs.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	c := rs.client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			rs.cmd = nil
			return fmt.Errorf("redis-server exited at start (port taken?)")
		default:
		}
		if info, err := c.Info(context.Background(), "server").Result(); err == nil {
			if !strings.Contains(info, fmt.Sprintf("process_id:%d\r", cmd.Process.Pid)) {
				rs.stopProcess()
				return fmt.Errorf("another server answers on port %d", rs.port)
			}
			return nil
		}
		if time.Now().After(deadline) {
			rs.stopProcess()
			return fmt.Errorf("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts the server down cleanly and waits for it to exit.
func (rs *redisServer) stop() {
	if rs.cmd == nil {
		return
	}
	c := rs.client()
	c.ShutdownSave(context.Background())
	c.Close()
	<-rs.exited
	rs.cmd = nil
}

// stopProcess kills a server that never became ours to talk to.
func (rs *redisServer) stopProcess() {
	rs.cmd.Process.Kill()
	<-rs.exited
	rs.cmd = nil
}

func (rs *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.port), MaxRetries: -1, DisableIdentity: true})
}

// passgateConnections counts the server's client connections named
// "passgate", the name passgate gives its own.
func (rs *redisServer) passgateConnections() int {
	rs.t.Helper()
	c := rs.client()
	defer c.Close()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		rs.t.Fatal(err)
	}
	return strings.Count(list, " name=passgate ")
}

// upstream echoes the request headers it got as JSON, and the trailers,
// which it reads the body for.
func startUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header, "trailers": r.Trailer})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gateway is one Caddy configuration running in this process.
type gateway struct {
	t        *testing.T
	port     int
	base     string // http://127.0.0.1:port
	logPath  string
	access   string
	upstream *httptest.Server
	store    string // the store line of the passgate block
	extra    string // more passgate subdirectives
	allow    string // the allow line; default: allow email *@example.com
	global   string // more global options
	msgs     *logMessages
}

// logMessages counts, per address, the log delivery's messages that
// starts are owed (expected) and that tests have read (taken), so that a
// test reading a code gets the one its start asked for, whose delivery
// ends after /start has answered.
type logMessages struct {
	mu       sync.Mutex
	expected map[string]int
	taken    map[string]int
}

func newLogMessages() *logMessages {
	return &logMessages{expected: map[string]int{}, taken: map[string]int{}}
}

type gatewayOption func(*gateway)

func withRedis(rs *redisServer) gatewayOption {
	return func(g *gateway) { g.store = "store redis " + rs.url() + " {\n prefix pgtest:\n timeout 1s\n}" }
}

// withGlobal adds lines to the global options block.
func withGlobal(lines string) gatewayOption {
	return func(g *gateway) { g.global = lines }
}

func withExtra(lines string) gatewayOption {
	return func(g *gateway) { g.extra = lines }
}

var caddyMu sync.Mutex // one in-process Caddy at a time

func startGateway(t *testing.T, opts ...gatewayOption) *gateway {
	t.Helper()
	caddyMu.Lock()
	// Registered first, so it runs last (after caddy.Stop below) and also
	// when something in between fails the test.
	t.Cleanup(caddyMu.Unlock)
	dir := t.TempDir()
	g := &gateway{
		t:        t,
		port:     freePort(t),
		logPath:  filepath.Join(dir, "caddy.log"),
		access:   filepath.Join(dir, "access.log"),
		upstream: startUpstream(t),
		store:    "store memory {\n prefix " + strings.ReplaceAll(t.Name(), "/", "-") + ":\n}",
		msgs:     newLogMessages(),
	}
	g.base = fmt.Sprintf("http://127.0.0.1:%d", g.port)
	for _, o := range opts {
		o(g)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Error(err)
		}
		caddymodule.ResetClock()
	})
	// As with Redis, the free port may be taken before Caddy binds it.
	for attempt := 1; ; attempt++ {
		err := g.tryLoad()
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("load: %v", err)
		}
		t.Logf("port %d: %v; trying another port", g.port, err)
		g.port = freePort(t)
		g.base = fmt.Sprintf("http://127.0.0.1:%d", g.port)
	}
	return g
}

func (g *gateway) caddyfile() string {
	return fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	log {
		output file %s
		format json
		level INFO
	}
	%s
}
http://127.0.0.1:%d {
	log {
		output file %s
		format json
	}
	passgate {
		secret %s
		%s
		email log
		%s
		role staff email *@example.com
		role admin email admin@example.com
		public /public/*
		cookie {
			insecure
		}
		%s
	}
	request_header X-Seen-Placeholder-Id {http.auth.user.id}
	request_header X-Seen-Placeholder-Email {http.auth.user.email}
	request_header X-Seen-Placeholder-Roles {http.auth.user.roles}
	reverse_proxy %s
}
`, g.logPath, g.global, g.port, g.access, testSecret, g.store, g.allowLine(), g.extra, strings.TrimPrefix(g.upstream.URL, "http://"))
}

func (g *gateway) allowLine() string {
	if g.allow == "" {
		return "allow email *@example.com"
	}
	return g.allow
}

// load (re)loads the configuration, as `caddy reload` does.
func (g *gateway) load() {
	g.t.Helper()
	if err := g.tryLoad(); err != nil {
		g.t.Fatalf("load: %v", err)
	}
}

func (g *gateway) tryLoad() error {
	g.t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(g.caddyfile())), nil)
	if err != nil {
		g.t.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		g.t.Logf("adapt warning: %v", w)
	}
	return caddy.Load(cfg, true)
}

// restart stops Caddy entirely and starts it again on the same config.
func (g *gateway) restart() {
	g.t.Helper()
	if err := caddy.Stop(); err != nil {
		g.t.Fatal(err)
	}
	// The clients' kept-alive connections (http.DefaultTransport's) were
	// to the stopped server; one reused before its close is seen gives
	// "connection reset", which is the harness's doing, not passgate's.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	g.load()
}

// client is one user agent, with its own cookies.
type client struct {
	t  *testing.T
	g  *gateway
	hc *http.Client
}

func (g *gateway) newClient() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: g.t, g: g, hc: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body is not JSON: %v: %q", r.status, err, r.body)
	}
	return m
}

// do sends a request; body, if a map, is sent as JSON, if a string as is.
func (c *client) do(method, path string, body any, header ...string) response {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
		ct = "application/json"
	}
	req, err := http.NewRequest(method, c.g.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// start asks for a code and returns the attempt id.
func (c *client) start(email string) string {
	c.t.Helper()
	r := c.do("POST", "/auth/start", map[string]any{"email": email, "redirect_to": "/app/next?x=1"})
	if r.status != 200 {
		c.t.Fatalf("start: %d %s", r.status, r.body)
	}
	m := c.g.msgs
	m.mu.Lock()
	m.expected[strings.ToLower(email)]++ // if the address may sign in
	m.mu.Unlock()
	return r.json(c.t)["attempt_id"].(string)
}

// signIn goes through start and verify with the code from the log. It
// first lets the resend cooldown pass, so one address can sign in on
// several clients in a row.
func (c *client) signIn(email string) map[string]any {
	c.t.Helper()
	caddymodule.AdvanceClock(61 * time.Second)
	id := c.start(email)
	r := c.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": c.g.codeFor(email)})
	if r.status != 200 {
		c.t.Fatalf("verify: %d %s", r.status, r.body)
	}
	return r.json(c.t)
}

// codeFor returns the code of the log delivery's next message to an
// address (see delivery).
func (g *gateway) codeFor(email string) string {
	g.t.Helper()
	return g.delivery(email)["code"].(string)
}

// linkFor returns the magic link of the next message to an address.
func (g *gateway) linkFor(email string) string {
	g.t.Helper()
	return g.delivery(email)["link"].(string)
}

// delivery returns the log line of the next message to an address that
// no test has read yet: the newest, once every start of the harness's
// (client.start) to the address has had its message. Messages go out
// after /start has answered, so it waits for them, up to 10 s.
func (g *gateway) delivery(email string) map[string]any {
	g.t.Helper()
	email = strings.ToLower(email)
	m := g.msgs
	m.mu.Lock()
	defer m.mu.Unlock()
	want := max(m.taken[email]+1, m.expected[email])
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []map[string]any
		for _, entry := range readLog(g.t, g.logPath) {
			if entry["code"] != nil && entry["to"] == email {
				got = append(got, entry)
			}
		}
		if len(got) >= want {
			m.taken[email] = len(got)
			return got[len(got)-1]
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%d of %d messages to %s in the log after 10s", len(got), want, email)
		}
		time.Sleep(5 * time.Millisecond) // polling a file; nothing to wait on
	}
}

// waitLog waits up to 10 s for n log lines with the message msg, and
// returns them: what a delivery does after /start has answered.
func (g *gateway) waitLog(msg string, n int) []map[string]any {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []map[string]any
		for _, entry := range readLog(g.t, g.logPath) {
			if entry["msg"] == msg {
				got = append(got, entry)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%d of %d %q log lines after 10s", len(got), n, msg)
		}
		time.Sleep(5 * time.Millisecond) // polling a file; nothing to wait on
	}
}

func readLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// echoed returns the headers the upstream received, from its echo.
func echoed(t *testing.T, r response) http.Header {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("upstream not reached: %d %s", r.status, r.body)
	}
	var e struct{ Headers http.Header }
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("upstream echo: %v: %s", err, r.body)
	}
	return e.Headers
}

// stallProxy relays TCP between passgate and a redis-server and can make
// Redis hang for one chosen call: while armed with a key, a connection
// that sends a command naming the key is stalled. That command and all
// that follows on the connection are held back from Redis (never run
// there) and nothing comes back, so the client meets a hung server on
// exactly that call and its store timeout turns it into ErrUnavailable.
// Other connections, and other calls before it, go through.
//
// It can also lose one reply (cutReplyOn): the chosen command reaches
// Redis and runs there, and the connection is dropped instead of passing
// the reply on, as when a network path fails at that moment.
type stallProxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Int32 // connections stalled so far
	cuts    atomic.Int32 // replies lost so far

	mu       sync.Mutex
	needle   []byte
	cutMatch func(cmd []byte) bool
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func startStallProxy(t *testing.T, rs *redisServer) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: fmt.Sprintf("127.0.0.1:%d", rs.port), conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) url() string { return "redis://" + p.ln.Addr().String() + "/0" }

// stallOn arms the proxy with a key; release disarms it (connections
// already stalled stay so until the client closes them).
func (p *stallProxy) stallOn(key string) { p.mu.Lock(); p.needle = []byte(key); p.mu.Unlock() }
func (p *stallProxy) release()           { p.mu.Lock(); p.needle = nil; p.mu.Unlock() }

func (p *stallProxy) armed() []byte { p.mu.Lock(); defer p.mu.Unlock(); return p.needle }

// cutReplyOn arms the proxy to lose the reply to the next command for
// which match holds (match sees one read of what the client sent, which
// on loopback is one whole command): the command goes on to Redis, which
// runs it, and the connection is closed before the reply reaches the
// client. A NOSCRIPT error reply (EVALSHA of a script Redis has not
// loaded: nothing ran, and the client sends EVAL next) passes. Once one
// reply is lost, the proxy disarms itself.
func (p *stallProxy) cutReplyOn(match func(cmd []byte) bool) {
	p.mu.Lock()
	p.cutMatch = match
	p.mu.Unlock()
}

func (p *stallProxy) cutArmed() func([]byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cutMatch
}

// cutDone disarms the cut; false if another connection's cut came first.
func (p *stallProxy) cutDone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutMatch == nil {
		return false
	}
	p.cutMatch = nil
	return true
}

// track registers conns for close; false once the proxy is closed.
func (p *stallProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *stallProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, u) {
			c.Close()
			u.Close()
			return
		}
		cut := new(atomic.Bool)
		p.wg.Go(func() { p.replies(c, u, cut) })
		p.wg.Go(func() { p.relay(c, u, cut) })
	}
}

// replies copies what Redis answers to the client, except the reply to a
// command cut is set for (see cutReplyOn).
func (p *stallProxy) replies(c, u net.Conn, cut *atomic.Bool) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			if cut.Load() && !bytes.HasPrefix(buf[:n], []byte("-NOSCRIPT")) && p.cutDone() {
				p.cuts.Add(1)
				u.Close()
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// relay copies what the client sends to Redis until it sends the armed
// key; from then on it reads and drops, until the client goes away. A
// command the cut matches is sent on with cut set, so that its reply is
// lost.
func (p *stallProxy) relay(c, u net.Conn, cut *atomic.Bool) {
	defer u.Close()
	defer c.Close()
	buf := make([]byte, 64<<10)
	var tail []byte // the end of what went before, for a key split across reads
	stalled := false
	for {
		n, err := c.Read(buf)
		if n > 0 && !stalled {
			seen := append(tail, buf[:n]...)
			if match := p.cutArmed(); match != nil && match(buf[:n]) {
				cut.Store(true) // before Redis can answer
			}
			if needle := p.armed(); needle != nil && bytes.Contains(seen, needle) {
				stalled = true
				p.stalled.Add(1)
			} else if _, werr := u.Write(buf[:n]); werr != nil {
				return
			} else {
				tail = append([]byte(nil), seen[max(0, len(seen)-256):]...)
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
