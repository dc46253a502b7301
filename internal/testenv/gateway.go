// Package testenv is the test environment every front door's tests share:
// a real Caddy in this process (loaded with caddy.Load, as `caddy run`
// does), real redis-server processes on loopback, a real upstream that
// echoes what it received, and a TCP relay that makes Redis hang or lose
// a reply on a chosen call.
package testenv

// The test harness: a real Caddy in this process (loaded with caddy.Load,
// as `caddy run` does), real redis-server processes on loopback, and a
// real upstream that echoes what it received.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/redis/go-redis/v9"

	_ "github.com/passgate/caddy-passgate"
	"github.com/passgate/caddy-passgate/internal/clock"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// Secret is the gateways' secret.
const Secret = "test-secret-0123456789abcdef-0123456789"

// FreePort returns a TCP port free on loopback a moment ago.
func FreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Redis is a private redis-server that a test may stop and start.
type Redis struct {
	T      *testing.T
	Port   int
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

func StartRedis(t *testing.T) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: install it (apt-get install redis-server); the integration tests start their own")
	}
	rs := &Redis{T: t, dir: t.TempDir()}
	// A free port can be taken by another process between freePort and
	// the server's bind; then the server exits, and another port is tried.
	for attempt := 1; ; attempt++ {
		rs.Port = FreePort(t)
		err := rs.tryStart()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("redis-server on port %d: %v; trying another port", rs.Port, err)
	}
	t.Cleanup(rs.Stop)
	return rs
}

func (rs *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", rs.Port) }

// Start runs the server again on its port, after stop.
func (rs *Redis) Start() {
	rs.T.Helper()
	if err := rs.tryStart(); err != nil {
		rs.T.Fatal(err)
	}
}

// tryStart runs the server with an append-only file, so that data survives
// a stop and start as it would in production, and waits until it is this
// server, not whatever else listens on the port, that answers.
func (rs *Redis) tryStart() error {
	rs.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(rs.Port), "--bind", "127.0.0.1",
		"--dir", rs.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	if err := rs.cmd.Start(); err != nil {
		return err
	}
	cmd, exited := rs.cmd, make(chan struct{})
	rs.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	c := rs.Client()
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
				rs.StopProcess()
				return fmt.Errorf("another server answers on port %d", rs.Port)
			}
			return nil
		}
		if time.Now().After(deadline) {
			rs.StopProcess()
			return fmt.Errorf("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down cleanly and waits for it to exit.
func (rs *Redis) Stop() {
	if rs.cmd == nil {
		return
	}
	c := rs.Client()
	c.ShutdownSave(context.Background())
	c.Close()
	<-rs.exited
	rs.cmd = nil
}

// StopProcess kills a server that never became ours to talk to.
func (rs *Redis) StopProcess() {
	rs.cmd.Process.Kill()
	<-rs.exited
	rs.cmd = nil
}

func (rs *Redis) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.Port), MaxRetries: -1, DisableIdentity: true})
}

// PassgateConnections counts the server's client connections named
// "passgate", the name passgate gives its own.
func (rs *Redis) PassgateConnections() int {
	rs.T.Helper()
	c := rs.Client()
	defer c.Close()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		rs.T.Fatal(err)
	}
	return strings.Count(list, " name=passgate ")
}

// upstream echoes the request headers it got as JSON, and the trailers,
// which it reads the body for.
func StartUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header, "trailers": r.Trailer})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Gateway is one Caddy configuration running in this process.
type Gateway struct {
	T         *testing.T
	Port      int
	Base      string // http://127.0.0.1:port
	LogPath   string // Caddy's log
	AccessLog string
	Upstream  *httptest.Server
	Store     string // the store line of the passgate block
	Extra     string // more passgate subdirectives
	Allow     string // the allow line; default: allow email *@example.com
	Global    string // more global options
	// Admin is the admin endpoint's address (with /metrics on it); ""
	// turns it off.
	Admin string
	msgs  *logMessages
	// loadedAt is when this process last loaded a config (see Client.Do).
	loadedAt time.Time
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

type Option func(*Gateway)

func WithRedis(rs *Redis) Option {
	return func(g *Gateway) { g.Store = "store redis " + rs.URL() + " {\n prefix pgtest:\n timeout 1s\n}" }
}

// WithAdmin turns the admin endpoint on, on a free port, with Caddy's
// metrics (and passgate's) on it.
func WithAdmin() Option {
	return func(g *Gateway) { g.Admin = fmt.Sprintf("127.0.0.1:%d", FreePort(g.T)) }
}

func (g *Gateway) adminLine() string {
	if g.Admin == "" {
		return "admin off"
	}
	return "admin " + g.Admin + "\n\tmetrics"
}

// WithGlobal adds lines to the global options block.
func WithGlobal(lines string) Option {
	return func(g *Gateway) { g.Global = lines }
}

func WithExtra(lines string) Option {
	return func(g *Gateway) { g.Extra = lines }
}

var caddyMu sync.Mutex // one in-process Caddy at a time

func StartGateway(t *testing.T, opts ...Option) *Gateway {
	t.Helper()
	caddyMu.Lock()
	// Registered first, so it runs last (after caddy.Stop below) and also
	// when something in between fails the test.
	t.Cleanup(caddyMu.Unlock)
	dir := t.TempDir()
	g := &Gateway{
		T:         t,
		Port:      FreePort(t),
		LogPath:   filepath.Join(dir, "caddy.log"),
		AccessLog: filepath.Join(dir, "access.log"),
		Upstream:  StartUpstream(t),
		Store:     "store memory {\n prefix " + strings.ReplaceAll(t.Name(), "/", "-") + ":\n}",
		msgs:      newLogMessages(),
	}
	g.Base = fmt.Sprintf("http://127.0.0.1:%d", g.Port)
	for _, o := range opts {
		o(g)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Error(err)
		}
		clock.Reset()
	})
	// As with Redis, the free port may be taken before Caddy binds it.
	for attempt := 1; ; attempt++ {
		err := g.TryLoad()
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("load: %v", err)
		}
		t.Logf("port %d: %v; trying another port", g.Port, err)
		g.Port = FreePort(t)
		g.Base = fmt.Sprintf("http://127.0.0.1:%d", g.Port)
	}
	return g
}

func (g *Gateway) Caddyfile() string {
	return fmt.Sprintf(`{
	%s
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
`, g.adminLine(), g.LogPath, g.Global, g.Port, g.AccessLog, Secret, g.Store, g.allowLine(), g.Extra, strings.TrimPrefix(g.Upstream.URL, "http://"))
}

func (g *Gateway) allowLine() string {
	if g.Allow == "" {
		return "allow email *@example.com"
	}
	return g.Allow
}

// Load (re)loads the configuration, as `caddy reload` does.
func (g *Gateway) Load() {
	g.T.Helper()
	if err := g.TryLoad(); err != nil {
		g.T.Fatalf("load: %v", err)
	}
}

func (g *Gateway) TryLoad() error {
	g.T.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(g.Caddyfile())), nil)
	if err != nil {
		g.T.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		g.T.Logf("adapt warning: %v", w)
	}
	err = caddy.Load(cfg, true)
	g.loadedAt = time.Now()
	// A reload shuts the old server down, closing its kept-alive
	// connections (http.DefaultTransport's); one reused before its close
	// is seen fails with EOF or "connection reset", which is the
	// harness's doing, not passgate's.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	return err
}

// Restart stops Caddy entirely and starts it again on the same config.
func (g *Gateway) Restart() {
	g.T.Helper()
	if err := caddy.Stop(); err != nil {
		g.T.Fatal(err)
	}
	g.Load()
}

// Client is one user agent, with its own cookies.
type Client struct {
	T  *testing.T
	G  *Gateway
	HC *http.Client
}

func (g *Gateway) NewClient() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: g.T, G: g, HC: &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r Response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("status %d, body is not JSON: %v: %q", r.Status, err, r.Body)
	}
	return m
}

// Do sends a request; body, if a map, is sent as JSON, if a string as is.
func (c *Client) Do(method, path string, body any, header ...string) Response {
	c.T.Helper()
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
	req, err := http.NewRequest(method, c.G.Base+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.HC.Do(req)
	// A reload's old server stops accepting only after caddy.Load has
	// returned: a connection it accepted meanwhile is closed unanswered.
	// That is Caddy's reload, not passgate, so such a request is sent once
	// more, on a new connection.
	if err != nil && time.Since(c.G.loadedAt) < 2*time.Second && connDropped(err) {
		c.T.Logf("%s %s: %v just after a reload; sending it again", method, path, err)
		if req.GetBody != nil {
			req.Body, _ = req.GetBody()
		}
		resp, err = c.HC.Do(req)
	}
	if err != nil {
		c.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func connDropped(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// Start asks for a code and returns the attempt id.
func (c *Client) Start(email string) string {
	c.T.Helper()
	r := c.Do("POST", "/auth/start", map[string]any{"email": email, "redirect_to": "/app/next?x=1"})
	if r.Status != 200 {
		c.T.Fatalf("start: %d %s", r.Status, r.Body)
	}
	m := c.G.msgs
	m.mu.Lock()
	m.expected[strings.ToLower(email)]++ // if the address may sign in
	m.mu.Unlock()
	return r.JSON(c.T)["attempt_id"].(string)
}

// SignIn goes through start and verify with the code from the log. It
// first lets the resend cooldown pass, so one address can sign in on
// several clients in a row.
func (c *Client) SignIn(email string) map[string]any {
	c.T.Helper()
	clock.Advance(61 * time.Second)
	id := c.Start(email)
	r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": c.G.CodeFor(email)})
	if r.Status != 200 {
		c.T.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	return r.JSON(c.T)
}

// CodeFor returns the code of the log delivery's next message to an
// address (see delivery).
func (g *Gateway) CodeFor(email string) string {
	g.T.Helper()
	return g.Delivery(email)["code"].(string)
}

// LinkFor returns the magic link of the next message to an address.
func (g *Gateway) LinkFor(email string) string {
	g.T.Helper()
	return g.Delivery(email)["link"].(string)
}

// Delivery returns the log line of the next message to an address that
// no test has read yet: the newest, once every start of the harness's
// (client.start) to the address has had its message. Messages go out
// after /start has answered, so it waits for them, up to 10 s.
func (g *Gateway) Delivery(email string) map[string]any {
	g.T.Helper()
	email = strings.ToLower(email)
	m := g.msgs
	m.mu.Lock()
	defer m.mu.Unlock()
	want := max(m.taken[email]+1, m.expected[email])
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []map[string]any
		for _, entry := range ReadLog(g.T, g.LogPath) {
			if entry["code"] != nil && entry["to"] == email {
				got = append(got, entry)
			}
		}
		if len(got) >= want {
			m.taken[email] = len(got)
			return got[len(got)-1]
		}
		if time.Now().After(deadline) {
			g.T.Fatalf("%d of %d messages to %s in the log after 10s", len(got), want, email)
		}
		time.Sleep(5 * time.Millisecond) // polling a file; nothing to wait on
	}
}

// WaitLog waits up to 10 s for n log lines with the message msg, and
// returns them: what a delivery does after /start has answered.
func (g *Gateway) WaitLog(msg string, n int) []map[string]any {
	g.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []map[string]any
		for _, entry := range ReadLog(g.T, g.LogPath) {
			if entry["msg"] == msg {
				got = append(got, entry)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			g.T.Fatalf("%d of %d %q log lines after 10s", len(got), n, msg)
		}
		time.Sleep(5 * time.Millisecond) // polling a file; nothing to wait on
	}
}

func ReadLog(t *testing.T, path string) []map[string]any {
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

// Echoed returns the headers the upstream received, from its echo.
func Echoed(t *testing.T, r Response) http.Header {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("upstream not reached: %d %s", r.Status, r.Body)
	}
	var e struct{ Headers http.Header }
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("upstream echo: %v: %s", err, r.Body)
	}
	return e.Headers
}

// StallProxy relays TCP between passgate and a redis-server and can make
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
type StallProxy struct {
	ln      net.Listener
	target  string
	Stalled atomic.Int32 // connections stalled so far
	cuts    atomic.Int32 // replies lost so far

	mu       sync.Mutex
	needle   []byte
	cutMatch func(cmd []byte) bool
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func StartStallProxy(t *testing.T, rs *Redis) *StallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &StallProxy{ln: ln, target: fmt.Sprintf("127.0.0.1:%d", rs.Port), conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

func (p *StallProxy) URL() string { return "redis://" + p.ln.Addr().String() + "/0" }

// StallOn arms the proxy with a key; release disarms it (connections
// already stalled stay so until the client closes them).
func (p *StallProxy) StallOn(key string) { p.mu.Lock(); p.needle = []byte(key); p.mu.Unlock() }
func (p *StallProxy) Release()           { p.mu.Lock(); p.needle = nil; p.mu.Unlock() }

func (p *StallProxy) Armed() []byte { p.mu.Lock(); defer p.mu.Unlock(); return p.needle }

// CutReplyOn arms the proxy to lose the reply to the next command for
// which match holds (match sees one read of what the client sent, which
// on loopback is one whole command): the command goes on to Redis, which
// runs it, and the connection is closed before the reply reaches the
// Client. A NOSCRIPT error reply (EVALSHA of a script Redis has not
// loaded: nothing ran, and the client sends EVAL next) passes. Once one
// reply is lost, the proxy disarms itself.
func (p *StallProxy) CutReplyOn(match func(cmd []byte) bool) {
	p.mu.Lock()
	p.cutMatch = match
	p.mu.Unlock()
}

func (p *StallProxy) CutArmed() func([]byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cutMatch
}

// CutDone disarms the cut; false if another connection's cut came first.
func (p *StallProxy) CutDone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutMatch == nil {
		return false
	}
	p.cutMatch = nil
	return true
}

// track registers conns for close; false once the proxy is closed.
func (p *StallProxy) track(conns ...net.Conn) bool {
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

func (p *StallProxy) accept() {
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
func (p *StallProxy) replies(c, u net.Conn, cut *atomic.Bool) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			if cut.Load() && !bytes.HasPrefix(buf[:n], []byte("-NOSCRIPT")) && p.CutDone() {
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
func (p *StallProxy) relay(c, u net.Conn, cut *atomic.Bool) {
	defer u.Close()
	defer c.Close()
	buf := make([]byte, 64<<10)
	var tail []byte // the end of what went before, for a key split across reads
	stalled := false
	for {
		n, err := c.Read(buf)
		if n > 0 && !stalled {
			seen := append(tail, buf[:n]...)
			if match := p.CutArmed(); match != nil && match(buf[:n]) {
				cut.Store(true) // before Redis can answer
			}
			if needle := p.Armed(); needle != nil && bytes.Contains(seen, needle) {
				stalled = true
				p.Stalled.Add(1)
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

func (p *StallProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// SignInTokens signs in through /verify with "tokens": true, after letting
// the resend cooldown pass.
func (c *Client) SignInTokens(email string) map[string]any {
	c.T.Helper()
	clock.Advance(61 * time.Second)
	id := c.Start(email)
	r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": c.G.CodeFor(email), "tokens": true})
	if r.Status != 200 {
		c.T.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	return r.JSON(c.T)
}

// Refresh asks /token for a new pair with the refresh token tok.
func (c *Client) Refresh(tok any) Response {
	c.T.Helper()
	return c.Do("POST", "/auth/token", map[string]any{"refresh_token": tok})
}

// LogHas reports whether s appears anywhere in Caddy's log.
func (g *Gateway) LogHas(s string) bool {
	for _, e := range ReadLog(g.T, g.LogPath) {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

// WaitSubscribed waits until a passgate connection is subscribed to the
// invalidation channel.
func (rs *Redis) WaitSubscribed() {
	rs.T.Helper()
	c := rs.Client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := c.PubSubNumSub(context.Background(), redisstore.InvalidationChannel).Result()
		if err != nil {
			rs.T.Fatal(err)
		}
		if n[redisstore.InvalidationChannel] > 0 {
			return
		}
		if time.Now().After(deadline) {
			rs.T.Fatal("no passgate subscription to the invalidation channel within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling Redis; nothing to wait on
	}
}

// Twin returns g's configuration on another free port, with logs of its
// own and not loaded: for a second instance sharing g's store (the built
// binary, say).
func (g *Gateway) Twin(t *testing.T) *Gateway {
	dir := t.TempDir()
	o := *g
	o.T = t
	o.Port = FreePort(t)
	o.Base = fmt.Sprintf("http://127.0.0.1:%d", o.Port)
	o.LogPath = filepath.Join(dir, "caddy.log")
	o.AccessLog = filepath.Join(dir, "access.log")
	o.msgs = newLogMessages()
	if o.Admin != "" {
		// An admin endpoint of its own: two cannot share an address.
		o.Admin = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	}
	return &o
}

// Freeze stops the server's process (SIGSTOP): it keeps its connections
// and answers nothing, as a hung server does. Thaw resumes it.
func (rs *Redis) Freeze() {
	if err := rs.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		rs.T.Fatal(err)
	}
}

// Thaw resumes a frozen server.
func (rs *Redis) Thaw() {
	if err := rs.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		rs.T.Fatal(err)
	}
}

// Cuts is how many replies CutReplyOn has lost so far.
func (p *StallProxy) Cuts() int32 { return p.cuts.Load() }
