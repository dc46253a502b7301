package native

import (
	"crypto/rand"
	"errors"
	"html/template"
	"net/http"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// States of the magic-link page.
const (
	magicConfirm = "confirm" // a live link: the button (or, if Auto, the script) signs in
	magicInvalid = "invalid" // unknown, used or expired
	magicError   = "error"   // anything else, with a message
)

type magicData struct {
	State    string
	BasePath string
	Token    string
	Email    string
	Nonce    string
	Error    string
	// Auto lets the page's script press its button: see autoSignIn.
	Auto bool

	// The sign-in page's theme, so that both pages look alike.
	Title  string
	Logo   template.URL
	Accent template.CSS
}

type magicPages struct {
	basePath   string
	formAction string
	theme      PageConfig
	tmpl       *template.Template
}

// newMagicPages takes the sign-in page's theme; a custom page template
// replaces the sign-in page only.
func newMagicPages(basePath, formAction string, theme PageConfig) (*magicPages, error) {
	t, err := template.ParseFS(templateFS, "templates/magic.html", "templates/style.html")
	if err != nil {
		return nil, err
	}
	theme, err = theme.resolved()
	if err != nil {
		return nil, err
	}
	return &magicPages{basePath: basePath, formAction: formAction, theme: theme, tmpl: t}, nil
}

// render writes the page. Its style carries a fresh nonce; only the
// confirm state with Auto has a script, allowed by the same nonce; every
// other page allows none.
func (mp *magicPages) render(w http.ResponseWriter, status int, d magicData) {
	d.BasePath = mp.basePath
	d.Title = mp.theme.Title
	d.Logo = template.URL(mp.theme.Logo)
	d.Accent = template.CSS(mp.theme.Color)
	d.Nonce = rand.Text()
	// The token is in this page's URL: never send it on as a Referer.
	writePage(w, status, mp.tmpl, d, httpkit.PagePolicy{Nonce: d.Nonce, Script: d.State == magicConfirm && d.Auto,
		Images: true, FormAction: mp.formAction})
}

// serveMagicPage answers GET /magic?token=. It only looks: mail scanners
// and link previews fetch links before people do, so a GET never signs in
// or uses anything up.
func (d *Door) serveMagicPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, err := d.env.Engine.PeekLink(r.Context(), token)
	switch {
	case err == nil:
		d.magicPages.render(w, http.StatusOK, magicData{State: magicConfirm, Token: token, Email: a.Identifier,
			Auto: d.autoSignIn(r, a.ID)})
	default:
		d.magicFailed(w, err)
	}
}

// autoSignIn reports whether the link page may press its own button. Any
// site can send a browser to a link (its own, for an account it controls:
// login CSRF), so the page signs in without a click only when the browser
// is the one that asked for this link (the pre-sign-in cookie names its
// attempt) or when a person opened it from outside any site, as from a
// mail program. Otherwise it asks "Sign in as ...?"; a click then signs in,
// so a link opened on another device still works.
func (d *Door) autoSignIn(r *http.Request, attemptID string) bool {
	return d.startCookie.names(r, attemptID) || httpkit.UserOpened(r.Header)
}

type magicRequest struct {
	Token string `json:"token"`
	// Tokens asks for an access and a refresh token, as on /verify.
	Tokens bool `json:"tokens"`
}

// serveMagic answers POST /magic: it consumes the link's attempt (as a
// right code would) and signs in. A form gets 303 to the attempt's
// redirect_to; a JSON client gets the answer of /verify.
func (d *Door) serveMagic(w http.ResponseWriter, r *http.Request) {
	var req magicRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.Token = r.PostForm.Get("token")
	}
	fail := func(e *apiError) {
		if isForm {
			d.magicPages.render(w, e.Status, magicData{State: magicError, Error: e.Message})
		} else {
			writeAPIError(w, e)
		}
	}
	if apiErr != nil {
		fail(apiErr)
		return
	}
	attempt, err := d.env.Engine.CheckLink(r.Context(), req.Token, d.env.Caller(r))
	if err != nil {
		if isForm {
			d.magicFailed(w, err)
		} else {
			writeAPIError(w, d.linkError(err))
		}
		return
	}
	if apiErr := d.signIn(w, r, attempt, verify.MethodLink, isForm, req.Tokens); apiErr != nil {
		fail(apiErr)
	}
}

func (d *Door) linkError(err error) *apiError {
	if errors.Is(err, verify.ErrAttemptNotFound) {
		return newAPIError(http.StatusNotFound, errAttemptNotFound, "this sign-in link has expired or was already used; ask for a new one")
	}
	return d.apiError(err, "")
}

// magicFailed shows the page for a link that cannot sign in.
func (d *Door) magicFailed(w http.ResponseWriter, err error) {
	e := d.linkError(err)
	if e.Code == errAttemptNotFound {
		d.magicPages.render(w, e.Status, magicData{State: magicInvalid})
		return
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	d.magicPages.render(w, e.Status, magicData{State: magicError, Error: e.Message})
}
