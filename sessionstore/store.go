// Package sessionstore describes passgate's state: pending sign-in
// attempts, users, sessions, refresh tokens and rate limits. It holds the
// records, the store interfaces and their errors, and the small helpers
// every backend shares; the backends are its sub-packages memory (in
// process) and redis (Redis standalone, Sentinel or Cluster), which behave
// the same (package storetest is the suite both pass) and know nothing of
// HTTP or Caddy.
//
// Secrets never reach a backend in clear: an attempt holds only a keyed MAC
// of its code, and a session is stored under the SHA-256 of its id.
package sessionstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// ErrNotFound means the record does not exist: it was never created, has
// expired, or was consumed. It is never returned for a backend failure.
var ErrNotFound = errors.New("sessionstore: not found")

// ErrUnavailable wraps every backend failure (connection refused, timeout,
// protocol error), so callers can fail closed without knowing the backend.
var ErrUnavailable = errors.New("sessionstore: store unavailable")

// Attempt is a pending sign-in: a code sent to one identifier.
type Attempt struct {
	ID         string
	Channel    string // "email" or "phone"
	Identifier string // normalised address the code was sent to
	CodeMAC    []byte // keyed MAC of the code; the code itself is never stored
	// TokenHash is the SHA-256 of the magic-link token, or empty for an
	// attempt without a link. The token itself is never stored.
	TokenHash  []byte
	RedirectTo string
	CreateUser bool
	CreatedAt  time.Time
	ExpiresAt  time.Time
	// Tries counts checks made against the attempt, the current one included.
	Tries int
	// Failed says its message could not be delivered (FailAttempt): no
	// code matches it any more and its link is gone.
	Failed bool
	// Data is the front door's own state of the attempt (GoTrue's PKCE
	// challenge and sign-up metadata), opaque to the engine and the store.
	Data []byte
}

// User is one person, identified by a normalised email address or phone
// number. ID is stable and random; it never reveals the identifier.
type User struct {
	ID           string
	Email        string
	Phone        string
	Roles        []string
	CreatedAt    time.Time
	LastSignInAt time.Time
	// Metadata is what the user gave at sign-up about themselves (GoTrue's
	// user_metadata): a JSON object, or empty.
	Metadata []byte
	// Blocked says an operator has blocked the user: no sign-in is
	// recorded for them and they keep no session (see SetBlocked).
	Blocked bool
}

// Session is a signed-in browser or client. A store keeps only what is the
// session's own (its user and its times); Email, Phone and Roles are its
// user's, as of the user's last sign-in, filled in from the user's record
// when the session is read, in the same read.
type Session struct {
	// ID is the public handle of the session: the hash it is stored under.
	// The secret the client holds is never stored.
	ID     string
	UserID string
	// Email, Phone and Roles are the user's (see above); what CreateSession
	// and TouchSession are given in them is not stored.
	Email      string
	Phone      string
	Roles      []string
	CreatedAt  time.Time
	ExpiresAt  time.Time // absolute end, whatever the activity
	LastSeenAt time.Time // start of the idle timeout
	// Device and Network say where the session signed in from, for the
	// person's list of their sessions: short codes (package verify/device)
	// written when the session is made and never changed (TouchSession
	// keeps them whatever it is given). A store drops commas from them;
	// they are "" for a session made before they were recorded.
	Device  string
	Network string
}

// AttemptStore keeps pending sign-in attempts. Every call treats a decoy
// (an attempt for an identifier that may not sign in, stored so that it
// cannot be told apart) as any other attempt.
type AttemptStore interface {
	// CreateAttempt stores a until a.ExpiresAt, and records it as the
	// latest attempt for its channel and identifier, until then too.
	CreateAttempt(ctx context.Context, a Attempt) error
	// TryAttempt counts one more try against the attempt, atomically, and
	// returns it with Tries set to the count including this one. A failed
	// attempt (FailAttempt) is returned with Failed set and no try counted.
	TryAttempt(ctx context.Context, id string) (Attempt, error)
	// AttemptByToken returns the live attempt whose TokenHash is
	// tokenHash, without counting a try. ErrNotFound if there is none.
	AttemptByToken(ctx context.Context, tokenHash []byte) (Attempt, error)
	// LatestAttempt returns the attempt most recently created for channel
	// and identifier, without counting a try, for front doors whose verify
	// call names the address instead of an attempt. ErrNotFound if that
	// attempt has expired or been deleted (an older one does not count
	// again). A failed attempt is returned with Failed set.
	LatestAttempt(ctx context.Context, channel, identifier string) (Attempt, error)
	// DeleteAttempt removes the attempt, and its token index with it, and
	// reports whether this call was the one that removed it; of concurrent
	// callers exactly one gets true.
	DeleteAttempt(ctx context.Context, id string) (bool, error)
	// FailAttempt marks the attempt as one whose message was not delivered,
	// atomically: its code MAC is dropped, so no code can match it, and its
	// token index is deleted, but the attempt itself stays until it expires,
	// so that the next check can say why. An attempt that no longer exists
	// is left alone, not made again.
	FailAttempt(ctx context.Context, id string) error
}

// UserStore keeps users and the index from identifier to user.
type UserStore interface {
	// UserByIdentifier finds the user who signs in with identifier on channel.
	UserByIdentifier(ctx context.Context, channel, identifier string) (User, error)
	// User returns the user with the given id.
	User(ctx context.Context, id string) (User, error)
	// RecordSignIn returns the user for (channel, identifier), creating it
	// with newID if there is none, and sets its roles and last sign-in time.
	// Concurrent calls for one identifier yield one user.
	RecordSignIn(ctx context.Context, channel, identifier, newID string, roles []string, at time.Time) (User, error)
	// SetUserMetadata replaces the user's Metadata. ErrNotFound if there
	// is no such user.
	SetUserMetadata(ctx context.Context, id string, metadata []byte) error
	// SetBlocked blocks or unblocks the user. Blocking first marks the
	// user, then removes every session of theirs as DeleteUserSessions
	// does (announcing each removal), and says how many were live; a
	// session made meanwhile by a sign-in that read the user before the
	// mark is the caller's to check (the mark is set first for that).
	// RecordSignIn leaves a blocked user as it is. ErrNotFound if there
	// is no such user.
	SetBlocked(ctx context.Context, id string, blocked bool) (int, error)
}

// SessionStore keeps sessions and the per-user index of them. A session's
// identity and roles are its user's record's (see UserStore): a store keeps
// only the session's user id and times.
type SessionStore interface {
	// CreateSession stores s's user id and times under s.ID until the given
	// time and adds it to the index of its user. s's Email, Phone and
	// Roles are not stored.
	CreateSession(ctx context.Context, s Session, until time.Time) error
	// Session returns the session stored under id, with Email, Phone and
	// Roles filled from its user's record: the identity the user signs in
	// with and the roles given at the user's last sign-in. ErrNotFound if
	// the session or its user does not exist.
	Session(ctx context.Context, id string) (Session, error)
	// TouchSession replaces a session's times if it still exists, so that
	// a session deleted meanwhile is not brought back; its Device and
	// Network stay as they were made. ErrNotFound if it is gone.
	TouchSession(ctx context.Context, s Session, until time.Time) error
	// DeleteSession removes one session.
	DeleteSession(ctx context.Context, id, userID string) error
	// DeleteUserSessions removes every session of a user and says how many
	// of them were live.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// UserSessions returns the user's live sessions, oldest first (by
	// CreatedAt, then ID), each with Email, Phone and Roles filled as
	// Session fills them. None, and no error, for a user without sessions
	// or who does not exist.
	UserSessions(ctx context.Context, userID string) ([]Session, error)
}

// Store is everything passgate keeps.
type Store interface {
	AttemptStore
	UserStore
	SessionStore
	LimitStore
	RefreshStore
	// Ping reports whether the backend answers now, within the store's
	// own bound on an operation: nil, or an error wrapping ErrUnavailable.
	// It reads and writes nothing, for readiness probes.
	Ping(ctx context.Context) error
}

// SetIdentifier sets the user's Email or Phone, as channel says, to
// identifier.
func (u *User) SetIdentifier(channel, identifier string) {
	switch channel {
	case "email":
		u.Email = identifier
	case "phone":
		u.Phone = identifier
	}
}

// SortSessions puts sessions in the order UserSessions returns them: by
// CreatedAt, then by ID.
func SortSessions(s []Session) {
	slices.SortFunc(s, func(a, b Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
