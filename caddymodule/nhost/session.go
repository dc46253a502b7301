package nhost

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// sessionBody is Nhost's Session.
type sessionBody struct {
	AccessToken          string   `json:"accessToken"`
	AccessTokenExpiresIn int64    `json:"accessTokenExpiresIn"`
	RefreshTokenID       string   `json:"refreshTokenId"`
	RefreshToken         string   `json:"refreshToken"`
	User                 userBody `json:"user"`
}

// sessionPayload is the answer of a sign-in: {"session": Session}. POST
// /token answers the Session bare.
type sessionPayload struct {
	Session sessionBody `json:"session"`
}

// userBody is Nhost's User. passgate keeps no display name, avatar, locale
// or metadata: the display name is the address, the rest Nhost's defaults
// for a user who set none. A user signs in with one address, which is
// verified by that very sign-in.
type userBody struct {
	AvatarURL           string         `json:"avatarUrl"`
	CreatedAt           time.Time      `json:"createdAt"`
	DefaultRole         string         `json:"defaultRole"`
	DisplayName         string         `json:"displayName"`
	Email               string         `json:"email,omitempty"`
	EmailVerified       bool           `json:"emailVerified"`
	ID                  string         `json:"id"`
	IsAnonymous         bool           `json:"isAnonymous"`
	Locale              string         `json:"locale"`
	Metadata            map[string]any `json:"metadata"`
	PhoneNumber         string         `json:"phoneNumber,omitempty"`
	PhoneNumberVerified bool           `json:"phoneNumberVerified"`
	Roles               []string       `json:"roles"`
}

// defaultLocale is Nhost's default locale.
const defaultLocale = "en"

// user is u as Nhost shows it, with roles (the policy's now) and the
// default role.
func (d *Door) user(u verify.User, roles []string) userBody {
	b := userBody{
		CreatedAt:           u.CreatedAt.UTC(),
		DefaultRole:         d.cfg.DefaultRole,
		DisplayName:         u.Email,
		Email:               u.Email,
		EmailVerified:       u.Email != "",
		ID:                  u.ID,
		Locale:              defaultLocale,
		Metadata:            map[string]any{},
		PhoneNumber:         u.Phone,
		PhoneNumberVerified: u.Phone != "",
		Roles:               d.allowedRoles(roles),
	}
	if b.DisplayName == "" {
		b.DisplayName = u.Phone
	}
	return b
}

// session signs an access token for s and makes Nhost's Session of it.
func (d *Door) session(s verify.Session, u verify.User, amr []string, refreshToken string) (sessionBody, *apiError) {
	tok, err := d.env.Engine.IssueAccessAs(d.profile, s, amr)
	if err != nil {
		return sessionBody{}, d.failure(err, "")
	}
	return sessionBody{
		AccessToken:          tok.Token,
		AccessTokenExpiresIn: int64(tok.TTL / time.Second),
		// Nhost names the refresh token's row; a passgate session has one
		// chain of refresh tokens, so the session's id names it.
		RefreshTokenID: s.ID,
		RefreshToken:   refreshToken,
		User:           d.user(u, s.Roles),
	}, nil
}

// signIn turns a consumed attempt into a session with a refresh token.
func (d *Door) signIn(r *http.Request, attempt verify.Attempt, method string) (sessionBody, *apiError) {
	in, err := d.env.Engine.SignIn(r.Context(), verify.SignInRequest{
		Attempt: attempt, Method: method, Refresh: true, Caller: d.env.Caller(r),
	})
	if err != nil {
		return sessionBody{}, d.failure(err, attempt.Channel)
	}
	return d.session(in.Session, in.User, in.AMR, in.RefreshToken)
}

type refreshBody struct {
	RefreshToken *string `json:"refreshToken"`
}

// serveToken rotates a refresh token and answers the Session, bare. Every
// dead token is 401, the one status on which nhost-js drops its session.
func (d *Door) serveToken(w http.ResponseWriter, r *http.Request) {
	var body refreshBody
	if e := readJSON(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.RefreshToken == nil {
		writeError(w, newError(http.StatusBadRequest, errInvalidRequest, "refreshToken is required"))
		return
	}
	s, e := d.refresh(r, *body.RefreshToken)
	if e != nil {
		writeError(w, e)
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, s)
}

func (d *Door) refresh(r *http.Request, token string) (sessionBody, *apiError) {
	ctx := r.Context()
	rot, err := d.env.Engine.Refresh(ctx, token, d.env.Caller(r))
	if err != nil {
		return sessionBody{}, d.failure(err, "")
	}
	u, err := d.env.Engine.User(ctx, rot.Session.UserID)
	if errors.Is(err, verify.ErrUnauthenticated) {
		// The user is gone: the token is as dead as if its session were.
		err = verify.ErrInvalidGrant
	}
	if err != nil {
		return sessionBody{}, d.failure(err, "")
	}
	return d.session(rot.Session, u, rot.AMR, rot.RefreshToken)
}

// bearer is the request's access token, from Authorization: Bearer only:
// the door uses no cookie, so no page on another site can act with one.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// serveUser answers the signed-in User.
func (d *Door) serveUser(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	if !ok {
		writeError(w, newError(http.StatusUnauthorized, errUnauthorized, "An access token is required (Authorization: Bearer)"))
		return
	}
	ctx := r.Context()
	s, err := d.env.Engine.Authenticate(ctx, verify.Credential{Bearer: tok, IsBearer: true})
	var u verify.User
	if err == nil {
		u, err = d.env.Engine.User(ctx, s.UserID)
	}
	if err != nil {
		writeError(w, d.failure(err, ""))
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, d.user(u, s.Roles))
}

type signOutBody struct {
	RefreshToken *string `json:"refreshToken"`
	All          bool    `json:"all"`
}

// serveSignOut ends the session of a refresh token, or with all and the
// access token, every session of its user (through every door). Signing
// out twice is signing out: an unknown refresh token is "OK" too.
func (d *Door) serveSignOut(w http.ResponseWriter, r *http.Request) {
	var body signOutBody
	if e := readJSON(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	switch {
	case body.All:
		tok, ok := bearer(r)
		if !ok {
			writeError(w, newError(http.StatusUnauthorized, errUnauthorized, "Signing out everywhere needs the access token (Authorization: Bearer)"))
			return
		}
		s, _, err := d.env.Engine.Logout(ctx, verify.Credential{Bearer: tok, IsBearer: true}, verify.ScopeGlobal, d.env.Caller(r))
		if err == nil && s.ID == "" {
			err = verify.ErrInvalidToken
		}
		if err != nil {
			writeError(w, d.failure(err, ""))
			return
		}
	case body.RefreshToken != nil:
		if _, _, err := d.env.Engine.LogoutRefresh(ctx, *body.RefreshToken, verify.ScopeLocal, d.env.Caller(r)); err != nil {
			writeError(w, d.failure(err, ""))
			return
		}
	default:
		writeError(w, newError(http.StatusBadRequest, errInvalidRequest, `send refreshToken, or "all": true with the access token`))
		return
	}
	writeOK(w)
}
