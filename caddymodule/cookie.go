package caddymodule

import (
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/boundedcache"
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
	ck, err := r.Cookie(c.name)
	if err != nil || ck.Value == "" {
		return ""
	}
	if id, ok := c.decoded.Get(ck.Value); ok {
		return id
	}
	secret := c.decode(ck.Value)
	if secret == "" {
		return ""
	}
	id := sessionstore.SessionID(secret)
	c.decoded.Put(ck.Value, id)
	return id
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
