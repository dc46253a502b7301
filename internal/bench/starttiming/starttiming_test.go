package starttiming

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/passgate/caddy-passgate"
	"github.com/passgate/caddy-passgate/internal/testenv/smtptest"
)

// The classes of a start, by what an asker could learn:
const (
	allowed = iota // an address that may sign in: a message goes out
	refused        // one that may not: a decoy
	unknown        // one that may, asked with create_user false, with no user: a decoy
	known          // the same with a user: a message goes out
	control        // more addresses that may not sign in
	nClasses
)

var classNames = [nClasses]string{"allowed", "not allowed", "unknown, create_user false",
	"known, create_user false", "not allowed (control)"}

// The pairs compared: each real class against the decoys of the same
// request, and a control pair of two decoy classes that do not differ at
// all, which shows how often this machine's noise alone gives a small p
// (about 1 % of the time when all is well).
var pairs = [][2]int{{allowed, refused}, {allowed, unknown}, {known, unknown}, {refused, unknown}, {refused, control}}

// The receivers take as long as real ones to accept a message, each its
// own time, fairly steady: the SMTP server 35-45 ms, the SMS gateway (an
// internal service that queues for the SMS API) 5-15 ms. So a start that
// waited for a delivery would show, and so would a decoy imitating one
// channel's times on another (what passgate did before).
func smtpDelay() time.Duration { return 35*time.Millisecond + rand.N(10*time.Millisecond) }
func smsDelay() time.Duration  { return 5*time.Millisecond + rand.N(10*time.Millisecond) }

type setup struct {
	name     string
	channels []string
	email    func(t *testing.T) (line string, received func() int)
	sms      func(t *testing.T) (line string, received func() int)
}

func smtpEmail(t *testing.T) (string, func() int) {
	srv := smtptest.Start(t, smtptest.Options{Delay: smtpDelay, Discard: true})
	return fmt.Sprintf("email smtp %s {\n from \"Passgate <noreply@example.com>\"\n tls none\n timeout 10s\n}", srv.Addr), srv.Accepted
}

func logEmail(*testing.T) (string, func() int) { return "email log", nil }

func webhookSMS(t *testing.T) (string, func() int) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(smsDelay())
		got.Add(1)
	}))
	t.Cleanup(srv.Close)
	return fmt.Sprintf("sms webhook %s {\n secret sms-webhook-secret-0123456789\n timeout 10s\n}", srv.URL),
		func() int { return int(got.Load()) }
}

func TestStartTiming(t *testing.T) {
	if os.Getenv("PASSGATE_TIMING") == "" {
		t.Skip("a measurement, not a test: set PASSGATE_TIMING=1 to run it")
	}
	n := 100
	if v := os.Getenv("PASSGATE_TIMING_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			t.Fatalf("PASSGATE_TIMING_N=%q: want a number >= 10", v)
		}
	}
	setups := []setup{
		{name: "email log", channels: []string{"email"}, email: logEmail},
		{name: "email smtp", channels: []string{"email"}, email: smtpEmail},
		{name: "sms webhook", channels: []string{"phone"}, sms: webhookSMS},
		{name: "smtp + sms", channels: []string{"email", "phone"}, email: smtpEmail, sms: webhookSMS},
	}
	seed := rand.Uint64()
	t.Logf("shuffle seed %d, %d starts per class and channel", seed, n)
	order := rand.New(rand.NewPCG(seed, 0))
	var rows []string
	for i, s := range setups {
		rows = append(rows, measure(t, s, i, n, order)...)
	}
	fmt.Println("| configuration | phase | channel | classes A vs B | median A / B (µs) | Mann-Whitney p | band [p2.5, p97.5] of A holds A / B | within p > 0.01 and ±10 %? |")
	fmt.Println("|---|---|---|---|---|---:|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
}

// gateway is one Caddy configuration of the measurement.
type gateway struct {
	t       *testing.T
	name    string
	dir     string
	port    int
	prefix  string
	base    string
	client  *http.Client
	senders string
}

// config is the Caddyfile with the given sender lines. Every
// configuration of one measurement shares the memory store (its prefix),
// as a reload does. The resend cooldown is at its least, so that the users
// signed in beforehand (known) may be sent a code again 10 s later.
func (g *gateway) config(senders string) []byte {
	cfg := fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	log {
		output file %s
		format json
		level INFO
	}
}
http://127.0.0.1:%d {
	passgate {
		secret timing-secret-0123456789abcdef-0123456789
		store memory {
			prefix %s
		}
		%s
		allow email *@example.com
		allow phone +4479*
		limits {
			resend_cooldown 10s
			starts_per_ip 1000000 10m
			verifies_per_ip 1000000 10m
		}
		cookie {
			insecure
		}
	}
	respond "upstream"
}
`, filepath.Join(g.dir, "caddy.log"), g.port, g.prefix, senders)
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(cfg)), nil)
	if err != nil {
		g.t.Fatalf("%s: adapt: %v", g.name, err)
	}
	return adapted
}

// load loads a configuration, as a start or a reload does, and opens the
// connection the starts will use with a page that touches no sign-in
// state. A reload closes the old server's connections, one perhaps as it
// is taken, so that may take a second try.
func (g *gateway) load(cfg []byte) {
	if err := caddy.Load(cfg, true); err != nil {
		g.t.Fatalf("%s: load: %v", g.name, err)
	}
	for try := 1; ; try++ {
		g.client.CloseIdleConnections()
		resp, err := g.client.Get(g.base + "/auth/login")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		if try == 3 {
			g.t.Fatalf("%s: %v", g.name, err)
		}
	}
}

func (g *gateway) post(path string, body []byte) (int, map[string]any) {
	resp, err := g.client.Post(g.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		g.t.Fatalf("%s: %s: %v", g.name, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// signUp makes the users of the known class (2n per channel: one set per
// phase), through a configuration that writes codes to the log; then
// waits out their resend cooldown.
func (g *gateway) signUp(channels []string, n int) {
	var senders []string
	for _, ch := range channels {
		senders = append(senders, map[string]string{"email": "email log", "phone": "sms log"}[ch])
	}
	g.load(g.config(strings.Join(senders, "\n")))
	attempts := map[string]string{} // identifier -> attempt id
	for _, ch := range channels {
		for i := range 2 * n {
			body := startBody(ch, known, i)
			status, out := g.post("/auth/start", []byte(strings.Replace(string(body), `,"create_user":false`, "", 1)))
			if status != 200 {
				g.t.Fatalf("%s: sign-up start: %d %v", g.name, status, out)
			}
			attempts[identifier(body)] = out["attempt_id"].(string)
		}
	}
	cooled := time.Now().Add(10*time.Second + 100*time.Millisecond)
	codes := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for len(codes) < len(attempts) {
		if time.Now().After(deadline) {
			g.t.Fatalf("%s: %d of %d sign-up codes in the log", g.name, len(codes), len(attempts))
		}
		time.Sleep(20 * time.Millisecond)
		codes = g.loggedCodes()
	}
	for idf, id := range attempts {
		body, _ := json.Marshal(map[string]string{"attempt_id": id, "code": codes[idf]})
		if status, out := g.post("/auth/verify", body); status != 200 {
			g.t.Fatalf("%s: sign-up verify %s: %d %v", g.name, idf, status, out)
		}
	}
	time.Sleep(time.Until(cooled))
}

// loggedCodes reads the log delivery's codes, by address.
func (g *gateway) loggedCodes() map[string]string {
	f, err := os.Open(filepath.Join(g.dir, "caddy.log"))
	if err != nil {
		g.t.Fatal(err)
	}
	defer f.Close()
	codes := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct{ To, Code string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Code != "" {
			codes[e.To] = e.Code
		}
	}
	return codes
}

// measure runs one configuration: loaded for the first time (after the
// sign-ups, on their store), then reloaded, each time n starts per class
// and channel in one random order.
func measure(t *testing.T, s setup, idx, n int, order *rand.Rand) []string {
	g := &gateway{t: t, name: s.name, dir: t.TempDir(), port: freePort(t),
		prefix: fmt.Sprintf("timing%d-%d:", idx, time.Now().UnixNano()),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}}
	g.base = fmt.Sprintf("http://127.0.0.1:%d", g.port)
	t.Cleanup(func() { caddy.Stop() })
	var lines []string
	var received []func() int
	for _, f := range []func(*testing.T) (string, func() int){s.email, s.sms} {
		if f == nil {
			continue
		}
		line, got := f(t)
		lines = append(lines, line)
		if got != nil {
			received = append(received, got)
		}
	}
	g.signUp(s.channels, n)
	cfg := g.config(strings.Join(lines, "\n"))

	var rows []string
	sent := 0 // real deliveries asked for so far, per channel
	for phase, name := range []string{"first load", "after reload"} {
		g.load(cfg)
		type job struct {
			channel    string
			class, idx int
		}
		var jobs []job
		for _, ch := range s.channels {
			for c := range nClasses {
				for i := range n {
					jobs = append(jobs, job{ch, c, phase*n + i})
				}
			}
		}
		order.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
		times := map[string][][]float64{}
		for _, ch := range s.channels {
			times[ch] = make([][]float64, nClasses)
		}
		for _, j := range jobs {
			body := startBody(j.channel, j.class, j.idx)
			began := time.Now()
			resp, err := g.client.Post(g.base+"/auth/start", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: start: %v", s.name, err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(began)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: start %s: %d %s", s.name, body, resp.StatusCode, out)
			}
			times[j.channel][j.class] = append(times[j.channel][j.class], float64(took.Microseconds()))
		}
		// Every message delivered before the next phase, so that the
		// phases do not overlap.
		sent += 2 * n // allowed and known
		for k, got := range received {
			deadline := time.Now().Add(60 * time.Second)
			for got() < sent {
				if time.Now().After(deadline) {
					t.Fatalf("%s: receiver %d got %d of %d messages", s.name, k, got(), sent)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		for _, ch := range s.channels {
			rows = append(rows, compare(s.name, name, ch, times[ch])...)
		}
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	g.client.CloseIdleConnections()
	return rows
}

// startBody asks for a code for the i-th address of a class.
func startBody(channel string, class, i int) []byte {
	email := map[int]string{
		allowed: `"email":"allowed%d@example.com"`,
		refused: `"email":"refused%d@elsewhere.example"`,
		unknown: `"email":"unknown%d@example.com","create_user":false`,
		known:   `"email":"known%d@example.com","create_user":false`,
		control: `"email":"control%d@elsewhere.example"`,
	}
	phone := map[int]string{
		allowed: `"phone":"+44794600%04d"`,
		refused: `"phone":"+1202555%04d"`,
		unknown: `"phone":"+44794610%04d","create_user":false`,
		known:   `"phone":"+44794620%04d","create_user":false`,
		control: `"phone":"+1202556%04d"`,
	}
	f := email[class]
	if channel == "phone" {
		f = phone[class]
	}
	return []byte("{" + fmt.Sprintf(f, i) + "}")
}

// identifier is the address or number in a start's body.
func identifier(body []byte) string {
	var b struct{ Email, Phone string }
	json.Unmarshal(body, &b)
	return b.Email + b.Phone
}

func compare(setup, phase, channel string, times [][]float64) []string {
	var rows []string
	for _, pair := range pairs {
		a, b := times[pair[0]], times[pair[1]]
		_, p := MannWhitney(a, b)
		lo, hi := Quantile(a, 0.025), Quantile(a, 0.975)
		ca, cb := Coverage(a, lo, hi), Coverage(b, lo, hi)
		ok := "yes"
		if p <= 0.01 || cb < ca-0.10 || cb > ca+0.10 {
			ok = "**no**"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s vs %s | %.0f / %.0f | %.3g | %.0f %% / %.0f %% | %s |",
			setup, phase, channel, classNames[pair[0]], classNames[pair[1]], Quantile(a, 0.5), Quantile(b, 0.5),
			p, 100*ca, 100*cb, ok))
	}
	return rows
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
