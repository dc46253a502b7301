package caddymodule

import (
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/internal/boundedcache"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify"
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
	sameSite http.SameSite
	// decoded remembers the session ID behind recently seen cookie
	// values: a browser sends the same value with every request, and
	// decoding (HMAC, AES, base64) and hashing the secret into the ID are
	// then done once a minute, not each time.
	decoded *boundedcache.Cache[string, string]
	// also are the same session cookie under the names front doors gave
	// it (Wacht's __session), which the gate accepts too. Set while
	// provisioning, read-only after.
	also *[]sessionCookie
}

// Bounds of the decoded-cookie cache: at about 300 bytes an entry,
// 10,000 entries are 3 MB at most. An entry only saves work: the session
// it names is still looked up, with its own timeouts, on every request.
const (
	decodedCookieEntries = 10000
	decodedCookieTTL     = time.Minute
)

func newSessionCookie(cfg config.CookieConfig, lifetime time.Duration, keys secretKeys) sessionCookie {
	hash, block := keys.keys("cookie hash"), keys.keys("cookie block")
	codecs := make([]securecookie.Codec, len(keys))
	for i := range keys {
		sc := securecookie.New(hash[i], block[i])
		sc.MaxAge(int(lifetime / time.Second))
		// The value is already random text: no gob round trip needed.
		sc.SetSerializer(securecookie.NopEncoder{})
		codecs[i] = sc
	}
	return sessionCookie{
		name:     cfg.Name,
		domain:   cfg.Domain,
		secure:   !cfg.Insecure,
		sameSite: http.SameSiteLaxMode,
		lifetime: lifetime,
		codecs:   codecs,
		decoded:  boundedcache.New[string, string](decodedCookieEntries, decodedCookieTTL, nil),
		also:     new([]sessionCookie),
	}
}

// named is the session cookie under another name, for a front door whose
// clients expect that name; cross-site makes it SameSite=None, for a
// frontend on another site (`cors`). The gate accepts it like the cookie
// itself, and keeps it from the upstream.
func (c sessionCookie) named(name string, crossSite bool) httpkit.SessionCookie {
	n := c
	n.name = name
	if crossSite {
		n.sameSite = http.SameSiteNoneMode
	}
	*c.also = append(*c.also, n)
	return n
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
	value := httpkit.CookieValue(r.Header, c.name)
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

// Credential implements httpkit.SessionCookie: an Authorization: Bearer
// header, if there is one, is the only credential looked at.
func (c sessionCookie) Credential(r *http.Request) verify.Credential {
	if tok, ok := bearerToken(r); ok {
		return verify.Credential{Bearer: tok, IsBearer: true}
	}
	cred := verify.Credential{SessionID: c.sessionID(r)}
	for _, o := range *c.also {
		if id := o.sessionID(r); id != "" {
			if cred.SessionID == "" {
				cred.SessionID = id
			} else {
				cred.Fallback = id
			}
			break
		}
	}
	return cred
}

// remove takes every name of the session cookie out of h's Cookie lines.
func (c sessionCookie) remove(h http.Header) {
	httpkit.RemoveCookie(h, c.name)
	for _, o := range *c.also {
		httpkit.RemoveCookie(h, o.name)
	}
}

// bearerToken returns the token of an Authorization: Bearer header. It
// indexes the map by the canonical name: Header.Get would canonicalise
// the name again, on every request.
func bearerToken(r *http.Request) (string, bool) {
	var value string
	if values := r.Header["Authorization"]; len(values) > 0 {
		value = values[0]
	}
	scheme, tok, ok := strings.Cut(value, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// Set implements httpkit.SessionCookie.
func (c sessionCookie) Set(w http.ResponseWriter, secret string) error {
	v, err := securecookie.EncodeMulti(c.name, []byte(secret), c.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(v, int(c.lifetime/time.Second)))
	return nil
}

// Clear implements httpkit.SessionCookie.
func (c sessionCookie) Clear(w http.ResponseWriter) {
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
		SameSite: c.sameSite,
	}
}
