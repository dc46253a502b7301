package wacht

import (
	"net/http"

	"github.com/passgate/caddy-passgate/internal/httpkit"

	"github.com/passgate/caddy-passgate/verify"
)

// serveSession answers GET /session: the browser's Wacht session, with its
// sign-in if it has one. It answers 200 signed out too (the client's
// useSession waits for a Session forever otherwise), and gives a browser
// without one a Wacht session (a cookie; nothing is stored).
func (d *Door) serveSession(w http.ResponseWriter, r *http.Request) {
	signedIn, e := d.signedIn(r)
	if e != nil {
		writeError(w, e, nil)
		return
	}
	if signedIn == nil && httpkit.CookieValue(r.Header, SessionCookieName) != "" {
		d.session.Clear(w) // its session has ended
	}
	st, had := d.browser.load(r)
	if !had {
		if err := d.browser.save(w, st); err != nil {
			writeError(w, d.engineError(err), nil)
			return
		}
	}
	sess := sessionOf(st, signedIn)
	writeOK(w, sess, sess)
}

// serveMe answers GET /me: the signed-in user.
func (d *Door) serveMe(w http.ResponseWriter, r *http.Request) {
	signedIn := d.mustBeSignedIn(w, r)
	if signedIn == nil {
		return
	}
	writeOK(w, currentUser(*signedIn), nil)
}

type tokenData struct {
	Token string `json:"token"`
	// Expires is in Unix milliseconds: the client keeps the token while
	// expires > Date.now().
	Expires int64 `json:"expires"`
}

// serveToken answers GET /session/token[?template=default]: a short-lived
// JWT for the signed-in session, which @wacht/backend verifies from the
// JWKS (iss: the origin) and the gate accepts as a bearer token.
func (d *Door) serveToken(w http.ResponseWriter, r *http.Request) {
	if t := r.URL.Query().Get("template"); t != "" && t != "default" {
		writeError(w, newError(http.StatusNotFound, codeNotFound, "No such token template: passgate has only \"default\"."), nil)
		return
	}
	signedIn := d.mustBeSignedIn(w, r)
	if signedIn == nil {
		return
	}
	tok, err := d.env.Engine.IssueAccessAs(d.profile, *signedIn, nil)
	if err != nil {
		writeError(w, d.engineError(err), nil)
		return
	}
	writeOK(w, tokenData{Token: tok.Token, Expires: tok.ExpiresAt.UnixMilli()}, nil)
}

// serveSignOut answers POST /session/sign-out[?sign_in_id=]: the browser's
// sign-in ends, and with it the passgate session, everywhere; the Wacht
// session (its attempts) stays. Signed out already, it answers the same.
func (d *Door) serveSignOut(w http.ResponseWriter, r *http.Request) {
	f, e := readFields(w, r)
	if e != nil {
		writeError(w, e, nil)
		return
	}
	if id := f.get("sign_in_id"); id != "" {
		signedIn, e := d.signedIn(r)
		if e == nil && (signedIn == nil || signedIn.ID != id) {
			e = newError(http.StatusBadRequest, codeInvalidState, "No such sign-in in this browser.")
		}
		if e != nil {
			writeError(w, e, nil)
			return
		}
	}
	for _, c := range d.credentials(r) {
		if _, _, err := d.env.Engine.Logout(r.Context(), c, verify.ScopeLocal, d.env.Caller(r)); err != nil {
			writeError(w, d.engineError(err), nil)
			return
		}
	}
	// Both cookies go: passgate's own, if the sign-in was through another door.
	d.env.Session.Clear(w)
	d.session.Clear(w)
	st, _ := d.browser.load(r)
	d.saveAndAnswer(w, st, nil)
}

// serveJWKS answers GET /.well-known/jwks.json: the keys that verify the
// session tokens, for @wacht/backend (at the root of the origin: see
// docs/compat.md).
func (d *Door) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body := d.env.Engine.JWKSFor("ES256")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

// mustBeSignedIn is the browser's signed-in session, or nil when it has
// none, answered.
func (d *Door) mustBeSignedIn(w http.ResponseWriter, r *http.Request) *verify.Session {
	signedIn, e := d.signedIn(r)
	if e == nil && signedIn == nil {
		e = errNotSignedIn
	}
	if e != nil {
		writeError(w, e, nil)
		return nil
	}
	return signedIn
}
