package caddymodule

import (
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
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
}

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
	}
}

// secret returns the session secret a request carries, or "".
func (c sessionCookie) secret(r *http.Request) string {
	ck, err := r.Cookie(c.name)
	if err != nil || ck.Value == "" {
		return ""
	}
	var b []byte
	if err := securecookie.DecodeMulti(c.name, ck.Value, &b, c.codecs...); err != nil {
		return ""
	}
	return string(b)
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
