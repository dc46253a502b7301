package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// handoffChannel marks the attempts that hold hand-offs: no code, no link
// and no sign-in ever matches one (PeekLink and CheckCode refuse them).
const handoffChannel = "handoff"

// MaxHandoffTTL bounds a hand-off's life: it only has to survive a
// browser's redirect and the backend's call that follows.
const MaxHandoffTTL = 10 * time.Minute

// IssueHandoff keeps data for ttl (at most MaxHandoffTTL) under a new
// one-time code, and returns the code: a door that has verified someone in
// a browser hands the code to the browser, which brings it to the app,
// whose backend redeems it once (RedeemHandoff) for data. The record is in
// the store, so any instance sharing it can redeem it; the store keeps
// only the code's hash. Errors: ErrInvalidInput (data too large, a bad
// ttl) or ErrUnavailable.
func (e *Engine) IssueHandoff(ctx context.Context, data []byte, ttl time.Duration) (string, error) {
	if len(data) > MaxAttemptData {
		return "", invalid("the hand-off's data is too large")
	}
	if ttl <= 0 || ttl > MaxHandoffTTL {
		return "", invalid("a hand-off lives above 0 and at most " + MaxHandoffTTL.String())
	}
	code := e.newLinkToken()
	now := e.now().Truncate(time.Millisecond)
	id := e.randomText()
	a := sessionstore.Attempt{
		ID:         id,
		Channel:    handoffChannel,
		Identifier: id,
		TokenHash:  TokenHash(code),
		// Random bytes no code has, as a decoy's: nothing checks it, and
		// nothing could match it if something did.
		CodeMAC:   e.randomBytes(sha256.Size),
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
		Data:      data,
	}
	if err := e.store.CreateAttempt(ctx, a); err != nil {
		return "", err
	}
	return code, nil
}

// RedeemHandoff returns the data kept under code and forgets it, once: of
// concurrent redeemers one wins. accept sees the data first and may refuse
// it (another client's code), which leaves it for its owner. Each call
// counts against the caller's check budget. Errors: ErrAttemptNotFound
// (unknown, used, expired or refused), *RateLimitedError or
// ErrUnavailable.
func (e *Engine) RedeemHandoff(ctx context.Context, code string, caller Caller, accept func(data []byte) bool) ([]byte, error) {
	lims := e.cfg.Limits
	n, window := lims.VerifiesPerIP, lims.VerifiesPerIPWindow
	if caller.Client != "" {
		n, window = lims.VerifiesPerClient, lims.VerifiesPerClientWindow
	}
	lim := &limiter{store: e.store, now: e.now()}
	if err := lim.take(ctx, "verifies per client", "ipv:"+caller.budgetKey(), n, window); err != nil {
		return nil, e.refused(err, caller, "", MethodLink)
	}
	if !ValidToken(code) {
		return nil, ErrAttemptNotFound
	}
	a, err := e.store.AttemptByToken(ctx, TokenHash(code))
	if errors.Is(err, sessionstore.ErrNotFound) {
		return nil, ErrAttemptNotFound
	}
	if err != nil {
		return nil, err
	}
	if a.Channel != handoffChannel || !accept(a.Data) {
		return nil, ErrAttemptNotFound
	}
	won, err := e.store.DeleteAttempt(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if !won {
		return nil, ErrAttemptNotFound
	}
	return a.Data, nil
}

// signInChannel reports whether an attempt on channel may sign anyone in:
// a hand-off never does.
func signInChannel(channel string) bool {
	return channel == ChannelEmail || channel == ChannelPhone
}
