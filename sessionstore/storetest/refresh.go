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
		got, err := s.RotateRefresh(ctx, hash, next)
		must(t, err)
		if got.Hash != next || got.SessionID != sess.ID || got.UserID != sess.UserID ||
			!slices.Equal(got.AMR, rt.AMR) || !got.ExpiresAt.Equal(rt.ExpiresAt) {
			t.Fatalf("rotation %d gave %+v, want hash %s and the chain of %+v", i, got, next, rt)
		}
		hash = next
	}
	_, next := sessionstore.NewRefreshToken()
	_, err := s.RotateRefresh(ctx, id(), next)
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
	got, err := s.RotateRefresh(ctx, rt.Hash, next)
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
	if _, err := s.RotateRefresh(ctx, rt.Hash, third); !errors.Is(err, sessionstore.ErrRefreshReused) {
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
	_, err = s.RotateRefresh(ctx, rt.Hash, second)
	must(t, err)

	_, third := sessionstore.NewRefreshToken()
	got, err := s.RotateRefresh(ctx, rt.Hash, third)
	if !errors.Is(err, sessionstore.ErrRefreshReused) {
		t.Fatalf("reusing a rotated token: %v, want ErrRefreshReused", err)
	}
	if got.SessionID != sess.ID || got.UserID != sess.UserID {
		t.Fatalf("reuse reported %+v, want session %s", got, sess.ID)
	}
	_, err = s.Session(ctx, sess.ID)
	wantNotFound(t, err)
	// The token the thief or the client holds is dead too...
	_, err = s.RotateRefresh(ctx, second, third)
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
		if _, err := s.RotateRefresh(ctx, rt.Hash, next); !errors.Is(err, sessionstore.ErrNotFound) {
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
	_, err := s.RotateRefresh(ctx, hash, next)
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
			_, errs[i] = s.RotateRefresh(ctx, rt.Hash, next)
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
