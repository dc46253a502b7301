package wacht_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

// site is one Caddy in this process with the Wacht door, set up as
// docs/compat.md shows: a route block in which the root JWKS and token
// routes are rewritten to the door before passgate, then the upstream.
type site struct {
	*testenv.Gateway
	api string // the Wacht door's URL: Base + /wacht
}

type siteOptions struct {
	secure bool     // no `cookie { insecure }`
	cors   []string // cors origins
	extra  string   // more passgate lines
	origin string   // compat wacht origin; "-" for none
	noSMS  bool     // no SMS delivery
	store  string   // the store line; default: memory
}

func startSite(t *testing.T, o siteOptions) *site {
	t.Helper()
	dir := t.TempDir()
	g := &testenv.Gateway{T: t, LogPath: filepath.Join(dir, "caddy.log"), Upstream: testenv.StartUpstream(t)}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Error(err)
		}
		clock.Reset()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	for try := 1; ; try++ {
		g.Port = testenv.FreePort(t)
		g.Base = fmt.Sprintf("http://127.0.0.1:%d", g.Port)
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(o.caddyfile(g))), nil)
		if err != nil {
			t.Fatalf("adapt: %v\n%s", err, o.caddyfile(g))
		}
		err = caddy.Load(cfg, true)
		if err == nil {
			break
		}
		if try == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("load: %v", err)
		}
	}
	return &site{Gateway: g, api: g.Base + "/wacht"}
}

func (o siteOptions) caddyfile(g *testenv.Gateway) string {
	var lines []string
	if !o.secure {
		lines = append(lines, "cookie {\n insecure\n}")
	}
	if len(o.cors) > 0 {
		lines = append(lines, "cors "+strings.Join(o.cors, " "))
	}
	origin := g.Base
	switch o.origin {
	case "-":
		origin = ""
	case "":
	default:
		origin = o.origin
	}
	if origin != "" {
		lines = append(lines, "compat wacht {\n origin "+origin+"\n}")
	} else {
		lines = append(lines, "compat wacht")
	}
	if o.store == "" {
		o.store = "store memory {\n prefix " + strings.NewReplacer("/", "-", " ", "-").Replace(g.T.Name()) + ":\n}"
	}
	lines = append(lines, o.extra, o.store)
	sms := "sms log"
	if o.noSMS {
		sms = ""
	}
	return fmt.Sprintf(`{
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
	route {
		rewrite /.well-known/jwks.json /wacht/.well-known/jwks.json
		rewrite /session/token /wacht/session/token
		passgate {
			secret %s
			email log
			%s
			allow email *@example.com
			allow phone +44*
			limits {
				resend_cooldown 10s
			}
			%s
		}
		reverse_proxy %s
	}
}
`, g.LogPath, g.Port, testenv.Secret, sms, strings.Join(lines, "\n"), strings.TrimPrefix(g.Upstream.URL, "http://"))
}

// message waits for the log delivery's newest message to an address after
// the n-th (0: the first), and returns it.
func (s *site) message(to string, n int) map[string]any {
	s.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []map[string]any
		for _, e := range testenv.ReadLog(s.T, s.LogPath) {
			if e["code"] != nil && e["to"] == strings.ToLower(to) {
				got = append(got, e)
			}
		}
		if len(got) > n {
			return got[n]
		}
		if time.Now().After(deadline) {
			s.T.Fatalf("no message %d to %s after 10s", n+1, to)
		}
		time.Sleep(10 * time.Millisecond) // polling a file; nothing to wait on
	}
}

// browser is one user agent with its cookies, calling the door as Wacht's
// client does.
type browser struct {
	t      *testing.T
	s      *site
	hc     *http.Client
	origin string // the page's origin, sent as Origin on POSTs
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.T, s: s, origin: s.Base, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   []byte
	env    struct {
		Status  int             `json:"status"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
		Session json.RawMessage `json:"session"`
		Errors  []struct{ Code, Message string }
	}
}

// code is the first error's code, "" on success.
func (a answer) code() string {
	if len(a.env.Errors) == 0 {
		return ""
	}
	return a.env.Errors[0].Code
}

func (a answer) data(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.env.Data, &m); err != nil {
		t.Fatalf("data of %d %s: %v", a.status, a.body, err)
	}
	return m
}

// form is a FormData body, as the client sends it.
func form(fields ...string) (string, io.Reader) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return mw.FormDataContentType(), &b
}

func jsonBody(v any) (string, io.Reader) {
	b, _ := json.Marshal(v)
	return "application/json", bytes.NewReader(b)
}

// do sends a request to the door (a path under /wacht), or to any URL.
func (b *browser) do(method, path, ctype string, body io.Reader, header ...string) answer {
	b.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = b.s.api + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method == http.MethodPost && b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.body, _ = io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(a.body) > 0 && a.body[0] == '{' {
		if err := json.Unmarshal(a.body, &a.env); err != nil {
			b.t.Fatalf("%s %s: %v: %s", method, path, err, a.body)
		}
	}
	return a
}

func (b *browser) get(path string, header ...string) answer {
	return b.do("GET", path, "", nil, header...)
}

func (b *browser) post(path string, ctype string, body io.Reader, header ...string) answer {
	return b.do("POST", path, ctype, body, header...)
}

// signInStart is createStrategy(strategy) and prepareVerification: it
// returns the attempt's id.
func (b *browser) signInStart(strategy, field, address string, prepare ...string) string {
	b.t.Helper()
	ct, body := form("strategy", strategy, field, address)
	a := b.post("/auth/signin", ct, body)
	if a.status != 200 {
		b.t.Fatalf("signin: %d %s", a.status, a.body)
	}
	attempts := a.data(b.t)["signin_attempts"].([]any)
	id := attempts[len(attempts)-1].(map[string]any)["id"].(string)
	q := url.Values{"attempt_identifier": {id}, "strategy": {strategy}, "identifier_type": {"signin"}}
	for i := 0; i+1 < len(prepare); i += 2 {
		q.Set(prepare[i], prepare[i+1])
	}
	if a := b.post("/auth/prepare-verification?"+q.Encode(), "", nil); a.status != 200 {
		b.t.Fatalf("prepare: %d %s", a.status, a.body)
	}
	return id
}

// verifyCode is completeVerification(code).
func (b *browser) verifyCode(id, code string) answer {
	ct, body := form("verification_code", code)
	return b.post("/auth/attempt-verification?attempt_identifier="+id+"&identifier_type=signin", ct, body)
}

// signIn signs in by email code and returns the user id.
func (b *browser) signIn(email string) string {
	b.t.Helper()
	n := b.s.count(email)
	id := b.signInStart("email_otp", "email", email)
	a := b.verifyCode(id, b.s.message(email, n)["code"].(string))
	if a.status != 200 {
		b.t.Fatalf("verify: %d %s", a.status, a.body)
	}
	return a.data(b.t)["active_signin"].(map[string]any)["user_id"].(string)
}

// count is the number of messages to an address so far.
func (s *site) count(to string) int {
	n := 0
	for _, e := range testenv.ReadLog(s.T, s.LogPath) {
		if e["code"] != nil && e["to"] == strings.ToLower(to) {
			n++
		}
	}
	return n
}

// cookie returns the browser's cookie of that name for the site, or nil.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.s.api + "/")
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
