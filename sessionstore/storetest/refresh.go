package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// refreshKey derives successors as an engine does; otherKey as one with
// another secret would, giving another successor of the same chain.
var refreshKey, otherKey = []byte("storetest refresh key"), []byte("another refresh key")

// token is a refresh token as the client holds it, and its hash.
type token struct{ token, hash string }

func rootToken() token {
	t, h := sessionstore.NewRefreshToken()
	return token{t, h}
}

// next is the successor of t in its chain, as NextRefreshToken gives it.
func (t token) next() token { return t.nextWith(refreshKey) }

func (t token) nextWith(key []byte) token {
	n, h := sessionstore.NextRefreshToken(key, t.token)
	return token{n, h}
}

// liveRefresh stores a session and the first refresh token of a chain for it.
func liveRefresh(t *testing.T, s sessionstore.Store) (sessionstore.Session, sessionstore.RefreshToken, token) {
	t.Helper()
	sess := newSession(newUser(t, s))
	must(t, s.CreateSession(context.Background(), sess, sess.ExpiresAt))
	root := rootToken()
	rt := sessionstore.RefreshToken{Hash: root.hash, SessionID: sess.ID, UserID: sess.UserID,
		AMR: []string{"otp"}, ExpiresAt: sess.ExpiresAt}
	must(t, s.CreateRefresh(context.Background(), rt))
	return sess, rt, root
}

func testRefreshRotates(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt, tok := liveRefresh(t, s)
	for i := range 3 {
		next := tok.next()
		got, err := s.RotateRefresh(ctx, tok.hash, next.hash, time.Now())
		must(t, err)
		if got.Hash != next.hash || got.SessionID != sess.ID || got.UserID != sess.UserID ||
			!slices.Equal(got.AMR, rt.AMR) || !got.ExpiresAt.Equal(rt.ExpiresAt) {
			t.Fatalf("rotation %d gave %+v, want hash %s and the chain of %+v", i, got, next.hash, rt)
		}
		tok = next
	}
	unknown := rootToken()
	_, err := s.RotateRefresh(ctx, unknown.hash, unknown.next().hash, time.Now())
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
	sess, rt, tok := liveRefresh(t, s)
	for i := range 2 {
		got, err := s.Refresh(ctx, rt.Hash)
		must(t, err)
		if got.Hash != rt.Hash || got.SessionID != sess.ID || got.UserID != sess.UserID ||
			!slices.Equal(got.AMR, rt.AMR) || !got.ExpiresAt.Equal(rt.ExpiresAt) {
			t.Fatalf("read %d gave %+v, want %+v", i, got, rt)
		}
	}
	next := tok.next()
	got, err := s.RotateRefresh(ctx, rt.Hash, next.hash, time.Now())
	must(t, err)
	if got.Hash != next.hash || got.SessionID != sess.ID {
		t.Fatalf("rotation after reads gave %+v", got)
	}
	// The new token reads as such; the spent one is still returned as is
	// (RotateRefresh is what tells reuse), and reading it revokes nothing.
	if got, err := s.Refresh(ctx, next.hash); err != nil || got.Hash != next.hash || got.SessionID != sess.ID {
		t.Fatalf("reading the new token: %+v, %v", got, err)
	}
	if got, err := s.Refresh(ctx, rt.Hash); err != nil || got.SessionID != sess.ID {
		t.Fatalf("reading the spent token: %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatalf("session gone after reading a spent token: %v", err)
	}
	if _, err := s.RotateRefresh(ctx, rt.Hash, tok.nextWith(otherKey).hash, time.Now()); !errors.Is(err, sessionstore.ErrRefreshReused) {
		t.Fatalf("rotating the spent token after reads: %v, want ErrRefreshReused", err)
	}

	_, err = s.Refresh(ctx, rootToken().hash)
	wantNotFound(t, err)
	expired := rootToken()
	must(t, s.CreateRefresh(ctx, sessionstore.RefreshToken{Hash: expired.hash, SessionID: sess.ID, UserID: sess.UserID,
		ExpiresAt: time.Now().Add(-time.Millisecond)}))
	_, err = s.Refresh(ctx, expired.hash)
	wantNotFound(t, err)
}

func testRefreshReuseRevokesSession(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt, tok := liveRefresh(t, s)
	u, err := s.User(ctx, sess.UserID)
	must(t, err)
	other := newSession(u) // the same user's other sign-in
	must(t, s.CreateSession(ctx, other, other.ExpiresAt))
	second := tok.next()
	_, err = s.RotateRefresh(ctx, rt.Hash, second.hash, time.Now())
	must(t, err)

	got, err := s.RotateRefresh(ctx, rt.Hash, tok.nextWith(otherKey).hash, time.Now())
	if !errors.Is(err, sessionstore.ErrRefreshReused) {
		t.Fatalf("reusing a rotated token: %v, want ErrRefreshReused", err)
	}
	if got.SessionID != sess.ID || got.UserID != sess.UserID {
		t.Fatalf("reuse reported %+v, want session %s", got, sess.ID)
	}
	_, err = s.Session(ctx, sess.ID)
	wantNotFound(t, err)
	// The token the thief or the client holds is dead too...
	_, err = s.RotateRefresh(ctx, second.hash, second.next().hash, time.Now())
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
		sess, rt, tok := liveRefresh(t, s)
		must(t, revoke.fn(sess))
		if _, err := s.RotateRefresh(ctx, rt.Hash, tok.next().hash, time.Now()); !errors.Is(err, sessionstore.ErrNotFound) {
			t.Fatalf("%s: rotating a token of a revoked session: %v, want ErrNotFound", revoke.name, err)
		}
	}
}

func testRefreshExpired(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess := newSession(newUser(t, s))
	must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
	tok := rootToken()
	must(t, s.CreateRefresh(ctx, sessionstore.RefreshToken{Hash: tok.hash, SessionID: sess.ID, UserID: sess.UserID,
		ExpiresAt: time.Now().Add(-time.Millisecond)}))
	_, err := s.RotateRefresh(ctx, tok.hash, tok.next().hash, time.Now())
	wantNotFound(t, err)
}

// Concurrent rotations of one token to different successors (a thief and
// the client, whose engines would name the same successor only with the
// same key): one wins, every other is reuse, and the session is revoked.
func testRefreshConcurrentRotation(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt, tok := liveRefresh(t, s)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			next := tok.nextWith([]byte(rand.Text()))
			_, errs[i] = s.RotateRefresh(ctx, rt.Hash, next.hash, time.Now())
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
	rotate := func(old, next token, at time.Time) (sessionstore.RefreshToken, error) {
		return s.RotateRefresh(ctx, old.hash, next.hash, at)
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

	sess, _, tok := liveRefresh(t, s)
	next := tok.next()
	first, err := rotate(tok, next, t0)
	must(t, err)
	for _, after := range []time.Duration{0, grace / 2, grace - time.Millisecond} {
		again, err := rotate(tok, next, t0.Add(after))
		if err != nil {
			t.Fatalf("the same rotation %v later: %v, want the same new token", after, err)
		}
		if again.Hash != next.hash || again.SessionID != first.SessionID || again.UserID != first.UserID ||
			!slices.Equal(again.AMR, first.AMR) || !again.ExpiresAt.Equal(first.ExpiresAt) {
			t.Fatalf("the same rotation %v later gave %+v, want %+v", after, again, first)
		}
	}
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatalf("session gone after retries within the grace: %v", err)
	}
	// The new token is live and rotates as usual.
	third := next.next()
	if got, err := rotate(next, third, t0.Add(time.Second)); err != nil || got.Hash != third.hash {
		t.Fatalf("rotating the new token after retries: %+v, %v", got, err)
	}
	// Now that it is spent, the first rotation asked again is reuse.
	_, err = rotate(tok, next, t0.Add(2*time.Second))
	wantReuse("the same rotation after the new token was rotated", sess, err)

	sess, _, tok = liveRefresh(t, s)
	next = tok.next()
	_, err = rotate(tok, next, t0)
	must(t, err)
	_, err = rotate(tok, next, t0.Add(grace))
	wantReuse("the same rotation once the grace is over", sess, err)

	sess, _, tok = liveRefresh(t, s)
	next = tok.next()
	_, err = rotate(tok, next, t0)
	must(t, err)
	// Another successor of the same token is not the one it was rotated to.
	_, err = rotate(tok, tok.nextWith(otherKey), t0.Add(time.Second))
	wantReuse("a rotation to another successor within the grace", sess, err)
	// The revoked session's tokens are dead, the retry's included.
	_, err = rotate(tok, next, t0.Add(2*time.Second))
	wantNotFound(t, err)
	_, err = rotate(next, next.next(), t0.Add(2*time.Second))
	wantNotFound(t, err)

	// Within the grace but with the session logged out: nothing to give.
	sess, _, tok = liveRefresh(t, s)
	next = tok.next()
	_, err = rotate(tok, next, t0)
	must(t, err)
	must(t, s.DeleteSession(ctx, sess.ID, sess.UserID))
	_, err = rotate(tok, next, t0.Add(time.Second))
	wantNotFound(t, err)
}

// Concurrent rotations of one token to the same new token (two tabs, or a
// client and its retry) all get it, and the session lives.
func testRefreshConcurrentSameRotation(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt, tok := liveRefresh(t, s)
	next := tok.next()
	const n = 20
	got := make([]sessionstore.RefreshToken, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = s.RotateRefresh(ctx, rt.Hash, next.hash, time.Now()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i].Hash != next.hash || got[i].SessionID != sess.ID {
			t.Fatalf("rotation %d of %d concurrent ones to the same token: %+v, %v", i, n, got[i], errs[i])
		}
	}
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatalf("session gone after concurrent rotations to one token: %v", err)
	}
}

// A successor from another chain (a caller's mistake) is refused before
// anything changes: the old token is unspent, the other chain's token
// untouched, no session revoked.
func testRefreshOtherChain(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess, rt, tok := liveRefresh(t, s)
	otherSess, other, _ := liveRefresh(t, s)
	for _, wrong := range []string{other.Hash, rootToken().next().hash} {
		if _, err := s.RotateRefresh(ctx, rt.Hash, wrong, time.Now()); !errors.Is(err, sessionstore.ErrOtherChain) {
			t.Fatalf("rotation to another chain's token: %v, want ErrOtherChain", err)
		}
	}
	for _, id := range []string{sess.ID, otherSess.ID} {
		if _, err := s.Session(ctx, id); err != nil {
			t.Fatalf("a session went with a refused rotation: %v", err)
		}
	}
	if got, err := s.RotateRefresh(ctx, rt.Hash, tok.next().hash, time.Now()); err != nil || got.SessionID != sess.ID {
		t.Fatalf("the token after refused rotations: %+v, %v; want it unspent", got, err)
	}
	if got, err := s.Refresh(ctx, other.Hash); err != nil || got.SessionID != otherSess.ID {
		t.Fatalf("the other chain's token: %+v, %v", got, err)
	}
}
