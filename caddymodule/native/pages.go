package native

import (
	"crypto/rand"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

//go:embed templates/login.html templates/magic.html templates/style.html
var templateFS embed.FS

// States of the sign-in page.
const (
	stateEmail    = "email"     // asks for the address (or phone number)
	stateCode     = "code"      // asks for the code sent to it
	stateSignedIn = "signed_in" // offers to continue or sign out
)

// pageData is what the sign-in template gets; a custom template (page
// template) gets the same, so fields are part of the documented surface.
type pageData struct {
	State      string
	BasePath   string
	Channel    string // "email" or "phone": the form in use
	Email      string
	Phone      string
	AttemptID  string
	RedirectTo string
	Error      string
	Notice     string
	// ResendAt is when a new code may be asked for, in Unix milliseconds
	// (0: now); ResendIn is the same in whole seconds from now.
	ResendAt int64
	ResendIn int
	// LinkSent: the email also carries a sign-in link.
	LinkSent bool

	// Set by render.
	Title        string
	Logo         template.URL
	Accent       template.CSS
	Nonce        string
	EmailEnabled bool
	PhoneEnabled bool
	CodeLength   int
	ExpiresIn    string // "10 minutes"
}

type pages struct {
	basePath     string
	tmpl         *template.Template
	theme        PageConfig
	emailEnabled bool
	phoneEnabled bool
	codeLength   int
	expiresIn    string
	// formAction lists allowed redirect origins for the CSP form-action
	// directive, which also governs where a form's answer may redirect.
	formAction string
}

func newPages(env *httpkit.Env, theme PageConfig) (*pages, error) {
	var t *template.Template
	var err error
	if theme.Template != "" {
		t, err = template.New(filepath.Base(theme.Template)).ParseFiles(theme.Template)
		if err != nil {
			return nil, fmt.Errorf("page template: %v", err)
		}
	} else if t, err = template.ParseFS(templateFS, "templates/login.html", "templates/style.html"); err != nil {
		return nil, err
	}
	if theme, err = theme.resolved(); err != nil {
		return nil, err
	}
	mins := int(env.Engine.CodeTTL().Round(time.Minute) / time.Minute)
	expiresIn := strconv.Itoa(mins) + " minutes"
	if mins <= 1 {
		expiresIn = "1 minute"
	}
	pg := &pages{
		basePath:     env.Mount,
		tmpl:         t,
		theme:        theme,
		emailEnabled: env.Engine.ChannelConfigured(verify.ChannelEmail),
		phoneEnabled: env.Engine.ChannelConfigured(verify.ChannelPhone),
		codeLength:   env.Engine.CodeLength(),
		expiresIn:    expiresIn,
		formAction:   env.Redirects.FormActionSources(),
	}
	return pg, nil
}

// render writes the sign-in page in the given state. The page loads
// nothing from elsewhere, may not be framed, and runs only the inline
// script and style carrying this response's nonce.
func (pg *pages) render(w http.ResponseWriter, status int, d pageData) {
	d.BasePath = pg.basePath
	d.Title = pg.theme.Title
	// Checked by CheckLogo and CheckColour at provision: safe in a URL
	// attribute and in a CSS declaration.
	d.Logo = template.URL(pg.theme.Logo)
	d.Accent = template.CSS(pg.theme.Color)
	d.Nonce = rand.Text()
	// With no channel at all the email form still shows, so that a user
	// gets "not configured" rather than an empty page.
	d.EmailEnabled = pg.emailEnabled || !pg.phoneEnabled
	d.PhoneEnabled = pg.phoneEnabled
	d.CodeLength = pg.codeLength
	d.ExpiresIn = pg.expiresIn
	if d.Channel == "" || d.State == stateEmail && d.Channel == verify.ChannelPhone && !d.PhoneEnabled {
		d.Channel = verify.ChannelEmail
		if !d.EmailEnabled {
			d.Channel = verify.ChannelPhone
		}
	}
	if d.ResendAt > 0 {
		d.ResendIn = int((time.Until(time.UnixMilli(d.ResendAt)) + time.Second - 1) / time.Second)
		if d.ResendIn < 0 {
			d.ResendIn = 0
		}
	}
	// Not no-referrer: under it browsers send "Origin: null" with the
	// page's own form posts, which only Sec-Fetch-Site can then vouch for.
	// same-origin still tells nothing to other sites.
	writePage(w, status, pg.tmpl, d, httpkit.PagePolicy{Nonce: d.Nonce, Script: true, Images: true,
		FormAction: pg.formAction, Referrer: "same-origin"})
}

// writePage writes a page, or the error of a template that failed.
func writePage(w http.ResponseWriter, status int, tmpl *template.Template, data any, pp httpkit.PagePolicy) {
	if err := httpkit.WritePage(w, status, tmpl, data, pp); err != nil {
		writeAPIError(w, newAPIError(http.StatusInternalServerError, errInternal, "could not render the page"))
	}
}

// pageError is the sentence the page shows for an API error, with the
// details the JSON answer carries as fields.
func pageError(e *apiError) string {
	switch e.Code {
	case errInvalidCode:
		if n, ok := e.Extra["attempts_left"].(int); ok {
			if n == 1 {
				return "That code is not right. You have 1 try left."
			}
			return fmt.Sprintf("That code is not right. You have %d tries left.", n)
		}
		return "That code is not right."
	case errAttemptNotFound:
		return "This code has expired or was already used. Ask for a new one."
	case errTooManyAttempts:
		return "Too many wrong codes. Ask for a new one."
	case errRateLimited:
		if n, ok := e.Extra["retry_after"].(int); ok {
			return "Too many requests. Try again in " + waitText(n) + "."
		}
		return "Too many requests. Try again later."
	case errChannelNotConfigured:
		return "Signing in this way is not available here."
	case errDeliveryFailed:
		return "We could not send your code. Try again in a moment."
	}
	return sentence(e.Message)
}

// sentence capitalises an API message and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// waitText says how long to wait, for the page and the API's message.
func waitText(secs int) string {
	switch {
	case secs <= 1:
		return "1 second"
	case secs < 120:
		return strconv.Itoa(secs) + " seconds"
	case secs < 120*60:
		return strconv.Itoa((secs+59)/60) + " minutes"
	default:
		return strconv.Itoa((secs+3599)/3600) + " hours"
	}
}

// codePage is the page asking for the code sent to identifier.
func codePage(channel, identifier, attemptID, redirectTo string, resendAt int64) pageData {
	d := pageData{State: stateCode, Channel: channel, AttemptID: attemptID, RedirectTo: redirectTo, ResendAt: resendAt}
	if channel == verify.ChannelPhone {
		d.Phone = identifier
	} else {
		d.Email = identifier
		d.LinkSent = true // every sign-in email carries the magic link too
	}
	return d
}

// formChannel is the channel of a form post: the phone form sends phone.
func formChannel(phone string) string {
	if phone != "" {
		return verify.ChannelPhone
	}
	return verify.ChannelEmail
}
