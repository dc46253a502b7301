package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// Token defaults and bounds.
const (
	DefaultJWTIssuer   = "passgate"
	DefaultJWTAudience = "passgate"
	// MaxAccessTTL bounds access_ttl: an access token cannot be recalled
	// except through its session, so it should not outlive a short while.
	MaxAccessTTL = time.Hour
)

// JWTConfig sets up tokens for API clients: access tokens (JWT), rotating
// refresh tokens, the JWKS at {base_path}/jwks.json, and the upstream
// assertion header.
type JWTConfig struct {
	// Issuer is the iss claim. Default: passgate. Set it to the URL of the
	// sign-in site so verifiers can tell deployments apart.
	Issuer string `json:"issuer,omitempty"`
	// Audience is the aud claim of access tokens. Default: passgate.
	Audience string `json:"audience,omitempty"`
	// AccessTTL is the life of an access token, at most 1h. Default: 15m.
	AccessTTL caddy.Duration `json:"access_ttl,omitempty"`
	// Keys sign and verify tokens: the first signs, all verify and are
	// published. Without any, one Ed25519 key is derived from each secret
	// (HKDF), so every instance agrees without sharing files, and rotating
	// the secret rotates the key.
	Keys []JWTKey `json:"keys,omitempty"`
}

// JWTKey is a signing key in a PEM file.
type JWTKey struct {
	// ID is the kid that names the key in tokens and the JWKS.
	ID string `json:"id"`
	// PEM is a file path, or a placeholder ({file./path}, {env.X}) whose
	// value is PEM text: a PKCS #8 or SEC 1 private key (Ed25519 or ECDSA
	// P-256), or a public key, which then only verifies.
	PEM string `json:"pem"`
}

func (c *JWTConfig) validate() error {
	if c == nil {
		return nil
	}
	if ttl := time.Duration(c.AccessTTL); ttl < 0 || ttl > MaxAccessTTL {
		return fmt.Errorf("jwt access_ttl %v: must be above 0 and at most %v", ttl, MaxAccessTTL)
	}
	return nil
}

// provisionTokens loads or derives the keys and makes the token issuer.
func (p *Passgate) provisionTokens(secrets []keySet) error {
	if p.JWT == nil {
		p.JWT = new(JWTConfig)
	}
	if p.JWT.Issuer == "" {
		p.JWT.Issuer = DefaultJWTIssuer
	}
	if p.JWT.Audience == "" {
		p.JWT.Audience = DefaultJWTAudience
	}
	if p.JWT.AccessTTL == 0 {
		p.JWT.AccessTTL = caddy.Duration(tokens.DefaultAccessTTL)
	}
	var keys []tokens.Key
	if len(p.JWT.Keys) == 0 {
		for _, ks := range secrets {
			k, err := tokens.DeriveEd25519(ks.jwtSeed)
			if err != nil {
				return fmt.Errorf("jwt: %v", err)
			}
			keys = append(keys, k)
		}
	}
	repl := caddy.NewReplacer()
	for _, jk := range p.JWT.Keys {
		src, err := repl.ReplaceOrErr(jk.PEM, true, true)
		if err != nil {
			return fmt.Errorf("jwt key %s: %v", jk.ID, err)
		}
		// A placeholder yields the PEM text; a literal is a file path.
		data := []byte(src)
		if !strings.Contains(jk.PEM, "{") {
			if data, err = os.ReadFile(src); err != nil {
				return fmt.Errorf("jwt key %s: %v", jk.ID, err)
			}
		}
		k, err := tokens.ParsePEM(jk.ID, data)
		if err != nil {
			return fmt.Errorf("jwt key %s: %v", jk.ID, err)
		}
		keys = append(keys, k)
	}
	iss, err := tokens.New(tokens.Config{
		Issuer:    p.JWT.Issuer,
		Audience:  p.JWT.Audience,
		AccessTTL: time.Duration(p.JWT.AccessTTL),
		Keys:      keys,
	})
	if err != nil {
		return fmt.Errorf("jwt: %v", err)
	}
	p.tokens = iss
	// The first secret's, like every key that signs: instances with the
	// same first secret derive the same successor, so a retry may land on
	// any of them.
	p.refreshKey = secrets[0].refresh
	return nil
}

// tokenResponse is the token part of /verify's answer and all of /token's.
type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshToken string    `json:"refresh_token"`
}

// AMR values for how a user signed in: "otp" is RFC 8176's; RFC 8176
// registers nothing for a link sent by email, hence the plain name.
var (
	amrCode      = []string{"otp"}
	amrMagicLink = []string{"email"}
)

// issueTokens gives a new session its first refresh token and an access
// token. Every sign-in route that hands out tokens calls it: /verify with
// "tokens": true, and the magic-link route when asked (with amrMagicLink).
func (p *Passgate) issueTokens(ctx context.Context, sess sessionstore.Session, amr []string) (tokenResponse, error) {
	refresh, hash := sessionstore.NewRefreshToken()
	err := p.store.CreateRefresh(ctx, sessionstore.RefreshToken{
		Hash: hash, SessionID: sess.ID, UserID: sess.UserID, AMR: amr, ExpiresAt: sess.ExpiresAt,
	})
	if err != nil {
		return tokenResponse{}, err
	}
	return p.accessFor(sess, amr, refresh)
}

func (p *Passgate) accessFor(sess sessionstore.Session, amr []string, refresh string) (tokenResponse, error) {
	access, exp, err := p.tokens.IssueAccess(identityOf(sess, amr))
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{
		AccessToken:  access,
		TokenType:    "bearer",
		ExpiresIn:    int(p.tokens.AccessTTL() / time.Second),
		ExpiresAt:    exp.UTC(),
		RefreshToken: refresh,
	}, nil
}

func identityOf(sess sessionstore.Session, amr []string) tokens.Identity {
	return tokens.Identity{UserID: sess.UserID, SessionID: sess.ID, Email: sess.Email,
		Phone: sess.Phone, Roles: sess.Roles, AMR: amr}
}

type tokenRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// serveToken rotates a refresh token: the old one is spent, a new pair is
// returned. A spent token presented again revokes its whole session,
// except for the same rotation asked again within
// sessionstore.RefreshRetryGrace: the new refresh token is derived from
// the old one, so a retry after a lost answer names the same successor and
// gets it again (with a fresh access token).
//
// Rotation is the last store operation: the token is read (not spent),
// its session checked and the policy applied first, and only then is the
// token spent, so a store failure before the rotation (503) leaves it
// usable for a retry. Signing the access token, after it, touches no
// store. A spent token is told from a live one by the rotation, so a
// reused token is caught only once its session and the policy have
// passed; otherwise it is refused all the same.
func (p *Passgate) serveToken(w http.ResponseWriter, r *http.Request) {
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
	invalidGrant := newAPIError(http.StatusUnauthorized, errInvalidGrant, "the refresh token is invalid, expired or revoked; sign in again")
	ctx := r.Context()
	hash := sessionstore.RefreshHash(req.RefreshToken)
	rt, err := p.store.Refresh(ctx, hash)
	var sess sessionstore.Session
	if err == nil {
		sess, err = p.sessionAlive(ctx, rt.SessionID)
	}
	if err == nil {
		// New tokens only for someone the policy still allows, with the
		// roles it gives now.
		sess, err = p.applyPolicy(sess)
	}
	var resp tokenResponse
	if err == nil {
		// The last store operation: it spends the token, or finds it
		// spent already and revokes the session.
		next, nextHash := sessionstore.NextRefreshToken(p.refreshKey, req.RefreshToken)
		var rotated sessionstore.RefreshToken
		rotated, err = p.store.RotateRefresh(ctx, hash, nextHash, now())
		if err == nil && rotated.SessionID != rt.SessionID {
			// A token keeps its session; this cannot normally happen.
			err = sessionstore.ErrNotFound
		}
		if err == nil {
			resp, err = p.accessFor(sess, rt.AMR, next)
		}
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, resp)
	case errors.Is(err, sessionstore.ErrRefreshReused):
		p.audit(r, auditTokenReuse, zap.String("user_id", rt.UserID))
		writeAPIError(w, invalidGrant)
	case errors.Is(err, sessionstore.ErrNotFound):
		writeAPIError(w, invalidGrant)
	default:
		writeAPIError(w, p.verifyError(err))
	}
}

// serveJWKS publishes the public keys. Verifiers may cache them for a
// while; one that meets an unknown kid should fetch again.
func (p *Passgate) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body := p.tokens.JWKS()
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

// errBadBearer is a bearer token that is malformed, badly signed, expired
// or whose session has ended. It counts as no session.
var errBadBearer = fmt.Errorf("%w: invalid bearer token", sessionstore.ErrNotFound)

// bearerToken returns the token of an Authorization: Bearer header. It
// indexes the map by the canonical name: Header.Get would canonicalise
// the name again, on every request.
func bearerToken(r *http.Request) (string, bool) {
	var value string
	if values := r.Header["Authorization"]; len(values) > 0 {
		value = values[0]
	}
	scheme, tok, ok := strings.Cut(value, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// sessionOf returns the session a request proves: with an
// Authorization: Bearer header, that of the access token (and the cookie
// is not consulted); otherwise that of the cookie.
func (p *Passgate) sessionOf(r *http.Request) (sessionstore.Session, error) {
	tok, ok := bearerToken(r)
	if !ok {
		return p.sessions.LookupID(r.Context(), p.cookie.sessionID(r))
	}
	sid, subject, err := p.tokens.VerifySession(tok)
	if err != nil {
		return sessionstore.Session{}, errBadBearer
	}
	sess, err := p.sessionAlive(r.Context(), sid)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		return sessionstore.Session{}, errBadBearer
	case err != nil:
		return sessionstore.Session{}, err
	case sess.UserID != subject:
		return sessionstore.Session{}, errBadBearer
	}
	return sess, nil
}

// sessionAlive is the liveness check behind every access and refresh
// token: the session must still be in the store, so logout, global logout
// and refresh-token reuse take effect on every instance at once. It is the
// same store read the cookie path makes; a cache in front of it would need
// invalidating on revocation.
func (p *Passgate) sessionAlive(ctx context.Context, id string) (sessionstore.Session, error) {
	return p.sessions.LookupID(ctx, id)
}

// bearerChallenge answers a request whose bearer token is refused.
func bearerChallenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="passgate", error="invalid_token"`)
	writeAPIError(w, newAPIError(http.StatusUnauthorized, errUnauthorized, "the access token is invalid, expired or revoked"))
}

// setAssertion adds the signed identity assertion for the upstream, if
// configured. Its audience is the host the client asked for, without port.
func (p *Passgate) setAssertion(r *http.Request, sess sessionstore.Session) error {
	if p.Headers.Assertion == "" {
		return nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	tok, err := p.tokens.IssueAssertion(strings.ToLower(host), identityOf(sess, nil))
	if err != nil {
		return err
	}
	r.Header.Set(p.Headers.Assertion, tok)
	return nil
}
