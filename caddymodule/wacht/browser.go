package wacht

import (
	"crypto/rand"
	"math/big"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// browserCookieName names the cookie that holds the browser's Wacht
// session before (and besides) a sign-in: its id and its attempts. Wacht
// keeps that on its server; passgate keeps nothing for a browser that has
// not signed in, so it travels with the browser, authenticated and
// encrypted. The passgate session itself is __session, a cookie of its own.
const browserCookieName = "__wacht_browser"

// Bounds of the browser state: the newest attempts (two tabs, a resend,
// a sign-up besides a sign-in), and what fits in a cookie.
const (
	maxAttempts       = 4
	maxCookieBytes    = 3800
	browserCookieLife = 24 * time.Hour
)

// browserState is the browser's Wacht session.
type browserState struct {
	// ID is the Wacht session's id: stable for the browser, whoever signs
	// in there.
	ID       string    `json:"id"`
	Attempts []attempt `json:"at,omitempty"`
}

// attempt is a Wacht sign-in or sign-up attempt. It names the engine's
// attempt of its latest prepare-verification, whose code or link finishes
// it; before that it only records what was asked for.
type attempt struct {
	ID      string `json:"id"`
	SignUp  bool   `json:"su,omitempty"`
	Channel string `json:"ch"`
	// Address is the normalised email address or phone number.
	Address string `json:"ad"`
	// Method is the strategy: email_otp, phone_otp or magic_link.
	Method  string `json:"m"`
	Created int64  `json:"c"` // Unix milliseconds
	Expires int64  `json:"x"`
	// Engine is the engine's attempt id of the latest code or link sent.
	Engine string `json:"e,omitempty"`
	UserID string `json:"u,omitempty"`
	Done   bool   `json:"d,omitempty"`
}

func (a *attempt) expired() bool { return clock.Now().UnixMilli() >= a.Expires }

// find returns the browser's attempt of that id and kind, or nil.
func (st *browserState) find(id string, signUp bool) *attempt {
	for i := range st.Attempts {
		if a := &st.Attempts[i]; a.ID == id && a.SignUp == signUp {
			return a
		}
	}
	return nil
}

// add appends a new attempt, dropping the oldest beyond maxAttempts.
func (st *browserState) add(a attempt) {
	st.Attempts = append(st.Attempts, a)
	if n := len(st.Attempts); n > maxAttempts {
		st.Attempts = st.Attempts[n-maxAttempts:]
	}
}

// browserCookie reads and writes the browser state.
type browserCookie struct {
	path     string
	secure   bool
	sameSite http.SameSite
	codecs   []securecookie.Codec
}

func newBrowserCookie(path string, insecure, crossSite bool, hashKeys, blockKeys [][]byte) browserCookie {
	codecs := make([]securecookie.Codec, len(hashKeys))
	for i := range hashKeys {
		sc := securecookie.New(hashKeys[i], blockKeys[i])
		sc.MaxAge(int(browserCookieLife / time.Second))
		sc.SetSerializer(securecookie.JSONEncoder{})
		codecs[i] = sc
	}
	c := browserCookie{path: path, secure: !insecure, sameSite: http.SameSiteLaxMode, codecs: codecs}
	if crossSite {
		c.sameSite = http.SameSiteNoneMode
	}
	return c
}

// load returns the request's browser state, and whether it had one; a
// missing, forged, expired or malformed cookie gives a new state.
func (c browserCookie) load(r *http.Request) (*browserState, bool) {
	if value := httpkit.CookieValue(r.Header, browserCookieName); value != "" {
		var st browserState
		if securecookie.DecodeMulti(browserCookieName, value, &st, c.codecs...) == nil && st.valid() {
			return &st, true
		}
	}
	return &browserState{ID: newID()}, false
}

// valid checks what a cookie of passgate's own should hold anyway: it is
// authenticated, so this only guards against a secret shared with some
// other program.
func (st *browserState) valid() bool {
	if !validID(st.ID) || len(st.Attempts) > maxAttempts {
		return false
	}
	for _, a := range st.Attempts {
		if !validID(a.ID) || (a.Engine != "" && !verify.ValidAttemptID(a.Engine)) || stepOf[a.Method] == "" ||
			a.Channel != channelOf(a.Method) {
			return false
		}
	}
	return true
}

// save sets the cookie to st, dropping the oldest attempts if it would
// not fit in a cookie.
func (c browserCookie) save(w http.ResponseWriter, st *browserState) error {
	for {
		v, err := securecookie.EncodeMulti(browserCookieName, st, c.codecs...)
		if err != nil {
			return err
		}
		if len(v) > maxCookieBytes && len(st.Attempts) > 1 {
			st.Attempts = st.Attempts[1:]
			continue
		}
		http.SetCookie(w, &http.Cookie{
			Name: browserCookieName, Value: v, Path: c.path, MaxAge: int(browserCookieLife / time.Second),
			HttpOnly: true, Secure: c.secure, SameSite: c.sameSite,
		})
		return nil
	}
}

// idDigits is the length of the ids passgate makes for Wacht's objects:
// decimal, like Wacht's own (64-bit snowflakes), so URL-safe as the client
// needs (it puts them into query strings unencoded).
const idDigits = 18

var idBase = new(big.Int).Exp(big.NewInt(10), big.NewInt(idDigits-1), nil)

// newID returns a random id of idDigits digits, the first not 0.
func newID() string {
	n, err := rand.Int(rand.Reader, new(big.Int).Mul(idBase, big.NewInt(9)))
	if err != nil {
		panic("wacht: crypto/rand failed: " + err.Error())
	}
	return n.Add(n, idBase).String()
}

// validID reports whether s has the shape of an id: 1 to 32 ASCII digits.
// (Wacht's own may be shorter than passgate's.)
func validID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
