package supabase

import (
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
		d.renderPage(w, http.StatusOK, httpkit.LinkPage{Email: a.Identifier, Auto: httpkit.UserOpened(r.Header),
			Fields: []httpkit.Field{{Name: "token", Value: token}, {Name: "redirect_to", Value: redirectTo}}})
	case errors.Is(err, verify.ErrAttemptNotFound):
		d.redirectError(w, r, redirectTo, strings.HasPrefix(token, pkcePrefix), linkExpired())
	default:
		d.pageError(w, d.serverError(err))
	}
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

func (d *Door) pageError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	d.renderPage(w, e.Status, httpkit.LinkPage{Error: e.Message})
}

// renderPage writes the page; its form's redirect may end at the allowed
// origins.
func (d *Door) renderPage(w http.ResponseWriter, status int, p httpkit.LinkPage) {
	p.Action = d.env.Mount + "/verify"
	p.Nonce = rand.Text()
	if err := httpkit.WriteLinkPage(w, status, p, d.env.Redirects.FormActionSources()); err != nil {
		writeError(w, d.serverError(err))
	}
}
