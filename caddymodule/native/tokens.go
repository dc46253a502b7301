package native

import (
	"errors"
	"net/http"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// tokenResponse is the token part of /verify's answer and all of /token's.
type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshToken string    `json:"refresh_token"`
}

func (d *Door) tokens(s verify.Session, amr []string, refresh string) (tokenResponse, error) {
	at, err := d.env.Engine.IssueAccess(s, amr)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{
		AccessToken:  at.Token,
		TokenType:    "bearer",
		ExpiresIn:    int(at.TTL / time.Second),
		ExpiresAt:    at.ExpiresAt.UTC(),
		RefreshToken: refresh,
	}, nil
}

type tokenRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// serveToken rotates a refresh token (see verify.Engine.Refresh) and
// answers a new access token and the new refresh token.
func (d *Door) serveToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	isForm, apiErr := readBody(w, r, &req)
	if isForm {
		req.RefreshToken = r.PostForm.Get("refresh_token")
	}
	if apiErr == nil && req.RefreshToken == "" {
		apiErr = newAPIError(http.StatusBadRequest, errInvalidRequest, "refresh_token is required")
	}
	if apiErr != nil {
		writeAPIError(w, apiErr)
		return
	}
	ref, err := d.env.Engine.Refresh(r.Context(), req.RefreshToken, d.env.Caller(r))
	var resp tokenResponse
	if err == nil {
		resp, err = d.tokens(ref.Session, ref.AMR, ref.RefreshToken)
	}
	switch {
	case err == nil:
		httpkit.WriteJSON(w, http.StatusOK, resp)
	case errors.Is(err, verify.ErrInvalidGrant):
		writeAPIError(w, newAPIError(http.StatusUnauthorized, errInvalidGrant, "the refresh token is invalid, expired or revoked; sign in again"))
	default:
		writeAPIError(w, d.apiError(err, ""))
	}
}

// serveJWKS publishes the public keys. Verifiers may cache them for a
// while; one that meets an unknown kid should fetch again.
func (d *Door) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body := d.env.Engine.JWKS()
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// BearerChallenge answers a request whose bearer token is refused.
func BearerChallenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="passgate", error="invalid_token"`)
	writeAPIError(w, newAPIError(http.StatusUnauthorized, errUnauthorized, "the access token is invalid, expired or revoked"))
}

// WriteError answers an error in the native API's format (for the gate's
// answers on protected routes).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeAPIError(w, newAPIError(status, code, msg))
}
