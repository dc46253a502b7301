package wacht

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/passgate/caddy-passgate/verify"
)

// serveMagicLink answers GET /auth/verify-magic-link?token=&attempt=.
//
// The emailed link points here, and Wacht's client signs in with a GET of
// this same URL: its landing page (MagicLinkVerification) reads token and
// attempt from its own address and fetches this route with the browser's
// cookies. A GET that consumes a link is what mail scanners trip over, so
// the two are told apart:
//
//   - Anything but a script's fetch (a person or a scanner opening the link:
//     Sec-Fetch-Mode navigate; an image, a prefetch or a prerender:
//     Sec-Fetch-Dest other than empty, mode no-cors, Sec-Purpose; a HEAD; from
//     a client that sends no Sec-Fetch headers, Accept text/html) consumes
//     nothing: it is sent on (303) to the redirect_uri given at
//     prepare-verification, with token, attempt and redirect_uri in its
//     query, where the app's landing page makes the call.
//   - The fetch consumes the link only if the browser's Wacht session (its
//     cookie) holds the attempt, and the link is that attempt's newest: the
//     link signs in the browser that asked for it, and nothing else. A
//     scanner has no such cookie, even one that runs the landing page's
//     script; a refusal consumes nothing either. In another browser, the
//     code in the same message works.
func (d *Door) serveMagicLink(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !clientFetch(r) {
		d.landing(w, r, q)
		return
	}
	if !d.env.SameOrigin(r) {
		writeError(w, errCrossSite, nil)
		return
	}
	token, id := q.Get("token"), q.Get("attempt")
	if token == "" || id == "" {
		writeError(w, newError(http.StatusBadRequest, codeRequiredField, "token and attempt are required."), nil)
		return
	}
	st, _ := d.browser.load(r)
	a := st.find(id, false)
	if a == nil {
		a = st.find(id, true)
	}
	e := errNoAttempt
	if a != nil {
		e = usable(a)
	}
	if e != nil {
		writeError(w, e, sessionOf(st, nil))
		return
	}
	peek, err := d.env.Engine.PeekLink(r.Context(), token)
	if err != nil {
		writeError(w, d.engineError(err), sessionOf(st, nil))
		return
	}
	if subtle.ConstantTimeCompare([]byte(peek.ID), []byte(a.Engine)) != 1 {
		writeError(w, newError(http.StatusBadRequest, codeBadAttempt,
			"This link is not the newest one sent for this sign-in. Use the newest, or its code."), sessionOf(st, nil))
		return
	}
	consumed, err := d.env.Engine.CheckLink(r.Context(), token, d.env.Caller(r))
	if err != nil {
		writeError(w, d.engineError(err), sessionOf(st, nil))
		return
	}
	d.complete(w, r, st, a, consumed, verify.MethodLink)
}

// clientFetch reports whether r may be Wacht's client's call: a script's
// GET, by what browsers send and pages cannot set, rather than a browser
// opening the URL, embedding it or fetching it ahead of time.
func clientFetch(r *http.Request) bool {
	if r.Method != http.MethodGet || r.Header.Get("Sec-Purpose") != "" || r.Header.Get("Purpose") != "" {
		return false
	}
	mode, dest := r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest")
	if mode != "" || dest != "" {
		return (mode == "cors" || mode == "same-origin") && (dest == "" || dest == "empty")
	}
	return !strings.Contains(strings.ToLower(r.Header.Get("Accept")), "text/html")
}

// landing sends a navigation on to the app's landing page, which makes
// the call that signs in.
func (d *Door) landing(w http.ResponseWriter, r *http.Request, q url.Values) {
	target := d.env.Redirects.Safe(q.Get("redirect_uri"))
	u, err := url.Parse(target)
	if err != nil { // Safe passes only what parses
		u = &url.URL{Path: "/"}
	}
	lq := u.Query()
	for _, k := range []string{"token", "attempt"} {
		if v := q.Get(k); v != "" && len(v) <= maxField {
			lq.Set(k, v)
		}
	}
	lq.Set("redirect_uri", target)
	u.RawQuery = lq.Encode()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	// The token is in this URL and the next: never send it on as a Referer.
	h.Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
