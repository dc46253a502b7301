package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

var (
	// ErrUnauthenticated: no live session (none given, unknown, timed out,
	// revoked, or its user no longer allowed).
	ErrUnauthenticated = errors.New("not signed in")
	// ErrInvalidToken: a bearer token refused (malformed, badly signed,
	// expired, or its session ended). It is an ErrUnauthenticated.
	ErrInvalidToken = fmt.Errorf("%w: invalid access token", ErrUnauthenticated)
	// ErrSessionEnded: a bearer token that verifies, but whose session has
	// ended (or whose user the policy no longer allows): GoTrue's clients
	// drop their stored session on this one only. It is an
	// ErrInvalidToken.
	ErrSessionEnded = fmt.Errorf("%w: its session has ended", ErrInvalidToken)
)

// Credential is what a request proves a session with: a session cookie's
// session ID, or an access token. With Bearer set, SessionID is not
// consulted.
type Credential struct {
	SessionID string
	// Fallback is another session cookie's session ID (a door's name for
	// it), tried when SessionID proves no live session.
	Fallback string
	Bearer   string
	IsBearer bool
}

// Authenticate returns the live session a credential proves, with the
// roles the policy gives its user now. A session whose user the policy no
// longer allows counts as none: removing someone from `allow` locks them
// out at once, and a session from another site sharing the store gets
// nowhere. Errors: ErrInvalidToken (a refused bearer token; ErrSessionEnded
// if it verified but its session is gone), ErrUnauthenticated, or
// ErrUnavailable.
func (e *Engine) Authenticate(ctx context.Context, c Credential) (Session, error) {
	s, err := e.identify(ctx, c)
	if err != nil {
		return Session{}, err
	}
	s, err = e.applyPolicy(s)
	if c.IsBearer && errors.Is(err, ErrUnauthenticated) {
		return Session{}, ErrSessionEnded
	}
	return s, err
}

// identify returns the live session a credential proves, without the
// policy: someone it no longer allows may still end their sessions.
func (e *Engine) identify(ctx context.Context, c Credential) (Session, error) {
	if !c.IsBearer {
		s, err := e.liveSession(ctx, c.SessionID)
		if errors.Is(err, ErrUnauthenticated) && c.Fallback != "" {
			return e.liveSession(ctx, c.Fallback)
		}
		return s, err
	}
	if e.cfg.Tokens == nil {
		return Session{}, ErrInvalidToken
	}
	sid, subject, err := e.cfg.Tokens.VerifySession(c.Bearer)
	if err != nil {
		return Session{}, ErrInvalidToken
	}
	s, err := e.liveSession(ctx, sid)
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return Session{}, ErrSessionEnded
	case err != nil:
		return Session{}, err
	case s.UserID != subject:
		return Session{}, ErrInvalidToken
	}
	return s, nil
}

// liveSession is the liveness check behind every cookie, access token and
// refresh token: the session must still be in the store, so logout, global
// logout and refresh-token reuse take effect on every instance at once.
func (e *Engine) liveSession(ctx context.Context, id string) (Session, error) {
	s, err := e.sessions.lookup(ctx, id)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return Session{}, ErrUnauthenticated
	}
	return s, err
}

// applyPolicy refuses a session whose user the current policy does not
// allow (ErrUnauthenticated) and gives it the roles the policy gives now.
//
// The policy's answer for an identifier is remembered (decisions): its
// globs cost more than the rest of a request's authentication, and the
// answer cannot go stale, since a changed policy comes with a new Engine
// and so with an empty memory. The roles slice is shared between
// requests: read it, never write to it.
func (e *Engine) applyPolicy(s Session) (Session, error) {
	channel, identifier := sessionIdentity(s)
	key := policyKey{channel, identifier}
	d, ok := e.decisions.Get(key)
	if !ok {
		d.allowed = e.cfg.Policy.Allowed(channel, identifier)
		roles := e.cfg.Policy.RolesFor(channel, identifier)
		d.roles = roles[:len(roles):len(roles)] // an append copies
		e.decisions.Put(key, d)
	}
	if !d.allowed {
		return Session{}, ErrUnauthenticated
	}
	s.Roles = d.roles
	return s, nil
}

type policyKey struct{ channel, identifier string }

// policyDecision is what the policy says of one identifier.
type policyDecision struct {
	allowed bool
	roles   []string
}

// Bounds of the remembered policy answers: about 100 bytes each, so 1 MB
// at most; the TTL only lets unused entries go.
const (
	policyDecisionEntries = 10000
	policyDecisionTTL     = 10 * time.Minute
)

func sessionIdentity(s Session) (channel, identifier string) {
	if s.Email != "" {
		return ChannelEmail, s.Email
	}
	return ChannelPhone, s.Phone
}
