package logto

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// The Management API's access tokens: short-lived, for the one resource
// and its one scope, as Logto issues them to a machine-to-machine app.
const (
	// DefaultResource is the API indicator of the Management API of a
	// Logto OSS instance; @logto/api sends it as `resource`.
	DefaultResource = "https://default.logto.app/api"
	// scopeAll is the Management API's one scope.
	scopeAll = "all"
	// m2mTokenTTL is the life of a Management API token.
	m2mTokenTTL = 10 * time.Minute
)

// tokenAnswer is oidc-provider's answer to a client_credentials grant.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
}

// oauthError is oidc-provider's error body at /oidc/token.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	status      int
}

func writeOAuthError(w http.ResponseWriter, e oauthError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="logto"`)
	}
	w.Header().Set("Pragma", "no-cache")
	httpkit.WriteJSON(w, e.status, e)
}

// registerM2M registers the door's kind of Management API token:
// sessionless (it names a backend client, never a session), so it opens
// no route but the door's Management API.
func (d *Door) registerM2M() error {
	return d.env.Engine.RegisterTokenProfile(tokens.Profile{
		Name: d.m2mProfile, Issuer: d.cfg.Issuer, Audience: d.cfg.Resource, Type: "at+jwt",
		Alg: tokens.AlgES256, TTL: m2mTokenTTL, Sessionless: true,
		Claims: func(id tokens.Identity) map[string]any {
			return map[string]any{"scope": scopeAll, "client_id": id.UserID}
		},
	})
}

// serveToken is POST /oidc/token with grant_type=client_credentials: the
// client authenticates with its id and secret, by HTTP Basic
// (client_secret_basic) or in the form (client_secret_post), and gets a
// token for the Management API.
func (d *Door) serveToken(w http.ResponseWriter, r *http.Request) {
	isForm, bodyErr := httpkit.ReadBody(w, r, &struct{}{})
	if bodyErr != nil || !isForm {
		writeOAuthError(w, oauthError{status: http.StatusBadRequest, Error: "invalid_request",
			Description: "send the parameters as application/x-www-form-urlencoded"})
		return
	}
	form := r.PostForm
	for _, p := range []string{"grant_type", "client_id", "client_secret", "resource", "scope"} {
		if len(form[p]) > 1 {
			writeOAuthError(w, oauthError{status: http.StatusBadRequest, Error: "invalid_request",
				Description: "'" + p + "' parameter must not be provided twice"})
			return
		}
	}
	id, secret, ok := clientCredentials(r)
	if !ok {
		writeOAuthError(w, oauthError{status: http.StatusBadRequest, Error: "invalid_request",
			Description: "client authentication must be provided using one mechanism: HTTP Basic or client_id and client_secret in the body"})
		return
	}
	if !d.env.Backends.Check(id, secret) {
		writeOAuthError(w, oauthError{status: http.StatusUnauthorized, Error: "invalid_client", Description: "client authentication failed"})
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, oauthError{status: http.StatusBadRequest, Error: "unsupported_grant_type",
			Description: "unsupported grant_type requested"})
		return
	}
	if res := form.Get("resource"); res != "" && res != d.cfg.Resource {
		writeOAuthError(w, oauthError{status: http.StatusBadRequest, Error: "invalid_target",
			Description: "resource indicator is missing, or unknown"})
		return
	}
	if scope := form.Get("scope"); scope != "" && slices.ContainsFunc(strings.Fields(scope), func(s string) bool { return s != scopeAll }) {
		writeOAuthError(w, oauthError{status: http.StatusBadRequest, Error: "invalid_scope",
			Description: "requested scope is not allowed"})
		return
	}
	tok, err := d.env.Engine.IssueClientToken(d.m2mProfile, id, nil)
	if err != nil {
		writeError(w, d.failure(err, "", false))
		return
	}
	w.Header().Set("Pragma", "no-cache")
	httpkit.WriteJSON(w, http.StatusOK, tokenAnswer{
		AccessToken: tok.Token, ExpiresIn: int(tok.TTL / time.Second), TokenType: "Bearer", Scope: scopeAll,
	})
}

// clientCredentials returns the client's id and secret from HTTP Basic
// (each form-urlencoded first, as RFC 6749 2.3.1 says) or from the form,
// and false if neither or both are given.
func clientCredentials(r *http.Request) (id, secret string, ok bool) {
	auth := r.Header.Get("Authorization")
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if auth == "" {
		return formID, formSecret, formID != "" && formSecret != ""
	}
	if formSecret != "" {
		return "", "", false
	}
	scheme, b64, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false
	}
	if formID != "" && formID != id {
		return "", "", false
	}
	return id, secret, id != "" && secret != ""
}

// backend returns the client a Management API call's bearer token names,
// or Logto's 401.
func (d *Door) backend(r *http.Request) (string, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", newError(http.StatusUnauthorized, codeAuthRequired, "Authorization header is missing.")
	}
	scheme, token, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", newError(http.StatusUnauthorized, "auth.authorization_token_type_not_supported", "Authorization type is not supported.")
	}
	client, err := d.env.Engine.VerifyClientToken(d.m2mProfile, strings.TrimSpace(token))
	if err != nil {
		return "", newError(http.StatusUnauthorized, codeUnauthorized, "Unauthorized. Please check credentials and its scope.")
	}
	return client, nil
}

// codeRequest is the body of the Management API's verification-code
// routes: an email address or a phone number (Logto's digits), and for
// verify the code.
type codeRequest struct {
	Email            *string `json:"email"`
	Phone            *string `json:"phone"`
	VerificationCode *string `json:"verificationCode"`
}

// address checks the body's one identifier, as Logto's guard does.
func (b codeRequest) address() (channel, address string, e *apiError) {
	var id identifier
	switch {
	case b.Email != nil && b.Phone == nil:
		id = identifier{Type: "email", Value: *b.Email}
	case b.Phone != nil && b.Email == nil:
		id = identifier{Type: "phone", Value: *b.Phone}
	default:
		return "", "", invalidInput("Send one of email and phone.")
	}
	channel, address, msg, ok := id.address()
	if !ok {
		return "", "", invalidInput(msg)
	}
	return channel, address, nil
}

// readCodeRequest authenticates the backend client and reads the body of
// a Management API code call with its address.
func (d *Door) readCodeRequest(w http.ResponseWriter, r *http.Request) (client string, body codeRequest, channel, address string, e *apiError) {
	if client, e = d.backend(r); e != nil {
		return
	}
	if e = readJSON(w, r, &body); e != nil {
		return
	}
	channel, address, e = body.address()
	return
}

// serveSendCodeM2M is POST /api/verification-codes: a code to the address,
// for the backend to check; 204, alike for an address `allow` lets in and
// one it does not (to which nothing is sent).
func (d *Door) serveSendCodeM2M(w http.ResponseWriter, r *http.Request) {
	client, body, channel, address, e := d.readCodeRequest(w, r)
	if e == nil && body.VerificationCode != nil {
		e = invalidInput("verificationCode belongs to /api/verification-codes/verify.")
	}
	if e != nil {
		writeError(w, e)
		return
	}
	_, err := d.env.Engine.Start(r.Context(), verify.StartRequest{
		Channel: channel, Identifier: address, RedirectTo: "/", CreateUser: true, Caller: d.env.BackendCaller(r, client),
	})
	if err != nil {
		writeError(w, d.failure(err, channel, true))
		return
	}
	writeNoContent(w, http.StatusNoContent)
}

// serveVerifyCodeM2M is POST /api/verification-codes/verify: the code last
// sent to the address, checked and used up; 204. Nobody is signed in.
func (d *Door) serveVerifyCodeM2M(w http.ResponseWriter, r *http.Request) {
	client, body, channel, address, e := d.readCodeRequest(w, r)
	if e == nil && (body.VerificationCode == nil || *body.VerificationCode == "") {
		e = invalidInput("verificationCode is required.")
	}
	if e != nil {
		writeError(w, e)
		return
	}
	if !d.env.Engine.ChannelConfigured(channel) {
		writeError(w, d.failure(verify.ErrChannelNotConfigured, channel, false))
		return
	}
	_, err := d.env.Engine.CheckCode(r.Context(), verify.CheckRequest{
		Code: *body.VerificationCode, Channel: channel, Identifier: address, Caller: d.env.BackendCaller(r, client),
	})
	if err != nil {
		writeError(w, d.failure(err, channel, false))
		return
	}
	writeNoContent(w, http.StatusNoContent)
}

func (d *Door) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	body := d.env.Engine.JWKSFor(tokens.AlgES256)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}
