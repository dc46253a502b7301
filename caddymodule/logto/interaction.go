package logto

import (
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// interactionCookieName is Logto's name for the cookie of a sign-in in
// progress. Logto keeps the interaction on its server; passgate keeps
// nothing for a browser that has not signed in, so the interaction
// travels with the browser, authenticated and encrypted, and names the
// engine's attempts, which live in the store: any instance can carry on
// an interaction another one began.
const interactionCookieName = "_interaction"

// Bounds of the interaction: the newest verification records (a resend,
// a second address), and what fits in a cookie.
const (
	maxRecords     = 4
	maxCookieBytes = 3800
)

// The interaction events Logto knows; passgate has no passwords, so
// ForgotPassword is refused.
const (
	eventSignIn         = "SignIn"
	eventRegister       = "Register"
	eventForgotPassword = "ForgotPassword"
)

// interaction is one sign-in in a browser, from GET <mount>/sign-in or
// PUT /api/experience to POST /api/experience/submit.
type interaction struct {
	// Event is the interaction event; "" until PUT /api/experience.
	Event string `json:"ev,omitempty"`
	// RedirectTo is where submit sends the browser: the page the sign-in
	// started from, checked as redirect_to is.
	RedirectTo string   `json:"rt"`
	Records    []record `json:"r,omitempty"`
	// Identified is the verification id the user was identified by.
	Identified string `json:"id,omitempty"`
	Expires    int64  `json:"x"` // Unix milliseconds
}

// record is a verification-code record: the engine attempt its code was
// sent with (whose id is the verificationId) and, once verified, the
// session that signing in made, which submit gives the browser.
type record struct {
	ID      string `json:"id"`
	Channel string `json:"ch"`
	// Address is the normalised email address or E.164 number.
	Address  string `json:"ad"`
	Expires  int64  `json:"x"` // Unix milliseconds, the code's
	Verified bool   `json:"v,omitempty"`
	// Secret is the session's secret, once verified.
	Secret string `json:"s,omitempty"`
	// NewUser says the sign-in made the user.
	NewUser bool `json:"n,omitempty"`
}

func (it *interaction) find(id string) *record {
	for i := range it.Records {
		if r := &it.Records[i]; r.ID == id {
			return r
		}
	}
	return nil
}

// add appends a record, dropping the oldest beyond maxRecords.
func (it *interaction) add(r record) {
	it.Records = append(it.Records, r)
	if n := len(it.Records); n > maxRecords {
		it.Records = it.Records[n-maxRecords:]
	}
}

// valid checks what a cookie of passgate's own should hold anyway: it is
// authenticated, so this only guards against a secret shared with some
// other program.
func (it *interaction) valid() bool {
	if len(it.Records) > maxRecords || clock.Now().UnixMilli() >= it.Expires {
		return false
	}
	switch it.Event {
	case "", eventSignIn, eventRegister:
	default:
		return false
	}
	for _, r := range it.Records {
		if !verify.ValidAttemptID(r.ID) || r.Channel != verify.ChannelEmail && r.Channel != verify.ChannelPhone {
			return false
		}
	}
	return it.Identified == "" || it.find(it.Identified) != nil
}

// interactionCookie reads and writes the interaction.
type interactionCookie struct {
	path   string
	secure bool
	ttl    time.Duration
	codecs []securecookie.Codec
}

func newInteractionCookie(path string, insecure bool, ttl time.Duration, hashKeys, blockKeys [][]byte) interactionCookie {
	codecs := make([]securecookie.Codec, len(hashKeys))
	for i := range hashKeys {
		sc := securecookie.New(hashKeys[i], blockKeys[i])
		sc.MaxAge(int(ttl / time.Second))
		sc.SetSerializer(securecookie.JSONEncoder{})
		codecs[i] = sc
	}
	return interactionCookie{path: path, secure: !insecure, ttl: ttl, codecs: codecs}
}

// fresh is a new interaction that ends the sign-in at redirectTo.
func (c interactionCookie) fresh(redirectTo string) *interaction {
	return &interaction{RedirectTo: redirectTo, Expires: clock.Now().Add(c.ttl).UnixMilli()}
}

// load returns the request's interaction, or nil if it has none (missing,
// forged, expired or malformed).
func (c interactionCookie) load(r *http.Request) *interaction {
	value := httpkit.CookieValue(r.Header, interactionCookieName)
	if value == "" {
		return nil
	}
	var it interaction
	if securecookie.DecodeMulti(interactionCookieName, value, &it, c.codecs...) != nil || !it.valid() {
		return nil
	}
	return &it
}

// save sets the cookie to it, dropping the oldest unverified records if
// it would not fit in a cookie.
func (c interactionCookie) save(w http.ResponseWriter, it *interaction) error {
	for {
		v, err := securecookie.EncodeMulti(interactionCookieName, it, c.codecs...)
		if err != nil {
			return err
		}
		if len(v) > maxCookieBytes && len(it.Records) > 1 {
			it.Records = it.Records[1:]
			if it.find(it.Identified) == nil {
				it.Identified = ""
			}
			continue
		}
		maxAge := max(1, int(time.UnixMilli(it.Expires).Sub(clock.Now())/time.Second))
		http.SetCookie(w, &http.Cookie{
			Name: interactionCookieName, Value: v, Path: c.path, MaxAge: maxAge,
			HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
		})
		return nil
	}
}

// clear removes the cookie.
func (c interactionCookie) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: interactionCookieName, Value: "", Path: c.path, MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}
