package nhost

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// signUpOptions is Nhost's SignUpOptions. passgate keeps no display name,
// locale or metadata, and the roles come from its `role` rules, so only
// redirectTo and the roles' consistency matter; the rest is read to be
// type-checked, and dropped.
type signUpOptions struct {
	AllowedRoles []string       `json:"allowedRoles"`
	DefaultRole  *string        `json:"defaultRole"`
	DisplayName  *string        `json:"displayName"`
	Locale       *string        `json:"locale"`
	Metadata     map[string]any `json:"metadata"`
	RedirectTo   *string        `json:"redirectTo"`
}

// startBody is the body of every sign-in start.
type startBody struct {
	Email         string         `json:"email"`
	PhoneNumber   string         `json:"phoneNumber"`
	Options       *signUpOptions `json:"options"`
	CodeChallenge string         `json:"codeChallenge"`
}

// otpBody is the body of the code checks.
type otpBody struct {
	Email       string `json:"email"`
	PhoneNumber string `json:"phoneNumber"`
	OTP         string `json:"otp"`
}

// start is a sign-in start as a route sends it: over which channel, and
// with a magic link or not.
type start struct {
	channel string
	link    bool
}

func (d *Door) serveSignInOTPEmail(w http.ResponseWriter, r *http.Request) {
	d.serveStart(w, r, start{channel: verify.ChannelEmail})
}

func (d *Door) serveSignInPasswordlessEmail(w http.ResponseWriter, r *http.Request) {
	d.serveStart(w, r, start{channel: verify.ChannelEmail, link: true})
}

func (d *Door) serveSignInSMS(w http.ResponseWriter, r *http.Request) {
	d.serveStart(w, r, start{channel: verify.ChannelPhone})
}

// serveStart sends a code (and, for the passwordless email, a link) and
// answers "OK", for an address that may sign in or not alike.
func (d *Door) serveStart(w http.ResponseWriter, r *http.Request, how start) {
	var body startBody
	if e := readJSON(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	if e := d.start(r, how, body); e != nil {
		writeError(w, e)
		return
	}
	writeOK(w)
}

func (d *Door) start(r *http.Request, how start, body startBody) *apiError {
	identifier := body.Email
	if how.channel == verify.ChannelPhone {
		identifier = body.PhoneNumber
	}
	if identifier == "" {
		field := map[string]string{verify.ChannelEmail: "email", verify.ChannelPhone: "phoneNumber"}[how.channel]
		return newError(http.StatusBadRequest, errInvalidRequest, field+" is required")
	}
	redirectTo, e := d.checkOptions(r, body.Options)
	if e != nil {
		return e
	}
	if body.CodeChallenge != "" && (!how.link || !validChallenge(body.CodeChallenge)) {
		return newError(http.StatusBadRequest, errInvalidRequest,
			"codeChallenge must be the S256 challenge of a PKCE verifier (43 characters of base64url), and only for the email link")
	}
	sr := verify.StartRequest{
		Channel:    how.channel,
		Identifier: identifier,
		RedirectTo: redirectTo,
		CreateUser: true,
		Caller:     d.env.Caller(r),
	}
	if how.link {
		if base := d.env.LinkBase(r, "/verify"); base != "" {
			sr.Link = func(token string) string { return linkURL(base, token, redirectTo, body.CodeChallenge) }
		}
	}
	if _, err := d.env.Engine.Start(r.Context(), sr); err != nil {
		return d.failure(err, how.channel)
	}
	return nil
}

// checkOptions checks what of the options passgate honours, and returns
// where a link may send the browser. Roles are the `role` rules': a client
// may not choose its own, so a default role other than the configured one
// is refused, as Nhost refuses one it does not allow.
func (d *Door) checkOptions(r *http.Request, o *signUpOptions) (redirectTo string, _ *apiError) {
	if o == nil {
		return "/", nil
	}
	if o.DefaultRole != nil && *o.DefaultRole != d.cfg.DefaultRole {
		return "", newError(http.StatusBadRequest, errRoleNotAllowed, fmt.Sprintf(msgRoleNotAllowedTemplate, d.cfg.DefaultRole))
	}
	if o.AllowedRoles != nil && !slices.Contains(o.AllowedRoles, d.cfg.DefaultRole) {
		return "", newError(http.StatusBadRequest, errDefaultRoleNotAllowed, msgDefaultRoleNotInRoles)
	}
	target := ""
	if o.RedirectTo != nil {
		target = *o.RedirectTo
	}
	redirectTo, ok := d.redirectTarget(r, target)
	if !ok {
		return "", newError(http.StatusBadRequest, errRedirectToNotAllowed, msgRedirectToNotAllowed)
	}
	return redirectTo, nil
}

// redirectTarget returns target if a sign-in may send the browser there: a
// path on this site, or a URL on this site's origin (the one its links are
// on) or on a `redirect_origins` origin. "" is the site's root.
func (d *Door) redirectTarget(r *http.Request, target string) (string, bool) {
	if target == "" {
		return "/", true
	}
	if d.env.Redirects.Safe(target) == target {
		return target, true
	}
	if strings.HasPrefix(target, "/") {
		return "", false
	}
	own := d.env.LinkOrigin
	if own == "" && r.Host != "" {
		own = httpkit.LinkOrigin(r)
	}
	site, err := httpkit.NewRedirectPolicy([]string{own})
	if err != nil || site.Safe(target) != target {
		return "", false
	}
	return target, true
}

// linkURL is the emailed link, as Nhost's: GET <mount>/verify with the
// ticket, the redirect and, for PKCE, the challenge.
func linkURL(base, token, redirectTo, challenge string) string {
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("?type=signinPasswordless&ticket=")
	b.WriteString(url.QueryEscape(ticketPrefix + token))
	b.WriteString("&redirectTo=")
	b.WriteString(url.QueryEscape(redirectTo))
	if challenge != "" {
		b.WriteString("&codeChallenge=")
		b.WriteString(challenge)
	}
	return b.String()
}

func (d *Door) serveVerifyOTPEmail(w http.ResponseWriter, r *http.Request) {
	d.serveCheckCode(w, r, verify.ChannelEmail, false)
}

func (d *Door) serveVerifySMS(w http.ResponseWriter, r *http.Request) {
	d.serveCheckCode(w, r, verify.ChannelPhone, true)
}

// serveCheckCode signs in with the code last sent to the address and
// answers {session} (and, for SMS, "mfa": null, as Nhost does).
func (d *Door) serveCheckCode(w http.ResponseWriter, r *http.Request, channel string, withMFA bool) {
	var body otpBody
	if e := readJSON(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	identifier := body.Email
	if channel == verify.ChannelPhone {
		identifier = body.PhoneNumber
	}
	if identifier == "" || body.OTP == "" {
		field := map[string]string{verify.ChannelEmail: "email", verify.ChannelPhone: "phoneNumber"}[channel]
		writeError(w, newError(http.StatusBadRequest, errInvalidRequest, field+" and otp are required"))
		return
	}
	attempt, err := d.env.Engine.CheckCode(r.Context(), verify.CheckRequest{
		Code: body.OTP, Channel: channel, Identifier: identifier, Caller: d.env.Caller(r),
	})
	if err != nil {
		writeError(w, d.failure(err, channel))
		return
	}
	s, e := d.signIn(r, attempt, verify.MethodCode)
	if e != nil {
		writeError(w, e)
		return
	}
	if withMFA {
		httpkit.WriteJSON(w, http.StatusOK, struct {
			Session sessionBody `json:"session"`
			MFA     *struct{}   `json:"mfa"`
		}{Session: s})
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, sessionPayload{Session: s})
}
