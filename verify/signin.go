package verify

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// How a person proved themselves: a code or a magic link.
const (
	MethodCode = "code"
	MethodLink = "link"
)

// amrOf is the amr claim of a sign-in method: "otp" is RFC 8176's; RFC 8176
// registers nothing for a link sent by email, hence the plain name.
func amrOf(method string) []string {
	if method == MethodLink {
		return []string{"email"}
	}
	return []string{"otp"}
}

// SignInRequest turns a consumed attempt (from CheckCode or CheckLink)
// into a signed-in user.
type SignInRequest struct {
	Attempt Attempt
	// Method is MethodCode or MethodLink.
	Method string
	// Refresh asks for a refresh token besides the session.
	Refresh bool
	// UserMetadata, if not empty, becomes the Metadata of a user this
	// sign-in creates (what they said of themselves at sign-up); an
	// existing user's is left as it is.
	UserMetadata []byte
	Caller       Caller
}

// SignedIn is a new session.
type SignedIn struct {
	User    User
	Session Session
	// Secret is the session's secret, for the client to hold (a cookie);
	// the store keeps only its hash, the session's ID.
	Secret string
	// RefreshToken, if asked for; AMR is how the user authenticated.
	RefreshToken string
	AMR          []string
}

// SignIn records the sign-in (creating the user on first sign-in, with the
// roles the policy gives now), starts a new session and, if asked, its
// first refresh token. Every door's code and link end here, so they give
// the same user, roles and session. Errors: ErrUserBlocked (an operator
// blocked the user after the code was sent), or ErrUnavailable.
func (e *Engine) SignIn(ctx context.Context, req SignInRequest) (SignedIn, error) {
	a := req.Attempt
	roles := e.cfg.Policy.RolesFor(a.Channel, a.Identifier)
	if roles == nil {
		roles = []string{}
	}
	newID, err := uuid.NewRandomFromReader(e.cfg.Rand)
	if err != nil {
		return SignedIn{}, err
	}
	user, err := e.store.RecordSignIn(ctx, a.Channel, a.Identifier, newID.String(), roles, e.now().Truncate(time.Millisecond))
	if err != nil {
		return SignedIn{}, err
	}
	if user.Blocked {
		return SignedIn{}, e.failed(ErrUserBlocked, req.Caller, a.Channel, req.Method)
	}
	if user.ID == newID.String() && len(req.UserMetadata) > 0 {
		if err := e.store.SetUserMetadata(ctx, user.ID, req.UserMetadata); err != nil {
			return SignedIn{}, err
		}
		user.Metadata = req.UserMetadata
	}
	secret := e.randomText() + e.randomText() // 2 x 128 bits
	s, err := e.sessions.create(ctx, user, secret, req.Caller)
	if err != nil {
		return SignedIn{}, err
	}
	if err := e.recheckBlocked(ctx, s); err != nil {
		return SignedIn{}, e.failed(err, req.Caller, a.Channel, req.Method)
	}
	out := SignedIn{User: user, Session: s, Secret: secret, AMR: amrOf(req.Method)}
	if req.Refresh {
		token := e.newRefreshToken()
		err := e.store.CreateRefresh(ctx, sessionstore.RefreshToken{
			Hash: sessionstore.RefreshHash(token), SessionID: s.ID, UserID: s.UserID, AMR: out.AMR, ExpiresAt: s.ExpiresAt,
		})
		if err != nil {
			return SignedIn{}, err
		}
		out.RefreshToken = token
	}
	e.emit(Event{Kind: EventSignedIn, Caller: req.Caller, Channel: a.Channel, UserID: user.ID, Method: req.Method})
	return out, nil
}

// User returns the user with the given id. Errors: ErrUnauthenticated if
// there is none, or ErrUnavailable.
func (e *Engine) User(ctx context.Context, id string) (User, error) {
	u, err := e.store.User(ctx, id)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return User{}, ErrUnauthenticated
	}
	return u, err
}

// AccessToken is a signed access token.
type AccessToken struct {
	Token     string
	ExpiresAt time.Time
	TTL       time.Duration
}

// IssueAccess signs an access token for s, its identity and roles, and
// how the user authenticated. It touches no store.
func (e *Engine) IssueAccess(s Session, amr []string) (AccessToken, error) {
	if e.cfg.Tokens == nil {
		return AccessToken{}, ErrInvalidToken
	}
	tok, exp, err := e.cfg.Tokens.IssueAccess(identityOf(s, amr))
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: tok, ExpiresAt: exp, TTL: e.cfg.Tokens.AccessTTL()}, nil
}

// RegisterTokenProfile adds a front door's kind of access token (its
// claims, issuer and algorithm: see tokens.Profile). A door calls it once,
// while it is built.
func (e *Engine) RegisterTokenProfile(p tokens.Profile) error {
	if e.cfg.Tokens == nil {
		return errors.New("verify: no token issuer")
	}
	return e.cfg.Tokens.Register(p)
}

// IssueAccessAs signs an access token of a registered profile for s.
func (e *Engine) IssueAccessAs(profile string, s Session, amr []string) (AccessToken, error) {
	return e.IssueAccessWithClaims(profile, s, amr, nil)
}

// IssueAccessWithClaims is IssueAccessAs with claims of this one token
// besides the profile's (what the door knows of the user that the
// session does not carry, such as GoTrue's user_metadata); they may not
// replace passgate's own (see tokens.Identity.Claims).
func (e *Engine) IssueAccessWithClaims(profile string, s Session, amr []string, claims map[string]any) (AccessToken, error) {
	if e.cfg.Tokens == nil {
		return AccessToken{}, ErrInvalidToken
	}
	id := identityOf(s, amr)
	id.Claims = claims
	tok, exp, err := e.cfg.Tokens.IssueFor(profile, id)
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: tok, ExpiresAt: exp, TTL: e.cfg.Tokens.TTL(profile)}, nil
}

// IssueClientToken signs a token of a sessionless profile (see
// tokens.Profile.Sessionless) for the backend client clientID, with
// claims of this one token besides the profile's.
func (e *Engine) IssueClientToken(profile, clientID string, claims map[string]any) (AccessToken, error) {
	if e.cfg.Tokens == nil {
		return AccessToken{}, ErrInvalidToken
	}
	tok, exp, err := e.cfg.Tokens.IssueFor(profile, tokens.Identity{UserID: clientID, Claims: claims})
	if err != nil {
		return AccessToken{}, err
	}
	return AccessToken{Token: tok, ExpiresAt: exp, TTL: e.cfg.Tokens.TTL(profile)}, nil
}

// VerifyClientToken checks a token of the named profile that
// IssueClientToken issued and returns the client it names. Errors:
// ErrInvalidToken.
func (e *Engine) VerifyClientToken(profile, token string) (clientID string, _ error) {
	if e.cfg.Tokens == nil {
		return "", ErrInvalidToken
	}
	c, err := e.cfg.Tokens.VerifyFor(profile, token)
	if err != nil {
		return "", ErrInvalidToken
	}
	return c.Subject, nil
}

// JWKSFor is the public half of the signing keys of one algorithm.
func (e *Engine) JWKSFor(alg string) []byte {
	if e.cfg.Tokens == nil {
		return []byte(`{"keys":[]}`)
	}
	return e.cfg.Tokens.JWKSFor(alg)
}

// IssueAssertion signs a short-lived statement of s's identity for an
// upstream on audience (its host name).
func (e *Engine) IssueAssertion(audience string, s Session) (string, error) {
	if e.cfg.Tokens == nil {
		return "", ErrInvalidToken
	}
	return e.cfg.Tokens.IssueAssertion(audience, identityOf(s, nil))
}

// JWKS is the public half of every signing key, as a JSON Web Key Set.
func (e *Engine) JWKS() []byte {
	if e.cfg.Tokens == nil {
		return []byte(`{"keys":[]}`)
	}
	return e.cfg.Tokens.JWKS()
}

func identityOf(s Session, amr []string) tokens.Identity {
	return tokens.Identity{UserID: s.UserID, SessionID: s.ID, Email: s.Email,
		Phone: s.Phone, Roles: s.Roles, AMR: amr}
}
