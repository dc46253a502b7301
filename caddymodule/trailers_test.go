package caddymodule_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// trailerBody is a request body that fills in its request's trailers when
// it reaches its end, as a streaming client would.
type trailerBody struct {
	r       io.Reader
	req     *http.Request
	trailer http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		for k, v := range b.trailer {
			b.req.Trailer[k] = v
		}
	}
	return n, err
}

// Identity headers sent as request trailers (chunked HTTP/1.1, or HTTP/2
// trailing headers over h2c) are removed like those in the header, on
// public paths and next to the real headers on signed-in requests; so are
// their declarations. Other trailers pass.
func TestIdentityTrailersStripped(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithGlobal("servers {\n\t\tprotocols h1 h2c\n\t}"))
	c := g.NewClient()
	c.SignIn("tess@example.com")
	var cookies []string
	for _, ck := range c.HC.Jar.Cookies(mustURL(g.Base)) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}

	spoof := http.Header{
		"X-Auth-Roles": {"admin"}, "X-Auth-User-Id": {"root"}, "X_auth_email": {"boss@example.com"},
		"Remote-User": {"root"}, "X-Checksum": {"kept"},
	}
	var h2 http.Protocols
	h2.SetUnencryptedHTTP2(true)
	for _, proto := range []struct {
		name  string
		major int
		rt    http.RoundTripper
	}{
		{"HTTP/1.1 chunked", 1, &http.Transport{}},
		{"HTTP/2 h2c", 2, &http.Transport{Protocols: &h2}},
	} {
		for _, path := range []string{"/public/upload", "/app/upload"} {
			req, err := http.NewRequest("POST", g.Base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Trailer = http.Header{}
			for k := range spoof {
				req.Trailer[k] = nil
			}
			req.Body = io.NopCloser(&trailerBody{r: strings.NewReader("payload"), req: req, trailer: spoof})
			req.ContentLength = -1
			req.Header.Set("Cookie", strings.Join(cookies, "; "))
			resp, err := proto.rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("%s %s: %v", proto.name, path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != proto.major {
				t.Fatalf("%s %s: %d %s %s", proto.name, path, resp.StatusCode, resp.Proto, body)
			}
			var e struct {
				Headers  http.Header
				Trailers http.Header
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if got := e.Trailers.Get("X-Checksum"); got != "kept" {
				t.Fatalf("%s %s: the harmless trailer did not arrive (%v): the test proves nothing", proto.name, path, e.Trailers)
			}
			if len(e.Trailers) != 1 {
				t.Fatalf("%s %s: upstream got trailers %v", proto.name, path, e.Trailers)
			}
			for _, decl := range e.Headers.Values("Trailer") {
				if strings.Contains(strings.ToLower(decl), "auth") || strings.Contains(strings.ToLower(decl), "remote") {
					t.Fatalf("%s %s: upstream got the declaration Trailer: %s", proto.name, path, decl)
				}
			}
			if path == "/app/upload" {
				if got := e.Headers.Values("X-Auth-Roles"); len(got) != 1 || got[0] != "staff" {
					t.Fatalf("%s: X-Auth-Roles = %v", proto.name, got)
				}
			}
		}
	}
}
