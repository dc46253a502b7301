package native

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// startCookieName names the pre-sign-in cookie. It is not derived from the
// session cookie's name: a name with the __Host- prefix would forbid its
// path.
const startCookieName = "passgate_start"

// startCookieAttempts bounds the attempts the cookie names: the newest
// few, so that sign-ins started in two tabs both have working links.
const startCookieAttempts = 4

// startCookie is the short-lived cookie /start sets in the browser that
// asked for a code. It names the attempts started there, so that the
// magic-link page can tell that whoever opens a link is whoever asked for
// it, and only then sign in without a click. Its value is authenticated
// and encrypted with keys of its own, derived from every configured
// secret: the first encodes, all decode.
type startCookie struct {
	path   string
	secure bool
	ttl    time.Duration
	codecs []securecookie.Codec
}

func newStartCookie(basePath string, insecure bool, ttl time.Duration, hashKeys, blockKeys [][]byte) startCookie {
	maxAge := max(1, int(ttl/time.Second))
	codecs := make([]securecookie.Codec, len(hashKeys))
	for i := range hashKeys {
		sc := securecookie.New(hashKeys[i], blockKeys[i])
		sc.MaxAge(maxAge)
		sc.SetSerializer(securecookie.NopEncoder{})
		codecs[i] = sc
	}
	return startCookie{path: basePath, secure: !insecure, ttl: time.Duration(maxAge) * time.Second, codecs: codecs}
}

// attempts returns the attempt ids the request's cookie names, or none.
func (c startCookie) attempts(r *http.Request) []string {
	value := httpkit.CookieValue(r.Header, startCookieName)
	if value == "" {
		return nil
	}
	var b []byte
	if err := securecookie.DecodeMulti(startCookieName, value, &b, c.codecs...); err != nil {
		return nil
	}
	ids := strings.Split(string(b), ".")
	if len(ids) > startCookieAttempts {
		return nil
	}
	for _, id := range ids {
		if !verify.ValidAttemptID(id) {
			return nil
		}
	}
	return ids
}

// names reports whether the request's cookie names the attempt id.
func (c startCookie) names(r *http.Request, id string) bool {
	found := false
	for _, a := range c.attempts(r) {
		if subtle.ConstantTimeCompare([]byte(a), []byte(id)) == 1 {
			found = true
		}
	}
	return found
}

// add sets the cookie to name id besides the newest attempts the request's
// cookie already names.
func (c startCookie) add(w http.ResponseWriter, r *http.Request, id string) error {
	ids := []string{id}
	for _, a := range c.attempts(r) {
		if a != id {
			ids = append(ids, a)
		}
	}
	ids = ids[:min(len(ids), startCookieAttempts)]
	v, err := securecookie.EncodeMulti(startCookieName, []byte(strings.Join(ids, ".")), c.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     startCookieName,
		Value:    v,
		Path:     c.path,
		MaxAge:   int(c.ttl / time.Second),
		HttpOnly: true,
		Secure:   c.secure,
		// Lax, not Strict: a link opened from webmail is a cross-site
		// navigation, and the cookie must come along with it.
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}
