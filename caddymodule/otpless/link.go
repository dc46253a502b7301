package otpless

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

//go:embed templates
var templateFS embed.FS

// pageData is what the landing page shows.
type pageData struct {
	State  string // "confirm" or "error"
	To     string // the address or number verified
	Action string
	Token  string
	// Auto lets the page's script press its button: the person opened the
	// link from outside any site, as from a mail or SMS app.
	Auto  bool
	Error string
	Nonce string
}

// linkAttempt returns the live attempt of one of this door's magic links,
// and its state, without using it.
func (d *Door) linkAttempt(r *http.Request, token string) (verify.Attempt, linkState, error) {
	a, err := d.env.Engine.PeekLink(r.Context(), token)
	if err != nil {
		return a, linkState{}, err
	}
	var st linkState
	if json.Unmarshal(a.Data, &st) != nil || st.Kind != kindLink || st.Client == "" {
		// Another door's link: not this page's to use.
		return a, st, verify.ErrAttemptNotFound
	}
	return a, st, nil
}

// serveLinkPage answers GET /link?token=, the link in the message. It only
// looks: mail scanners and link previews fetch links before people do, so
// a GET uses nothing up. A live link shows a page whose button (pressed by
// its script when a person opened the link) posts the token, with what the
// script can tell of the device.
func (d *Door) serveLinkPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	a, _, err := d.linkAttempt(r, token)
	if err != nil {
		d.linkFailed(w, err)
		return
	}
	d.render(w, http.StatusOK, pageData{State: "confirm", To: a.Identifier, Token: token, Auto: userOpened(r.Header)})
}

// userOpened reports whether a person opened the page from outside any
// site (a mail or SMS app, the address bar): then its script may press
// the button.
func userOpened(h http.Header) bool {
	return h.Get("Sec-Fetch-Site") == "none" && h.Get("Sec-Fetch-User") == "?1"
}

// serveLinkContinue answers the landing page's POST: it uses the link up,
// records what verify/code reports under a new one-time code, and sends
// the browser to redirectURI?code=.
func (d *Door) serveLinkContinue(w http.ResponseWriter, r *http.Request) {
	if !d.env.SameOrigin(r) {
		d.render(w, http.StatusForbidden, pageData{State: "error", Error: "This verification was sent from another site, and refused."})
		return
	}
	isForm, be := httpkit.ReadBody(w, r, &struct{}{})
	if be == nil && !isForm {
		be = &httpkit.BodyError{Status: http.StatusUnsupportedMediaType, Message: "send the page's form"}
	}
	if be != nil {
		d.render(w, be.Status, pageData{State: "error", Error: be.Message})
		return
	}
	form := r.PostForm
	token := form.Get("token")
	ctx := r.Context()
	_, st, err := d.linkAttempt(r, token)
	if err != nil {
		d.linkFailed(w, err)
		return
	}
	if !d.allowedRedirect(st.RedirectURI) { // allowed when the link was sent, no longer
		d.render(w, http.StatusBadRequest, pageData{State: "error", Error: "The app's address is no longer allowed. Ask the app for a new link."})
		return
	}
	a, err := d.env.Engine.CheckLink(ctx, token, d.env.BackendCaller(r, st.Client))
	if err != nil {
		d.linkFailed(w, err)
		return
	}
	h := handoff{
		Client:    st.Client,
		RequestID: d.requestID(a.ID, st.Client, kindLink),
		Channel:   a.Channel,
		Value:     a.Identifier,
		At:        clock.Now().UnixMilli(),
		IP:        httpkit.ClientIP(r),
		Device:    readDevice(r.Header.Get("User-Agent"), form),
	}
	data, _ := json.Marshal(h)
	code, err := d.env.Engine.IssueHandoff(ctx, data, codeTTL)
	if err != nil {
		d.linkFailed(w, err)
		return
	}
	u, _ := url.Parse(st.RedirectURI) // allowedRedirect passes only what parses
	q := u.Query()
	q.Set("code", code)
	u.RawQuery = q.Encode()
	hd := w.Header()
	hd.Set("Location", u.String())
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusSeeOther)
}

// Bounds on what the page's script posts; a value outside them is left
// out, never made up.
const (
	maxDeviceText = 256
	maxUserAgent  = 1024
	maxScreen     = 100000
	maxPixelRatio = 16
)

// readDevice takes the device information the browser gave: its
// User-Agent, and the fields the page's script filled in.
func readDevice(userAgent string, form url.Values) deviceInfo {
	text := func(v string, max int) string {
		if len(v) > max || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return ""
		}
		return v
	}
	dim := func(v string) int {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxScreen {
			return 0
		}
		return n
	}
	dev := deviceInfo{
		UserAgent:    text(userAgent, maxUserAgent),
		Platform:     text(form.Get("platform"), maxDeviceText),
		Language:     text(form.Get("language"), maxDeviceText),
		ScreenWidth:  dim(form.Get("screenWidth")),
		ScreenHeight: dim(form.Get("screenHeight")),
	}
	if f, err := strconv.ParseFloat(form.Get("devicePixelRatio"), 64); err == nil && f > 0 && f <= maxPixelRatio && !math.IsNaN(f) {
		dev.DevicePixelRatio = &f
	}
	return dev
}

// linkFailed answers a link that cannot be used: a page that says so, or,
// when the store is out of reach, one that says to try again, since
// nothing is lost.
func (d *Door) linkFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, verify.ErrUnavailable) {
		d.env.Logger.Error("store unavailable", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		d.render(w, http.StatusServiceUnavailable, pageData{State: "error", Error: "Verifying is unavailable for a moment. Open the link again shortly."})
		return
	}
	var limited *verify.RateLimitedError
	if errors.As(err, &limited) {
		d.render(w, http.StatusTooManyRequests, pageData{State: "error", Error: "Too many verifications right now. Open the link again in a few minutes."})
		return
	}
	d.render(w, http.StatusNotFound, pageData{State: "error", Error: "This link has expired or has already been used. Ask the app for a new one."})
}

// render writes the landing page. Its style and script carry a fresh
// nonce. The token is in the page's URL: never send it on as a Referer.
func (d *Door) render(w http.ResponseWriter, status int, data pageData) {
	data.Action = d.env.Mount + "/" + routeLink
	data.Nonce = rand.Text()
	var buf bytes.Buffer
	if err := d.page.Execute(&buf, data); err != nil {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Message: "could not render the page"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+data.Nonce+"'; style-src 'nonce-"+data.Nonce+
		"'; form-action 'self'"+d.formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
