package verify

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/passgate/caddy-passgate/sessionstore"
)

var (
	// ErrUserBlocked: an operator has blocked the user, so they may not
	// sign in. Doors answer it as their service answers a banned or
	// disabled user.
	ErrUserBlocked = errors.New("the user is blocked")
	// ErrUserNotFound: no user has the identifier an operator gave.
	ErrUserNotFound = errors.New("no such user")
)

// FindUser finds a user for an operator by email address (it has an
// "@"), phone number (it starts with "+") or user id (a UUID), each in
// the form sign-in normalises it to. The policy is not applied: a user it
// no longer allows can still be found, listed and blocked. Errors:
// ErrInvalidIdentifier (none of the three), ErrUserNotFound, or
// ErrUnavailable.
func (e *Engine) FindUser(ctx context.Context, identifier string) (User, error) {
	identifier = strings.TrimSpace(identifier)
	var (
		u   User
		err error
	)
	switch {
	case strings.Contains(identifier, "@"):
		var email string
		if email, err = NormalizeEmail(identifier); err == nil {
			u, err = e.store.UserByIdentifier(ctx, ChannelEmail, email)
		}
	case strings.HasPrefix(identifier, "+"):
		var phone string
		if phone, err = NormalizePhone(identifier); err == nil {
			u, err = e.store.UserByIdentifier(ctx, ChannelPhone, phone)
		}
	default:
		id, perr := uuid.Parse(identifier)
		if perr != nil || len(identifier) != 36 {
			return User{}, ErrInvalidIdentifier
		}
		u, err = e.store.User(ctx, id.String())
	}
	if errors.Is(err, sessionstore.ErrNotFound) {
		return User{}, ErrUserNotFound
	}
	return u, err
}

// EndSessions ends every session of a user for an operator, on every
// instance (each removal is announced as a sign-out everywhere's is), and
// says how many were live. Errors: ErrUnavailable.
func (e *Engine) EndSessions(ctx context.Context, userID string, caller Caller) (int, error) {
	n, err := e.store.DeleteUserSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	e.emit(Event{Kind: EventSessionsEnded, Caller: caller, UserID: userID, Revoked: n})
	return n, nil
}

// Block blocks a user for an operator: no sign-in is recorded for them
// (starts answer as for an address the policy does not allow, and a code
// sent before is refused with ErrUserBlocked), and every session of theirs
// ends at once, on every instance. Blocking twice is blocking. It says
// how many sessions ended. Errors: ErrUserNotFound, or ErrUnavailable.
func (e *Engine) Block(ctx context.Context, userID string, caller Caller) (int, error) {
	n, err := e.store.SetBlocked(ctx, userID, true)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return 0, ErrUserNotFound
	}
	if err != nil {
		return 0, err
	}
	e.emit(Event{Kind: EventUserBlocked, Caller: caller, UserID: userID, Revoked: n})
	return n, nil
}

// Unblock lets a blocked user sign in again. Errors: ErrUserNotFound, or
// ErrUnavailable.
func (e *Engine) Unblock(ctx context.Context, userID string, caller Caller) error {
	_, err := e.store.SetBlocked(ctx, userID, false)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return ErrUserNotFound
	}
	if err != nil {
		return err
	}
	e.emit(Event{Kind: EventUserUnblocked, Caller: caller, UserID: userID})
	return nil
}

// recheckBlocked ends a session just made if its user has been blocked
// meanwhile. A block marks the user before it removes the sessions, so a
// sign-in that read the user before the mark either made its session
// before the removal (which ends it) or reads the mark here.
func (e *Engine) recheckBlocked(ctx context.Context, s Session) error {
	u, err := e.store.User(ctx, s.UserID)
	if err != nil {
		return err
	}
	if !u.Blocked {
		return nil
	}
	if err := e.store.DeleteSession(ctx, s.ID, s.UserID); err != nil {
		return err
	}
	return ErrUserBlocked
}
