package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify"
)

// maxBodyBytes bounds every request body the routes read.
const maxBodyBytes = 16 << 10

// bodyReadTimeout bounds the time to read a body on passgate's routes, so
// that a client sending a byte now and then cannot hold a request open. A
// variable only for tests.
var bodyReadTimeout atomic.Int64

func init() { bodyReadTimeout.Store(int64(10 * time.Second)) }

// serveRoute dispatches the routes under BasePath. Each answers JSON to an
// API client and pages or redirects to an HTML form.
func (p *Passgate) serveRoute(w http.ResponseWriter, r *http.Request, route string) {
	type handler func(http.ResponseWriter, *http.Request)
	var get, post handler
	switch route {
	case "login":
		get = p.serveLoginPage
	case "start":
		post = p.serveStart
	case "verify":
		post = p.serveVerify
	case "session":
		get = p.serveSession
	case "logout":
		post = p.serveLogout
	case "magic":
		get, post = p.serveMagicPage, p.serveMagic
	case "token":
		post = p.serveToken
	case "jwks.json":
		get = p.serveJWKS
	default:
		writeAPIError(w, newAPIError(http.StatusNotFound, errNotFound, "no such route"))
		return
	}
	switch {
	case get != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		get(w, r)
	case post != nil && r.Method == http.MethodPost:
		// A bearer header is never sent by a browser on its own, so such a
		// request cannot be forged cross-site; /token uses no cookie.
		_, bearer := bearerToken(r)
		if !sameOrigin(r, p.LinkOrigin) && !bearer && route != "token" {
			writeAPIError(w, newAPIError(http.StatusForbidden, errForbidden, "cross-site request refused"))
			return
		}
		// Past the deadline, reading the body fails (408 below). The
		// server sets the connection's read deadline anew for the next
		// request, so this one does not outlive it.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Duration(bodyReadTimeout.Load())))
		post(w, r)
	default:
		switch {
		case get != nil && post != nil:
			w.Header().Set("Allow", "GET, HEAD, POST")
		case get != nil:
			w.Header().Set("Allow", "GET, HEAD")
		default:
			w.Header().Set("Allow", "POST")
		}
		writeAPIError(w, newAPIError(http.StatusMethodNotAllowed, errMethodNotAllowed, "method not allowed"))
	}
}

// readBody decodes a JSON body into dst, or reports that the body is a
// form (parsed into r.PostForm). An empty body with no content type counts
// as an empty JSON object, so `POST /logout` needs none.
func readBody(w http.ResponseWriter, r *http.Request, dst any) (isForm bool, apiErr *apiError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	ct := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	if ct != "" && err != nil {
		return false, newAPIError(http.StatusUnsupportedMediaType, errInvalidRequest, "unreadable Content-Type")
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return true, bodyError(err)
		}
		return true, nil
	case "application/json", "":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false, bodyError(err)
		}
		if len(bytes.TrimSpace(body)) == 0 {
			if mediaType == "" {
				return false, nil
			}
			return false, newAPIError(http.StatusBadRequest, errInvalidRequest, "empty JSON body")
		}
		if mediaType == "" {
			return false, newAPIError(http.StatusUnsupportedMediaType, errInvalidRequest, "send Content-Type: application/json")
		}
		if checkJSONKeys(body) != nil {
			return false, newAPIError(http.StatusBadRequest, errInvalidRequest, "a key appears twice in the JSON body (keys are compared without regard to case)")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(dst); err != nil {
			return false, newAPIError(http.StatusBadRequest, errInvalidRequest, "malformed JSON body")
		}
		if dec.More() {
			return false, newAPIError(http.StatusBadRequest, errInvalidRequest, "trailing data after the JSON body")
		}
		return false, nil
	default:
		return false, newAPIError(http.StatusUnsupportedMediaType, errInvalidRequest,
			"send application/json or a form")
	}
}

func bodyError(err error) *apiError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return newAPIError(http.StatusRequestEntityTooLarge, errInvalidRequest, "request body too large")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return newAPIError(http.StatusRequestTimeout, errInvalidRequest, "the request body took too long to arrive")
	}
	return newAPIError(http.StatusBadRequest, errInvalidRequest, "unreadable request body")
}

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

func (p *Passgate) serveStart(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.Email = r.PostForm.Get("email")
		req.Phone = r.PostForm.Get("phone")
		req.RedirectTo = r.PostForm.Get("redirect_to")
	}
	req.RedirectTo = p.safeRedirect(req.RedirectTo)
	if apiErr == nil {
		apiErr = p.start(w, r, req, isForm)
	}
	if apiErr != nil {
		if isForm {
			p.pages.render(w, apiErr.Status, pageData{State: stateEmail, Channel: formChannel(req.Phone),
				Email: req.Email, Phone: req.Phone, RedirectTo: req.RedirectTo, Error: pageError(apiErr)})
			return
		}
		writeAPIError(w, apiErr)
	}
}

func (p *Passgate) start(w http.ResponseWriter, r *http.Request, req startRequest, isForm bool) *apiError {
	var sr verify.StartRequest
	switch {
	case req.Email != "" && req.Phone != "":
		return newAPIError(http.StatusBadRequest, errInvalidRequest, "send either email or phone, not both")
	case req.Email != "":
		email, err := verify.NormalizeEmail(req.Email)
		if err != nil {
			return newAPIError(http.StatusBadRequest, errInvalidRequest, "that is not a valid email address")
		}
		sr = verify.StartRequest{Channel: verify.ChannelEmail, Identifier: email}
	case req.Phone != "":
		if p.verifier.Senders[verify.ChannelPhone] == nil {
			return newAPIError(http.StatusNotImplemented, errChannelNotConfigured, "sign-in by phone is not configured")
		}
		phone, err := verify.NormalizePhone(req.Phone)
		if err != nil {
			return newAPIError(http.StatusBadRequest, errInvalidRequest,
				"that is not a valid phone number: use the international form, +44 7946 095800")
		}
		sr = verify.StartRequest{Channel: verify.ChannelPhone, Identifier: phone}
	default:
		return newAPIError(http.StatusBadRequest, errInvalidRequest, "an email address or a phone number is required")
	}
	sr.RedirectTo = req.RedirectTo
	sr.LinkBase = p.magicLinkBase(r)
	sr.CreateUser = req.CreateUser == nil || *req.CreateUser
	sr.ClientIP = clientIP(r)

	// The delivery ends after the answer; its audit event (delivered)
	// names the client too.
	ctx := context.WithValue(r.Context(), deliveryClientKey{}, sr.ClientIP)
	started, err := p.verifier.Start(ctx, sr)
	if err != nil {
		p.auditRefusal(r, err, zap.String("channel", sr.Channel))
		return p.verifyError(err)
	}
	p.audit(r, auditStarted, zap.String("channel", sr.Channel))
	// Set for every 200, decoys too, so that it tells nothing.
	if err := p.startCookie.add(w, r, started.AttemptID); err != nil {
		p.logger.Error("pre-sign-in cookie", zap.Error(err)) // the link then asks for a click
	}
	if isForm {
		p.pages.render(w, http.StatusOK, codePage(sr.Channel, sr.Identifier, started.AttemptID, sr.RedirectTo,
			started.ResendAfter.UnixMilli()))
		return nil
	}
	writeJSON(w, http.StatusOK, startResponse{
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

func (p *Passgate) serveVerify(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.AttemptID = r.PostForm.Get("attempt_id")
		req.Code = r.PostForm.Get("code")
		req.Email = r.PostForm.Get("email")
		req.Phone = r.PostForm.Get("phone")
	}
	if apiErr == nil {
		apiErr = p.verify(w, r, req, isForm)
	}
	if apiErr == nil {
		return
	}
	if !isForm {
		writeAPIError(w, apiErr)
		return
	}
	resendAt, _ := strconv.ParseInt(r.PostForm.Get("resend_at"), 10, 64) // display only
	data := codePage(formChannel(req.Phone), req.Email, req.AttemptID, p.safeRedirect(r.PostForm.Get("redirect_to")), resendAt)
	data.Phone, data.Error = req.Phone, pageError(apiErr)
	if apiErr.Code != errInvalidCode && apiErr.Code != errInvalidRequest {
		// The attempt is gone: start over from the address.
		data.State = stateEmail
	}
	p.pages.render(w, apiErr.Status, data)
}

func (p *Passgate) verify(w http.ResponseWriter, r *http.Request, req verifyRequest, isForm bool) *apiError {
	code := strings.Join(strings.Fields(req.Code), "") // "123 456" as pasted
	if req.AttemptID == "" || code == "" {
		return newAPIError(http.StatusBadRequest, errInvalidRequest, "attempt_id and code are required")
	}
	if len(code) > 32 {
		return newAPIError(http.StatusBadRequest, errInvalidRequest, "code is too long")
	}
	if !verify.ValidAttemptID(req.AttemptID) {
		return newAPIError(http.StatusNotFound, errAttemptNotFound, "this sign-in attempt is unknown, used or expired")
	}
	var identifier string
	switch {
	case req.Email != "":
		email, err := verify.NormalizeEmail(req.Email)
		if err != nil {
			return newAPIError(http.StatusBadRequest, errInvalidRequest, "that is not a valid email address")
		}
		identifier = email
	case req.Phone != "":
		phone, err := verify.NormalizePhone(req.Phone)
		if err != nil {
			return newAPIError(http.StatusBadRequest, errInvalidRequest, "that is not a valid phone number")
		}
		identifier = phone
	}

	ctx := r.Context()
	attempt, err := p.verifier.Check(ctx, verify.CheckRequest{
		AttemptID: req.AttemptID, Code: code, Identifier: identifier, ClientIP: clientIP(r),
	})
	if err != nil {
		p.auditRefusal(r, err, zap.String("method", "code"))
		return p.verifyError(err)
	}
	return p.signIn(w, r, attempt, byCode, isForm, req.Tokens)
}

// verifyError maps errors of verify and sessionstore to API errors.
func (p *Passgate) verifyError(err error) *apiError {
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
	case errors.Is(err, verify.ErrAttemptNotFound):
		return newAPIError(http.StatusNotFound, errAttemptNotFound, "this code has expired or was already used; ask for a new one")
	case errors.Is(err, verify.ErrTooManyAttempts):
		return newAPIError(http.StatusTooManyRequests, errTooManyAttempts, "too many wrong codes; ask for a new one")
	case errors.Is(err, verify.ErrChannelNotConfigured):
		return newAPIError(http.StatusNotImplemented, errChannelNotConfigured, "this sign-in channel is not configured")
	case errors.Is(err, verify.ErrDeliveryFailed):
		// Logged when the delivery failed (delivered), not at every check.
		return newAPIError(http.StatusBadGateway, errDeliveryFailed, "the code could not be sent; ask for a new one")
	case errors.Is(err, sessionstore.ErrUnavailable):
		p.logger.Error("store unavailable", zap.Error(err))
		return newAPIError(http.StatusServiceUnavailable, errStoreUnavailable, "the session store is unavailable; try again shortly")
	default:
		p.logger.Error("sign-in error", zap.Error(err))
		return newAPIError(http.StatusInternalServerError, errInternal, "internal error")
	}
}

func (p *Passgate) serveSession(w http.ResponseWriter, r *http.Request) {
	sess, err := p.authenticate(r)
	var user sessionstore.User
	if err == nil {
		user, err = p.store.User(r.Context(), sess.UserID)
		user.Roles = sess.Roles
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(user), "session": sessionJSON(sess)})
	case errors.Is(err, errBadBearer):
		bearerChallenge(w)
	case errors.Is(err, sessionstore.ErrNotFound):
		writeAPIError(w, newAPIError(http.StatusUnauthorized, errUnauthorized, "not signed in"))
	default:
		p.storeFailed(w, err)
	}
}

type logoutRequest struct {
	Scope string `json:"scope"`
}

func (p *Passgate) serveLogout(w http.ResponseWriter, r *http.Request) {
	var req logoutRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.Scope = r.PostForm.Get("scope")
	}
	if apiErr == nil && req.Scope != "" && req.Scope != "local" && req.Scope != "global" {
		apiErr = newAPIError(http.StatusBadRequest, errInvalidRequest, `scope must be "local" or "global"`)
	}
	if apiErr != nil {
		writeAPIError(w, apiErr)
		return
	}
	ctx := r.Context()
	revoked := 0
	// Not authenticate: someone the policy no longer allows may still end
	// their sessions.
	sess, err := p.sessionOf(r)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		err = nil
	case err == nil && req.Scope == "global":
		revoked, err = p.sessions.RevokeAll(ctx, sess.UserID)
	case err == nil:
		err = p.sessions.RevokeID(ctx, sess.ID, sess.UserID)
		revoked = 1
	}
	if err != nil {
		p.storeFailed(w, err)
		return
	}
	p.cookie.clear(w)
	if sess.UserID != "" {
		p.audit(r, auditSignedOut, zap.String("user_id", sess.UserID), zap.String("scope", req.Scope),
			zap.Int("revoked", revoked))
	}
	if isForm {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p.BasePath+"/login?signed_out=1", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": revoked})
}

func (p *Passgate) serveLoginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := pageData{State: stateEmail, RedirectTo: p.safeRedirect(q.Get("redirect_to"))}
	if q.Get("signed_out") != "" {
		data.Notice = "You are signed out."
	}
	sess, err := p.authenticate(r)
	switch {
	case err == nil:
		data.State = stateSignedIn
		data.Email, data.Phone = sess.Email, sess.Phone
	case errors.Is(err, sessionstore.ErrNotFound):
	default:
		p.logger.Error("store unavailable", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		data.Error = "The session store is unavailable; try again shortly."
		p.pages.render(w, http.StatusServiceUnavailable, data)
		return
	}
	p.pages.render(w, http.StatusOK, data)
}

type userBody struct {
	ID           string    `json:"id"`
	Email        *string   `json:"email"`
	Phone        *string   `json:"phone"`
	Roles        []string  `json:"roles"`
	CreatedAt    time.Time `json:"created_at"`
	LastSignInAt time.Time `json:"last_sign_in_at"`
}

func userJSON(u sessionstore.User) userBody {
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

func sessionJSON(s sessionstore.Session) map[string]any {
	return map[string]any{"id": s.ID, "created_at": s.CreatedAt.UTC(), "expires_at": s.ExpiresAt.UTC()}
}

func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}
