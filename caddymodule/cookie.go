package caddymodule

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/passgate/caddy-passgate/internal/boundedcache"
	"github.com/passgate/caddy-passgate/sessionstore"
)

// sessionCookie writes and reads the session cookie. Its value is the
// session secret, authenticated (HMAC-SHA256) and encrypted (AES-256) with
// keys derived from every configured secret: the first encodes, all decode.
type sessionCookie struct {
	name     string
	domain   string
	secure   bool
	lifetime time.Duration
	codecs   []securecookie.Codec
	// decoded remembers the session ID behind recently seen cookie
	// values: a browser sends the same value with every request, and
	// decoding (HMAC, AES, base64) and hashing the secret into the ID are
	// then done once a minute, not each time.
	decoded *boundedcache.Cache[string, string]
}

// Bounds of the decoded-cookie cache: at about 300 bytes an entry,
// 10,000 entries are 3 MB at most. An entry only saves work: the session
// it names is still looked up, with its own timeouts, on every request.
const (
	decodedCookieEntries = 10000
	decodedCookieTTL     = time.Minute
)

func newSessionCookie(cfg CookieConfig, lifetime time.Duration, keys []keySet) sessionCookie {
	codecs := make([]securecookie.Codec, len(keys))
	for i, k := range keys {
		sc := securecookie.New(k.cookieHash, k.cookieBlock)
		sc.MaxAge(int(lifetime / time.Second))
		// The value is already random text: no gob round trip needed.
		sc.SetSerializer(securecookie.NopEncoder{})
		codecs[i] = sc
	}
	return sessionCookie{
		name:     cfg.Name,
		domain:   cfg.Domain,
		secure:   !cfg.Insecure,
		lifetime: lifetime,
		codecs:   codecs,
		decoded:  boundedcache.New[string, string](decodedCookieEntries, decodedCookieTTL, nil),
	}
}

func (c sessionCookie) decode(value string) string {
	var b []byte
	if err := securecookie.DecodeMulti(c.name, value, &b, c.codecs...); err != nil {
		return ""
	}
	return string(b)
}

// sessionID returns the public ID of the session whose secret the
// request's cookie carries, or "".
func (c sessionCookie) sessionID(r *http.Request) string {
	value := cookieValue(r.Header, c.name)
	if value == "" {
		return ""
	}
	if id, ok := c.decoded.Get(value); ok {
		return id
	}
	secret := c.decode(value)
	if secret == "" {
		return ""
	}
	id := sessionstore.SessionID(secret)
	c.decoded.Put(value, id)
	return id
}

// cookieValue returns the value of the first cookie called name in h, or
// "", as (*http.Request).Cookie reads it (FuzzCookieValue holds the two to
// the same answer), but without building a Cookie for every one sent: it
// runs on every request. name must be a valid cookie name.
func cookieValue(h http.Header, name string) string {
	lines := h["Cookie"]
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
	}
	if count > maxCookies {
		return ""
	}
	for _, line := range lines {
		for rest := textproto.TrimString(line); rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ";")
			n, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(n) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v
			}
		}
	}
	return ""
}

// maxCookies is net/http's limit (its GODEBUG httpcookiemaxnum default):
// a request with more cookies has none.
const maxCookies = 3000

func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

func (c sessionCookie) set(w http.ResponseWriter, secret string) error {
	v, err := securecookie.EncodeMulti(c.name, []byte(secret), c.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(v, int(c.lifetime/time.Second)))
	return nil
}

func (c sessionCookie) clear(w http.ResponseWriter) {
	http.SetCookie(w, c.cookie("", -1))
}

func (c sessionCookie) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     c.name,
		Value:    value,
		Path:     "/",
		Domain:   c.domain,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	}
}
