package supabase

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// The emailed link is GET {mount}/verify?token=…&type=magiclink&redirect_to=…,
// as GoTrue's. GoTrue signs in on the GET; here the GET only shows a page
// (mail scanners and link previews fetch links before people do) whose
// form posts back, and the POST redirects as GoTrue's GET would: the
// session in the fragment (implicit flow), or ?code= for the app to
// exchange with its verifier (PKCE).

// serveLinkPage answers GET /verify. It consumes nothing.
func (d *Door) serveLinkPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token, typ := q.Get("token"), q.Get("type")
	if token == "" || typ == "" {
		writeError(w, validation("Verify requires a token and a type"))
		return
	}
	if !emailTypes[typ] {
		writeError(w, validation("Unsupported verification type"))
		return
	}
	redirectTo := d.env.Redirects.Safe(q.Get("redirect_to"))
	a, err := d.env.Engine.PeekLink(r.Context(), strings.TrimPrefix(token, pkcePrefix))
	switch {
	case err == nil:
		d.renderPage(w, http.StatusOK, pageData{State: "confirm", Email: a.Identifier, Token: token,
			RedirectTo: redirectTo, Auto: userOpened(r.Header)})
	case errors.Is(err, verify.ErrAttemptNotFound):
		d.redirectError(w, r, redirectTo, strings.HasPrefix(token, pkcePrefix), linkExpired())
	default:
		d.pageError(w, d.serverError(err))
	}
}

// userOpened reports a navigation a person started outside any site, as
// from a mail program: only then may the page press its own button (as
// the native door's does). A link some site sent the browser to would
// sign it in to whoever's link it is; it asks first.
func userOpened(h http.Header) bool {
	return h.Get("Sec-Fetch-Site") == "none" && h.Get("Sec-Fetch-User") == "?1"
}

func linkExpired() *apiError {
	return newError(http.StatusForbidden, "otp_expired", msgLinkExpired)
}

// serveLinkContinue answers the page's POST: it signs in with the link
// and redirects as GoTrue's GET /verify does.
func (d *Door) serveLinkContinue(w http.ResponseWriter, r *http.Request) {
	if !d.env.SameOrigin(r) {
		d.pageError(w, newError(http.StatusForbidden, "forbidden", "Cross-site request refused"))
		return
	}
	var none struct{}
	if _, err := httpkit.ReadBody(w, r, &none); err != nil {
		d.pageError(w, newError(err.Status, "validation_failed", err.Message))
		return
	}
	token := r.PostForm.Get("token")
	redirectTo := d.env.Redirects.Safe(r.PostForm.Get("redirect_to"))
	pkceLink := strings.HasPrefix(token, pkcePrefix)
	token = strings.TrimPrefix(token, pkcePrefix)
	ctx := r.Context()
	a, err := d.env.Engine.PeekLink(ctx, token)
	if err == nil {
		// The attempt's own redirect, checked when it was asked for.
		redirectTo = d.env.Redirects.Safe(a.RedirectTo)
		if data := decodeAttemptData(a.Data); data.pkce() {
			// The session is made when the app exchanges the code with
			// its verifier; until then the link stays as it is.
			code, err := d.sealCode(token)
			if err != nil {
				d.pageError(w, d.serverError(err))
				return
			}
			d.redirect(w, r, withQuery(redirectTo, url.Values{"code": {code}}))
			return
		}
		a, err = d.env.Engine.CheckLink(ctx, token, d.env.Caller(r))
	}
	switch {
	case errors.Is(err, verify.ErrAttemptNotFound):
		d.redirectError(w, r, redirectTo, pkceLink, linkExpired())
		return
	case err != nil:
		d.pageError(w, d.serverError(err))
		return
	}
	body, e := d.signIn(ctx, r, a, verify.MethodLink)
	if e != nil {
		d.pageError(w, e)
		return
	}
	d.redirect(w, r, withFragment(redirectTo, url.Values{
		"access_token":  {body.AccessToken},
		"expires_at":    {strconv.FormatInt(body.ExpiresAt, 10)},
		"expires_in":    {strconv.Itoa(body.ExpiresIn)},
		"refresh_token": {body.RefreshToken},
		"token_type":    {body.TokenType},
		"type":          {"magiclink"},
		"sb":            {""},
	}))
}

func (d *Door) redirect(w http.ResponseWriter, _ *http.Request, to string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	// Not http.Redirect: it cleans a relative target's path with the
	// fragment in it. Targets are RedirectPolicy.Safe's, plain ASCII.
	h.Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// redirectError sends the browser back to the app with the error, as
// GoTrue does: in the fragment, and for PKCE in the query too.
func (d *Door) redirectError(w http.ResponseWriter, r *http.Request, to string, pkce bool, e *apiError) {
	v := url.Values{"error": {oauthError(e.Status)}, "error_code": {e.Code}, "error_description": {e.Message}}
	if pkce {
		to = withQuery(to, v)
	}
	f := url.Values{"sb": {""}}
	for k, vs := range v {
		f[k] = vs
	}
	d.redirect(w, r, withFragment(to, f))
}

// oauthError is GoTrue's OAuth error name of a status.
func oauthError(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request"
	case http.StatusUnauthorized:
		return "unauthorized_client"
	case http.StatusForbidden:
		return "access_denied"
	case http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	}
	return "server_error"
}

// withFragment replaces to's fragment (GoTrue appends a second one, which
// the client cannot read).
func withFragment(to string, v url.Values) string {
	base, _, _ := strings.Cut(to, "#")
	return base + "#" + v.Encode()
}

// withQuery adds v to to's query, keeping what it has (sb_flow_id among
// them) and its fragment.
func withQuery(to string, v url.Values) string {
	base, frag, hasFrag := strings.Cut(to, "#")
	path, query, _ := strings.Cut(base, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		q = url.Values{}
	}
	for k, vs := range v {
		q[k] = vs
	}
	out := path + "?" + q.Encode()
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// pageData is what the link page shows.
type pageData struct {
	State      string // "confirm" or "error"
	Email      string
	Token      string
	RedirectTo string
	Action     string
	Auto       bool
	Error      string
	Nonce      string
}

func (d *Door) pageError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	d.renderPage(w, e.Status, pageData{State: "error", Error: e.Message})
}

// renderPage writes the page with a policy that allows its own style, its
// script only when it may press its button, and its form's redirect to the
// allowed origins; the token in its URL is never sent on as a Referer.
func (d *Door) renderPage(w http.ResponseWriter, status int, data pageData) {
	data.Action = d.env.Mount + "/verify"
	data.Nonce = rand.Text()
	var buf bytes.Buffer
	if err := d.page.Execute(&buf, data); err != nil {
		writeError(w, d.serverError(err))
		return
	}
	script := ""
	if data.State == "confirm" && data.Auto {
		script = "script-src 'nonce-" + data.Nonce + "'; "
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; "+script+"style-src 'nonce-"+data.Nonce+
		"'; form-action 'self'"+d.env.Redirects.FormActionSources()+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="robots" content="noindex">
<meta name="referrer" content="no-referrer">
<title>{{if eq .State "confirm"}}Sign in{{else}}Sign-in link{{end}}</title>
<style nonce="{{.Nonce}}">
body{font:16px/1.5 system-ui,sans-serif;display:flex;justify-content:center;padding:3rem 1rem;margin:0}
main{max-width:26rem;width:100%}
button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#2d5bd7;color:#fff;cursor:pointer}
.muted{opacity:.75}.error{color:#b3261e}
</style>
</head>
<body>
<main>
{{if eq .State "confirm"}}
  <h1>{{if .Auto}}Signing you in{{else}}Sign in as {{.Email}}?{{end}}</h1>
  {{if not .Auto}}<p class="muted">Only if you asked for this link yourself. A link that someone else sent you would sign you in to their account: then close this page.</p>{{end}}
  <form id="continue" method="post" action="{{.Action}}">
    <input type="hidden" name="token" value="{{.Token}}">
    <input type="hidden" name="redirect_to" value="{{.RedirectTo}}">
    <button type="submit">Continue</button>
  </form>
  {{if .Auto}}<script nonce="{{.Nonce}}">document.getElementById("continue").submit();</script>{{end}}
{{else}}
  <h1>Sign-in link</h1>
  <p class="error" role="alert">{{.Error}}</p>
{{end}}
</main>
</body>
</html>
`
