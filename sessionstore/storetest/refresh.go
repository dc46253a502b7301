package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// liveRefresh stores a session and a first refresh token for it.
func liveRefresh(t *testing.T, s sessionstore.Store) (sessionstore.Session, sessionstore.RefreshToken) {
	t.Helper()
	sess := newSession(newUser(t, s))
	must(t, s.CreateSession(context.Background(), sess, sess.ExpiresAt))
	_, hash := sessionstore.NewRefreshToken()
	rt := sessionstore.RefreshToken{Hash: hash, SessionID: sess.ID, UserID: sess.UserID,
		AMR: []string{"otp"}, ExpiresAt: sess.ExpiresAt}
	must(t, s.CreateRefresh(context.Background(), rt))
	return sess, rt
}

func testRefreshRotates(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt := liveRefresh(t, s)
	hash := rt.Hash
	for i := range 3 {
		_, next := sessionstore.NewRefreshToken()
		got, err := s.RotateRefresh(ctx, hash, next, time.Now())
		must(t, err)
		if got.Hash != next || got.SessionID != sess.ID || got.UserID != sess.UserID ||
			!slices.Equal(got.AMR, rt.AMR) || !got.ExpiresAt.Equal(rt.ExpiresAt) {
			t.Fatalf("rotation %d gave %+v, want hash %s and the chain of %+v", i, got, next, rt)
		}
		hash = next
	}
	_, next := sessionstore.NewRefreshToken()
	_, err := s.RotateRefresh(ctx, id(), next, time.Now())
	wantNotFound(t, err)
	// An unknown token revokes nothing.
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatalf("session gone after an unknown token: %v", err)
	}
}

// Refresh reads a token without spending it: however often it is read,
// the token rotates once, and only the second rotation counts as reuse.
func testRefreshReadDoesNotSpend(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt := liveRefresh(t, s)
	for i := range 2 {
		got, err := s.Refresh(ctx, rt.Hash)
		must(t, err)
		if got.Hash != rt.Hash || got.SessionID != sess.ID || got.UserID != sess.UserID ||
			!slices.Equal(got.AMR, rt.AMR) || !got.ExpiresAt.Equal(rt.ExpiresAt) {
			t.Fatalf("read %d gave %+v, want %+v", i, got, rt)
		}
	}
	_, next := sessionstore.NewRefreshToken()
	got, err := s.RotateRefresh(ctx, rt.Hash, next, time.Now())
	must(t, err)
	if got.Hash != next || got.SessionID != sess.ID {
		t.Fatalf("rotation after reads gave %+v", got)
	}
	// The new token reads as such; the spent one is still returned as is
	// (RotateRefresh is what tells reuse), and reading it revokes nothing.
	if got, err := s.Refresh(ctx, next); err != nil || got.Hash != next || got.SessionID != sess.ID {
		t.Fatalf("reading the new token: %+v, %v", got, err)
	}
	if got, err := s.Refresh(ctx, rt.Hash); err != nil || got.SessionID != sess.ID {
		t.Fatalf("reading the spent token: %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatalf("session gone after reading a spent token: %v", err)
	}
	_, third := sessionstore.NewRefreshToken()
	if _, err := s.RotateRefresh(ctx, rt.Hash, third, time.Now()); !errors.Is(err, sessionstore.ErrRefreshReused) {
		t.Fatalf("rotating the spent token after reads: %v, want ErrRefreshReused", err)
	}

	_, err = s.Refresh(ctx, id())
	wantNotFound(t, err)
	_, expired := sessionstore.NewRefreshToken()
	must(t, s.CreateRefresh(ctx, sessionstore.RefreshToken{Hash: expired, SessionID: sess.ID, UserID: sess.UserID,
		ExpiresAt: time.Now().Add(-time.Millisecond)}))
	_, err = s.Refresh(ctx, expired)
	wantNotFound(t, err)
}

func testRefreshReuseRevokesSession(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt := liveRefresh(t, s)
	u, err := s.User(ctx, sess.UserID)
	must(t, err)
	other := newSession(u) // the same user's other sign-in
	must(t, s.CreateSession(ctx, other, other.ExpiresAt))
	_, second := sessionstore.NewRefreshToken()
	_, err = s.RotateRefresh(ctx, rt.Hash, second, time.Now())
	must(t, err)

	_, third := sessionstore.NewRefreshToken()
	got, err := s.RotateRefresh(ctx, rt.Hash, third, time.Now())
	if !errors.Is(err, sessionstore.ErrRefreshReused) {
		t.Fatalf("reusing a rotated token: %v, want ErrRefreshReused", err)
	}
	if got.SessionID != sess.ID || got.UserID != sess.UserID {
		t.Fatalf("reuse reported %+v, want session %s", got, sess.ID)
	}
	_, err = s.Session(ctx, sess.ID)
	wantNotFound(t, err)
	// The token the thief or the client holds is dead too...
	_, err = s.RotateRefresh(ctx, second, third, time.Now())
	wantNotFound(t, err)
	// ...but the user's other session is untouched.
	if _, err := s.Session(ctx, other.ID); err != nil {
		t.Fatalf("reuse revoked another session: %v", err)
	}
	n, err := s.DeleteUserSessions(ctx, sess.UserID)
	must(t, err)
	if n != 1 {
		t.Fatalf("user index holds %d live sessions, want 1 (the revoked one removed)", n)
	}
}

func testRefreshDiesWithSession(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	for _, revoke := range []struct {
		name string
		fn   func(sess sessionstore.Session) error
	}{
		{"logout", func(sess sessionstore.Session) error { return s.DeleteSession(ctx, sess.ID, sess.UserID) }},
		{"global logout", func(sess sessionstore.Session) error {
			_, err := s.DeleteUserSessions(ctx, sess.UserID)
			return err
		}},
	} {
		sess, rt := liveRefresh(t, s)
		must(t, revoke.fn(sess))
		_, next := sessionstore.NewRefreshToken()
		if _, err := s.RotateRefresh(ctx, rt.Hash, next, time.Now()); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("%s: rotating a token of a revoked session: %v, want ErrNotFound", revoke.name, err)
		}
	}
}

func testRefreshExpired(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess := newSession(newUser(t, s))
	must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
	_, hash := sessionstore.NewRefreshToken()
	must(t, s.CreateRefresh(ctx, sessionstore.RefreshToken{Hash: hash, SessionID: sess.ID, UserID: sess.UserID,
		ExpiresAt: time.Now().Add(-time.Millisecond)}))
	_, next := sessionstore.NewRefreshToken()
	_, err := s.RotateRefresh(ctx, hash, next, time.Now())
	wantNotFound(t, err)
}

func testRefreshConcurrentRotation(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt := liveRefresh(t, s)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, next := sessionstore.NewRefreshToken()
			_, errs[i] = s.RotateRefresh(ctx, rt.Hash, next, time.Now())
		})
	}
	wg.Wait()
	ok, reused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, sessionstore.ErrRefreshReused):
			reused++
		default:
			t.Fatalf("concurrent rotation: %v", err)
		}
	}
	if ok != 1 || reused != n-1 {
		t.Fatalf("%d rotations succeeded and %d saw reuse, want 1 and %d", ok, reused, n-1)
	}
	_, err := s.Session(ctx, sess.ID)
	wantNotFound(t, err)
}

// The same rotation asked again within the grace (a retry after a lost
// answer, or a second tab holding the same token) gets the same new token
// and revokes nothing; anything else presenting a spent token is reuse.
func testRefreshRetryWithinGrace(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	grace := sessionstore.RefreshRetryGrace
	rotate := func(old, next string, at time.Time) (sessionstore.RefreshToken, error) {
		return s.RotateRefresh(ctx, old, next, at)
	}
	t0 := time.Now()
	wantReuse := func(what string, sess sessionstore.Session, err error) {
		t.Helper()
		if !errors.Is(err, sessionstore.ErrRefreshReused) {
			t.Fatalf("%s: %v, want ErrRefreshReused", what, err)
		}
		if _, err := s.Session(ctx, sess.ID); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("%s: session still there (%v), want it revoked", what, err)
		}
	}

	sess, rt := liveRefresh(t, s)
	_, next := sessionstore.NewRefreshToken()
	first, err := rotate(rt.Hash, next, t0)
	must(t, err)
	for _, after := range []time.Duration{0, grace / 2, grace - time.Millisecond} {
		again, err := rotate(rt.Hash, next, t0.Add(after))
		if err != nil {
			t.Fatalf("the same rotation %v later: %v, want the same new token", after, err)
		}
		if again.Hash != next || again.SessionID != first.SessionID || again.UserID != first.UserID ||
			!slices.Equal(again.AMR, first.AMR) || !again.ExpiresAt.Equal(first.ExpiresAt) {
			t.Fatalf("the same rotation %v later gave %+v, want %+v", after, again, first)
		}
	}
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatalf("session gone after retries within the grace: %v", err)
	}
	// The new token is live and rotates as usual.
	_, third := sessionstore.NewRefreshToken()
	if got, err := rotate(next, third, t0.Add(time.Second)); err != nil || got.Hash != third {
		t.Fatalf("rotating the new token after retries: %+v, %v", got, err)
	}
	// Now that it is spent, the first rotation asked again is reuse.
	_, err = rotate(rt.Hash, next, t0.Add(2*time.Second))
	wantReuse("the same rotation after the new token was rotated", sess, err)

	sess, rt = liveRefresh(t, s)
	_, next = sessionstore.NewRefreshToken()
	_, err = rotate(rt.Hash, next, t0)
	must(t, err)
	_, err = rotate(rt.Hash, next, t0.Add(grace))
	wantReuse("the same rotation once the grace is over", sess, err)

	sess, rt = liveRefresh(t, s)
	_, next = sessionstore.NewRefreshToken()
	_, err = rotate(rt.Hash, next, t0)
	must(t, err)
	// Another token, even a live one (another session's), is not the
	// successor this token was rotated to.
	otherSess, other := liveRefresh(t, s)
	_, err = rotate(rt.Hash, other.Hash, t0.Add(time.Second))
	wantReuse("a rotation to another token within the grace", sess, err)
	if _, err := s.Session(ctx, otherSess.ID); err != nil {
		t.Fatalf("the other token's session is gone: %v", err)
	}
	// The revoked session's tokens are dead, the retry's included.
	_, err = rotate(rt.Hash, next, t0.Add(2*time.Second))
	wantNotFound(t, err)
	_, err = rotate(next, third, t0.Add(2*time.Second))
	wantNotFound(t, err)

	// Within the grace but with the session logged out: nothing to give.
	sess, rt = liveRefresh(t, s)
	_, next = sessionstore.NewRefreshToken()
	_, err = rotate(rt.Hash, next, t0)
	must(t, err)
	must(t, s.DeleteSession(ctx, sess.ID, sess.UserID))
	_, err = rotate(rt.Hash, next, t0.Add(time.Second))
	wantNotFound(t, err)
}

// Concurrent rotations of one token to the same new token (two tabs, or a
// client and its retry) all get it, and the session lives.
func testRefreshConcurrentSameRotation(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt := liveRefresh(t, s)
	_, next := sessionstore.NewRefreshToken()
	const n = 20
	got := make([]sessionstore.RefreshToken, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.RotateRefresh(ctx, rt.Hash, next, time.Now()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i].Hash != next || got[i].SessionID != sess.ID {
			t.Fatalf("rotation %d of %d concurrent ones to the same token: %+v, %v", i, n, got[i], errs[i])
		}
	}
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatalf("session gone after concurrent rotations to one token: %v", err)
	}
}
