package sessionstore

import (
	"context"
	"time"
)

// Observed returns st with every operation timed: observe gets the
// operation's name ("session", "create_attempt", …) and how long it took,
// whatever its outcome. The metrics' store latency comes from here.
func Observed(st Store, observe func(op string, d time.Duration)) Store {
	return observed{st, observe}
}

type observed struct {
	Store
	observe func(op string, d time.Duration)
}

func (o observed) since(op string, began time.Time) { o.observe(op, time.Since(began)) }

func (o observed) CreateAttempt(ctx context.Context, a Attempt) error {
	defer o.since("create_attempt", time.Now())
	return o.Store.CreateAttempt(ctx, a)
}

func (o observed) TryAttempt(ctx context.Context, id string) (Attempt, error) {
	defer o.since("try_attempt", time.Now())
	return o.Store.TryAttempt(ctx, id)
}

func (o observed) AttemptByToken(ctx context.Context, tokenHash []byte) (Attempt, error) {
	defer o.since("attempt_by_token", time.Now())
	return o.Store.AttemptByToken(ctx, tokenHash)
}

func (o observed) DeleteAttempt(ctx context.Context, id string) (bool, error) {
	defer o.since("delete_attempt", time.Now())
	return o.Store.DeleteAttempt(ctx, id)
}

func (o observed) FailAttempt(ctx context.Context, id string) error {
	defer o.since("fail_attempt", time.Now())
	return o.Store.FailAttempt(ctx, id)
}

func (o observed) UserByIdentifier(ctx context.Context, channel, identifier string) (User, error) {
	defer o.since("user_by_identifier", time.Now())
	return o.Store.UserByIdentifier(ctx, channel, identifier)
}

func (o observed) User(ctx context.Context, id string) (User, error) {
	defer o.since("user", time.Now())
	return o.Store.User(ctx, id)
}

func (o observed) SetBlocked(ctx context.Context, id string, blocked bool) (int, error) {
	defer o.since("set_blocked", time.Now())
	return o.Store.SetBlocked(ctx, id, blocked)
}

func (o observed) RecordSignIn(ctx context.Context, channel, identifier, newID string, roles []string, at time.Time) (User, error) {
	defer o.since("record_sign_in", time.Now())
	return o.Store.RecordSignIn(ctx, channel, identifier, newID, roles, at)
}

func (o observed) SetUserMetadata(ctx context.Context, id string, metadata []byte) error {
	defer o.since("set_user_metadata", time.Now())
	return o.Store.SetUserMetadata(ctx, id, metadata)
}

func (o observed) CreateSession(ctx context.Context, s Session, until time.Time) error {
	defer o.since("create_session", time.Now())
	return o.Store.CreateSession(ctx, s, until)
}

func (o observed) Session(ctx context.Context, id string) (Session, error) {
	defer o.since("session", time.Now())
	return o.Store.Session(ctx, id)
}

func (o observed) TouchSession(ctx context.Context, s Session, until time.Time) error {
	defer o.since("touch_session", time.Now())
	return o.Store.TouchSession(ctx, s, until)
}

func (o observed) DeleteSession(ctx context.Context, id, userID string) error {
	defer o.since("delete_session", time.Now())
	return o.Store.DeleteSession(ctx, id, userID)
}

func (o observed) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	defer o.since("delete_user_sessions", time.Now())
	return o.Store.DeleteUserSessions(ctx, userID)
}

func (o observed) TakeSlot(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (string, time.Duration, error) {
	defer o.since("take_slot", time.Now())
	return o.Store.TakeSlot(ctx, key, limit, window, now)
}

func (o observed) ReleaseSlot(ctx context.Context, key, slot string) error {
	defer o.since("release_slot", time.Now())
	return o.Store.ReleaseSlot(ctx, key, slot)
}

func (o observed) CreateRefresh(ctx context.Context, rt RefreshToken) error {
	defer o.since("create_refresh", time.Now())
	return o.Store.CreateRefresh(ctx, rt)
}

func (o observed) Refresh(ctx context.Context, hash string) (RefreshToken, error) {
	defer o.since("refresh", time.Now())
	return o.Store.Refresh(ctx, hash)
}

func (o observed) RotateRefresh(ctx context.Context, oldHash, newHash string, now time.Time) (RefreshToken, error) {
	defer o.since("rotate_refresh", time.Now())
	return o.Store.RotateRefresh(ctx, oldHash, newHash, now)
}

func (o observed) LatestAttempt(ctx context.Context, channel, identifier string) (Attempt, error) {
	defer o.since("latest_attempt", time.Now())
	return o.Store.LatestAttempt(ctx, channel, identifier)
}

func (o observed) UserSessions(ctx context.Context, userID string) ([]Session, error) {
	defer o.since("user_sessions", time.Now())
	return o.Store.UserSessions(ctx, userID)
}
