package native

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

type startRequest struct {
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	RedirectTo string `json:"redirect_to"`
	CreateUser *bool  `json:"create_user"`
}

type startResponse struct {
	AttemptID   string    `json:"attempt_id"`
	Channel     string    `json:"channel"`
	ExpiresAt   time.Time `json:"expires_at"`
	ResendAfter time.Time `json:"resend_after"`
}

func (d *Door) serveStart(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.Email = r.PostForm.Get("email")
		req.Phone = r.PostForm.Get("phone")
		req.RedirectTo = r.PostForm.Get("redirect_to")
	}
	req.RedirectTo = d.env.Redirects.Safe(req.RedirectTo)
	if apiErr == nil {
		apiErr = d.start(w, r, req, isForm)
	}
	if apiErr != nil {
		if isForm {
			d.pages.render(w, apiErr.Status, pageData{State: stateEmail, Channel: formChannel(req.Phone),
				Email: req.Email, Phone: req.Phone, RedirectTo: req.RedirectTo, Error: pageError(apiErr)})
			return
		}
		writeAPIError(w, apiErr)
	}
}

func (d *Door) start(w http.ResponseWriter, r *http.Request, req startRequest, isForm bool) *apiError {
	sr := verify.StartRequest{
		RedirectTo: req.RedirectTo,
		CreateUser: req.CreateUser == nil || *req.CreateUser,
		Caller:     d.env.Caller(r),
	}
	switch {
	case req.Email != "" && req.Phone != "":
		return newAPIError(http.StatusBadRequest, errInvalidRequest, "send either email or phone, not both")
	case req.Email != "":
		sr.Channel, sr.Identifier = verify.ChannelEmail, req.Email
	case req.Phone != "":
		sr.Channel, sr.Identifier = verify.ChannelPhone, req.Phone
	default:
		return newAPIError(http.StatusBadRequest, errInvalidRequest, "an email address or a phone number is required")
	}
	if base := d.env.LinkBase(r, "/magic"); base != "" {
		sr.Link = func(token string) string { return base + "?token=" + token }
	}
	started, err := d.env.Engine.Start(r.Context(), sr)
	if err != nil {
		return d.apiError(err, sr.Channel)
	}
	// Set for every 200, decoys too, so that it tells nothing.
	if err := d.startCookie.add(w, r, started.AttemptID); err != nil {
		d.env.Logger.Error("pre-sign-in cookie", zap.Error(err)) // the link then asks for a click
	}
	if isForm {
		d.pages.render(w, http.StatusOK, codePage(sr.Channel, started.Identifier, started.AttemptID, sr.RedirectTo,
			started.ResendAfter.UnixMilli()))
		return nil
	}
	httpkit.WriteJSON(w, http.StatusOK, startResponse{
		AttemptID:   started.AttemptID,
		Channel:     started.Channel,
		ExpiresAt:   started.ExpiresAt.UTC(),
		ResendAfter: started.ResendAfter.UTC(),
	})
	return nil
}

type verifyRequest struct {
	AttemptID string `json:"attempt_id"`
	Code      string `json:"code"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	// Tokens asks for an access and a refresh token besides the cookie.
	Tokens bool `json:"tokens"`
}

func (d *Door) serveVerify(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.AttemptID = r.PostForm.Get("attempt_id")
		req.Code = r.PostForm.Get("code")
		req.Email = r.PostForm.Get("email")
		req.Phone = r.PostForm.Get("phone")
	}
	if apiErr == nil {
		apiErr = d.verify(w, r, req, isForm)
	}
	if apiErr == nil {
		return
	}
	if !isForm {
		writeAPIError(w, apiErr)
		return
	}
	resendAt, _ := strconv.ParseInt(r.PostForm.Get("resend_at"), 10, 64) // display only
	data := codePage(formChannel(req.Phone), req.Email, req.AttemptID, d.env.Redirects.Safe(r.PostForm.Get("redirect_to")), resendAt)
	data.Phone, data.Error = req.Phone, pageError(apiErr)
	if apiErr.Code != errInvalidCode && apiErr.Code != errInvalidRequest {
		// The attempt is gone: start over from the address.
		data.State = stateEmail
	}
	d.pages.render(w, apiErr.Status, data)
}

func (d *Door) verify(w http.ResponseWriter, r *http.Request, req verifyRequest, isForm bool) *apiError {
	cr := verify.CheckRequest{AttemptID: req.AttemptID, Code: req.Code, Caller: d.env.Caller(r)}
	switch {
	case req.Email != "":
		cr.Channel, cr.Identifier = verify.ChannelEmail, req.Email
	case req.Phone != "":
		cr.Channel, cr.Identifier = verify.ChannelPhone, req.Phone
	}
	attempt, err := d.env.Engine.CheckCode(r.Context(), cr)
	if err != nil {
		return d.apiError(err, cr.Channel)
	}
	return d.signIn(w, r, attempt, verify.MethodCode, isForm, req.Tokens)
}

// signIn turns a consumed attempt into a session, sets its cookie and
// answers: a form 303 to the attempt's redirect_to, a JSON client the user,
// the session and, if asked, tokens. A right code (/verify) and a magic
// link (/magic) both end here.
func (d *Door) signIn(w http.ResponseWriter, r *http.Request, attempt verify.Attempt, method string, isForm, wantTokens bool) *apiError {
	wantTokens = wantTokens && !isForm
	in, err := d.env.Engine.SignIn(r.Context(), verify.SignInRequest{
		Attempt: attempt, Method: method, Refresh: wantTokens, Caller: d.env.Caller(r),
	})
	if err != nil {
		return d.apiError(err, attempt.Channel)
	}
	// Tokens before the cookie: an error answer must not sign the browser in.
	var toks *tokenResponse
	if wantTokens {
		t, err := d.tokens(in.Session, in.AMR, in.RefreshToken)
		if err != nil {
			return d.apiError(err, "")
		}
		toks = &t
	}
	if err := d.env.Session.Set(w, in.Secret); err != nil {
		return d.apiError(err, "")
	}
	redirectTo := d.env.Redirects.Safe(attempt.RedirectTo)
	if isForm {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, redirectTo, http.StatusSeeOther)
		return nil
	}
	httpkit.WriteJSON(w, http.StatusOK, signInResponse{
		User:          userJSON(in.User),
		Session:       sessionJSON(in.Session),
		RedirectTo:    redirectTo,
		tokenResponse: toks,
	})
	return nil
}

// signInResponse is a JSON client's answer to a sign-in; the token fields
// are there only when tokens were asked for (a nil embedded pointer adds
// none).
type signInResponse struct {
	User       userBody       `json:"user"`
	Session    map[string]any `json:"session"`
	RedirectTo string         `json:"redirect_to"`
	*tokenResponse
}

// apiError maps the engine's errors to the native API's. channel names the
// one an invalid identifier was given for, for the message.
func (d *Door) apiError(err error, channel string) *apiError {
	var wrong *verify.WrongCodeError
	var limited *verify.RateLimitedError
	switch {
	case errors.As(err, &limited):
		wait := int(math.Ceil(limited.RetryAfter.Seconds()))
		e := newAPIError(http.StatusTooManyRequests, errRateLimited,
			fmt.Sprintf("too many requests (%s); try again in %s", limited.Limit, waitText(wait)))
		e.Extra = map[string]any{"retry_after": wait}
		return e
	case errors.As(err, &wrong):
		e := newAPIError(http.StatusBadRequest, errInvalidCode, "that code is not right")
		e.Extra = map[string]any{"attempts_left": wrong.AttemptsLeft}
		return e
	case errors.Is(err, verify.ErrInvalidIdentifier) && channel == verify.ChannelPhone:
		return newAPIError(http.StatusBadRequest, errInvalidRequest,
			"that is not a valid phone number: use the international form, +44 7946 095800")
	case errors.Is(err, verify.ErrInvalidIdentifier):
		return newAPIError(http.StatusBadRequest, errInvalidRequest, "that is not a valid email address")
	case errors.Is(err, verify.ErrInvalidInput):
		return newAPIError(http.StatusBadRequest, errInvalidRequest, errors.Unwrap(err).Error())
	case errors.Is(err, verify.ErrAttemptNotFound):
		return newAPIError(http.StatusNotFound, errAttemptNotFound, "this code has expired or was already used; ask for a new one")
	case errors.Is(err, verify.ErrTooManyAttempts):
		return newAPIError(http.StatusTooManyRequests, errTooManyAttempts, "too many wrong codes; ask for a new one")
	case errors.Is(err, verify.ErrChannelNotConfigured) && channel == verify.ChannelPhone:
		return newAPIError(http.StatusNotImplemented, errChannelNotConfigured, "sign-in by phone is not configured")
	case errors.Is(err, verify.ErrChannelNotConfigured):
		return newAPIError(http.StatusNotImplemented, errChannelNotConfigured, "this sign-in channel is not configured")
	case errors.Is(err, verify.ErrDeliveryFailed):
		// Logged when the delivery failed, not at every check.
		return newAPIError(http.StatusBadGateway, errDeliveryFailed, "the code could not be sent; ask for a new one")
	case errors.Is(err, verify.ErrUserBlocked):
		return newAPIError(http.StatusForbidden, errUserBlocked, "this account is blocked; ask the site's operator")
	case errors.Is(err, verify.ErrUnavailable):
		d.env.Logger.Error("store unavailable", zap.Error(err))
		return newAPIError(http.StatusServiceUnavailable, errStoreUnavailable, "the session store is unavailable; try again shortly")
	default:
		d.env.Logger.Error("sign-in error", zap.Error(err))
		return newAPIError(http.StatusInternalServerError, errInternal, "internal error")
	}
}

// storeFailed answers 503: the state is out of reach.
func (d *Door) storeFailed(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	writeAPIError(w, d.apiError(err, ""))
}

func (d *Door) serveSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, err := d.env.Engine.Authenticate(ctx, d.env.Session.Credential(r))
	var user verify.User
	if err == nil {
		user, err = d.env.Engine.User(ctx, sess.UserID)
		user.Roles = sess.Roles
	}
	switch {
	case err == nil:
		httpkit.WriteJSON(w, http.StatusOK, map[string]any{"user": userJSON(user), "session": sessionJSON(sess)})
	case errors.Is(err, verify.ErrInvalidToken):
		BearerChallenge(w)
	case errors.Is(err, verify.ErrUnauthenticated):
		writeAPIError(w, newAPIError(http.StatusUnauthorized, errUnauthorized, "not signed in"))
	default:
		d.storeFailed(w, err)
	}
}

type logoutRequest struct {
	Scope string `json:"scope"`
}

func (d *Door) serveLogout(w http.ResponseWriter, r *http.Request) {
	var req logoutRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.Scope = r.PostForm.Get("scope")
	}
	scope, ok := verify.ParseScope(req.Scope)
	if apiErr == nil && !ok {
		apiErr = newAPIError(http.StatusBadRequest, errInvalidRequest, `scope must be "local", "global" or "others"`)
	}
	if apiErr != nil {
		writeAPIError(w, apiErr)
		return
	}
	s, revoked, err := d.env.Engine.Logout(r.Context(), d.env.Session.Credential(r), scope, d.env.Caller(r))
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	if scope == verify.ScopeOthers {
		// This session stays signed in, so the cookie stays, and the
		// page shows what is left; ending the others of no session is
		// being signed out.
		switch {
		case isForm:
			q := url.Values{"ended": {strconv.Itoa(revoked)}}
			if s.ID == "" {
				q = nil
			}
			d.redirectToPage(w, r, d.env.Redirects.Safe(r.PostForm.Get("redirect_to")), q)
		case s.ID == "":
			writeAPIError(w, newAPIError(http.StatusUnauthorized, errUnauthorized, "not signed in"))
		default:
			httpkit.WriteJSON(w, http.StatusOK, map[string]any{"revoked": revoked})
		}
		return
	}
	d.env.Session.Clear(w)
	if isForm {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, d.env.Mount+"/login?signed_out=1", http.StatusSeeOther)
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]any{"revoked": revoked})
}

func (d *Door) serveLoginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := pageData{State: stateEmail, RedirectTo: d.env.Redirects.Safe(q.Get("redirect_to"))}
	if q.Get("signed_out") != "" {
		data.Notice = "You are signed out."
	}
	sess, err := d.env.Engine.Authenticate(r.Context(), d.env.Session.Credential(r))
	var list []listedSession
	if err == nil {
		list, err = d.listSessions(r, sess)
	}
	switch {
	case err == nil:
		data.State = stateSignedIn
		data.Email, data.Phone = sess.Email, sess.Phone
		data.Sessions = pageSessions(list)
		if n := endedNotice(q); n != "" {
			data.Notice = n
		}
	case errors.Is(err, verify.ErrUnauthenticated):
	default:
		d.env.Logger.Error("store unavailable", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		data.Error = "The session store is unavailable; try again shortly."
		d.pages.render(w, http.StatusServiceUnavailable, data)
		return
	}
	d.pages.render(w, http.StatusOK, data)
}

type userBody struct {
	ID           string    `json:"id"`
	Email        *string   `json:"email"`
	Phone        *string   `json:"phone"`
	Roles        []string  `json:"roles"`
	CreatedAt    time.Time `json:"created_at"`
	LastSignInAt time.Time `json:"last_sign_in_at"`
}

func userJSON(u verify.User) userBody {
	b := userBody{ID: u.ID, Roles: u.Roles, CreatedAt: u.CreatedAt.UTC(), LastSignInAt: u.LastSignInAt.UTC()}
	if u.Email != "" {
		b.Email = &u.Email
	}
	if u.Phone != "" {
		b.Phone = &u.Phone
	}
	if b.Roles == nil {
		b.Roles = []string{}
	}
	return b
}

func sessionJSON(s verify.Session) map[string]any {
	return map[string]any{"id": s.ID, "created_at": s.CreatedAt.UTC(), "expires_at": s.ExpiresAt.UTC()}
}
