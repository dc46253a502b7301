// Package storetest is the behavioural suite every sessionstore backend
// must pass, so that memory and Redis cannot drift apart.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Run runs the suite. newStore returns an empty store for one subtest.
func Run(t *testing.T, newStore func(t *testing.T) sessionstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s sessionstore.Store)
	}{
		{"Ping", testPing},
		{"AttemptRoundTrip", testAttemptRoundTrip},
		{"AttemptUnknownAndExpired", testAttemptUnknownAndExpired},
		{"AttemptTriesAreAtomic", testAttemptTriesAreAtomic},
		{"AttemptDeletedOnce", testAttemptDeletedOnce},
		{"AttemptByToken", testAttemptByToken},
		{"AttemptByTokenExpired", testAttemptByTokenExpired},
		{"AttemptTokenGoesWithAttempt", testAttemptTokenGoesWithAttempt},
		{"AttemptFailed", testAttemptFailed},
		{"AttemptFailedExpires", testAttemptFailedExpires},
		{"LatestAttempt", testLatestAttempt},
		{"LatestAttemptGoneOrExpired", testLatestAttemptGoneOrExpired},
		{"UserCreatedOnceAndUpdated", testUserCreatedOnceAndUpdated},
		{"UserConcurrentSignIn", testUserConcurrentSignIn},
		{"UserMetadata", testUserMetadata},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionIdentityIsTheUsers", testSessionIdentityIsTheUsers},
		{"UserReadsIgnoreSessions", testUserReadsIgnoreSessions},
		{"SessionTouchDoesNotResurrect", testSessionTouchDoesNotResurrect},
		{"SessionExpired", testSessionExpired},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"UserSessions", testUserSessions},
		{"SessionDevice", testSessionDevice},
		{"UserBlocked", testUserBlocked},
		{"LimitSlidingWindow", testLimitSlidingWindow},
		{"LimitAtomic", testLimitAtomic},
		{"LimitEventsOutOfOrder", testLimitEventsOutOfOrder},
		{"RefreshRotates", testRefreshRotates},
		{"RefreshReadDoesNotSpend", testRefreshReadDoesNotSpend},
		{"RefreshReuseRevokesSession", testRefreshReuseRevokesSession},
		{"RefreshDiesWithSession", testRefreshDiesWithSession},
		{"RefreshExpired", testRefreshExpired},
		{"RefreshConcurrentRotation", testRefreshConcurrentRotation},
		{"RefreshRetryWithinGrace", testRefreshRetryWithinGrace},
		{"RefreshConcurrentSameRotation", testRefreshConcurrentSameRotation},
		{"RefreshOtherChain", testRefreshOtherChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func id() string { return rand.Text() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("got error %v, want ErrNotFound", err)
	}
}

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// testPing: a reachable store answers a ping.
func testPing(t *testing.T, s sessionstore.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func testAttemptRoundTrip(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	now := ms(time.Now())
	a := sessionstore.Attempt{
		ID: id(), Channel: "email", Identifier: "ann@example.com",
		CodeMAC: []byte{0, 1, 2, 0xff, 0}, RedirectTo: "/app?x=1", CreateUser: true,
		CreatedAt: now, ExpiresAt: now.Add(time.Minute), Data: []byte("{\"cc\":\"x\"}\x00\xff"),
	}
	must(t, s.CreateAttempt(ctx, a))
	for want := 1; want <= 3; want++ {
		got, err := s.TryAttempt(ctx, a.ID)
		must(t, err)
		a.Tries = want
		if got.ID != a.ID || got.Channel != a.Channel || got.Identifier != a.Identifier ||
			string(got.CodeMAC) != string(a.CodeMAC) || got.RedirectTo != a.RedirectTo ||
			got.CreateUser != a.CreateUser || !got.CreatedAt.Equal(a.CreatedAt) ||
			!got.ExpiresAt.Equal(a.ExpiresAt) || got.Tries != want || string(got.Data) != string(a.Data) {
			t.Fatalf("try %d: got %+v, want %+v", want, got, a)
		}
	}
	latest, err := s.LatestAttempt(ctx, a.Channel, a.Identifier)
	must(t, err)
	if string(latest.Data) != string(a.Data) {
		t.Fatalf("LatestAttempt lost the door's data: %q", latest.Data)
	}
	deleted, err := s.DeleteAttempt(ctx, a.ID)
	must(t, err)
	if !deleted {
		t.Fatal("DeleteAttempt of a live attempt reported false")
	}
	_, err = s.TryAttempt(ctx, a.ID)
	wantNotFound(t, err)
	deleted, err = s.DeleteAttempt(ctx, a.ID)
	must(t, err)
	if deleted {
		t.Fatal("second DeleteAttempt reported true")
	}
}

func testAttemptUnknownAndExpired(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	_, err := s.TryAttempt(ctx, id())
	wantNotFound(t, err)

	past := time.Now().Add(-time.Second)
	a := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", CreatedAt: past.Add(-time.Minute), ExpiresAt: past}
	must(t, s.CreateAttempt(ctx, a))
	_, err = s.TryAttempt(ctx, a.ID)
	wantNotFound(t, err)
	deleted, err := s.DeleteAttempt(ctx, a.ID)
	must(t, err)
	if deleted {
		t.Fatal("DeleteAttempt of an expired attempt reported true")
	}
}

func testAttemptTriesAreAtomic(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	now := time.Now()
	a := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, a))
	const n = 30
	seen := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := s.TryAttempt(ctx, a.ID)
			if err != nil {
				t.Error(err)
				return
			}
			seen[i] = got.Tries
		})
	}
	wg.Wait()
	slices.Sort(seen)
	for i, v := range seen {
		if v != i+1 {
			t.Fatalf("concurrent tries got counts %v, want 1..%d each once", seen, n)
		}
	}
}

func testAttemptDeletedOnce(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	now := time.Now()
	a := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, a))
	var winners atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok, err := s.DeleteAttempt(ctx, a.ID)
			if err != nil {
				t.Error(err)
			}
			if ok {
				winners.Add(1)
			}
		})
	}
	wg.Wait()
	if w := winners.Load(); w != 1 {
		t.Fatalf("%d concurrent deletes reported success, want exactly 1", w)
	}
}

func testUserCreatedOnceAndUpdated(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	_, err := s.UserByIdentifier(ctx, "email", "nobody@example.com")
	wantNotFound(t, err)
	_, err = s.User(ctx, id())
	wantNotFound(t, err)

	t1 := ms(time.Now())
	first := id()
	u, err := s.RecordSignIn(ctx, "email", "bea@example.com", first, []string{"admin"}, t1)
	must(t, err)
	if u.ID != first || u.Email != "bea@example.com" || u.Phone != "" || !u.CreatedAt.Equal(t1) ||
		!u.LastSignInAt.Equal(t1) || !slices.Equal(u.Roles, []string{"admin"}) {
		t.Fatalf("created user = %+v", u)
	}
	t2 := t1.Add(time.Hour)
	u2, err := s.RecordSignIn(ctx, "email", "bea@example.com", id(), nil, t2)
	must(t, err)
	if u2.ID != first || !u2.CreatedAt.Equal(t1) || !u2.LastSignInAt.Equal(t2) || len(u2.Roles) != 0 {
		t.Fatalf("second sign-in gave %+v, want id %s created %v last %v no roles", u2, first, t1, t2)
	}
	byIdf, err := s.UserByIdentifier(ctx, "email", "bea@example.com")
	must(t, err)
	byID, err := s.User(ctx, first)
	must(t, err)
	if byIdf.ID != first || byID.ID != first || !byID.LastSignInAt.Equal(t2) {
		t.Fatalf("lookups gave %+v and %+v", byIdf, byID)
	}
	// The same string on another channel is another person.
	p, err := s.RecordSignIn(ctx, "phone", "bea@example.com", id(), nil, t2)
	must(t, err)
	if p.ID == first || p.Phone != "bea@example.com" || p.Email != "" {
		t.Fatalf("phone identity shares or confuses the email user: %+v", p)
	}
}

func testUserConcurrentSignIn(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	ids := make([]string, 20)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			u, err := s.RecordSignIn(ctx, "email", "race@example.com", id(), nil, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = u.ID
		})
	}
	wg.Wait()
	if distinct := slices.Compact(slices.Sorted(slices.Values(ids))); len(distinct) != 1 {
		t.Fatalf("concurrent first sign-ins created several users: %v", ids)
	}
}

// A user's metadata is kept as given, survives sign-ins and comes back by
// id and by identifier; an unknown user gets none.
func testUserMetadata(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	wantNotFound(t, s.SetUserMetadata(ctx, id(), []byte(`{}`)))
	u := newUser(t, s)
	if len(u.Metadata) != 0 {
		t.Fatalf("a new user has metadata %q", u.Metadata)
	}
	md := []byte(`{"name":"Ann \u00e9","n":[1,2]}`)
	must(t, s.SetUserMetadata(ctx, u.ID, md))
	again, err := s.RecordSignIn(ctx, "email", u.Email, id(), []string{"x"}, ms(time.Now()))
	must(t, err)
	byIdf, err := s.UserByIdentifier(ctx, "email", u.Email)
	must(t, err)
	byID, err := s.User(ctx, u.ID)
	must(t, err)
	for _, got := range []sessionstore.User{again, byIdf, byID} {
		if string(got.Metadata) != string(md) {
			t.Fatalf("metadata = %q, want %q", got.Metadata, md)
		}
	}
	must(t, s.SetUserMetadata(ctx, u.ID, nil))
	byID, err = s.User(ctx, u.ID)
	must(t, err)
	if len(byID.Metadata) != 0 {
		t.Fatalf("cleared metadata = %q", byID.Metadata)
	}
}

// newUser signs a new user in by email with the given roles.
func newUser(t *testing.T, s sessionstore.Store, roles ...string) sessionstore.User {
	t.Helper()
	u, err := s.RecordSignIn(context.Background(), "email", id()+"@example.com", id(), roles, ms(time.Now()))
	must(t, err)
	return u
}

// newSession is a session of u, not yet stored, carrying u's identity as
// Sessions.Create makes it.
func newSession(u sessionstore.User) sessionstore.Session {
	now := ms(time.Now())
	return sessionstore.Session{
		ID: id(), UserID: u.ID, Email: u.Email, Phone: u.Phone, Roles: u.Roles,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now,
	}
}

func sameSession(a, b sessionstore.Session) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Email == b.Email && a.Phone == b.Phone &&
		slices.Equal(a.Roles, b.Roles) && a.CreatedAt.Equal(b.CreatedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.LastSeenAt.Equal(b.LastSeenAt) &&
		a.Device == b.Device && a.Network == b.Network
}

func testSessionRoundTrip(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	_, err := s.Session(ctx, id())
	wantNotFound(t, err)

	sess := newSession(newUser(t, s, "a", "b"))
	must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
	got, err := s.Session(ctx, sess.ID)
	must(t, err)
	if !sameSession(got, sess) {
		t.Fatalf("got %+v, want %+v", got, sess)
	}
	sess.LastSeenAt = sess.LastSeenAt.Add(time.Minute)
	must(t, s.TouchSession(ctx, sess, sess.ExpiresAt))
	got, err = s.Session(ctx, sess.ID)
	must(t, err)
	if !got.LastSeenAt.Equal(sess.LastSeenAt) {
		t.Fatalf("touch not kept: last seen %v, want %v", got.LastSeenAt, sess.LastSeenAt)
	}
	must(t, s.DeleteSession(ctx, sess.ID, sess.UserID))
	_, err = s.Session(ctx, sess.ID)
	wantNotFound(t, err)
}

func testSessionTouchDoesNotResurrect(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess := newSession(newUser(t, s))
	must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
	must(t, s.DeleteSession(ctx, sess.ID, sess.UserID))
	err := s.TouchSession(ctx, sess, sess.ExpiresAt)
	if err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatal(err)
	}
	_, err = s.Session(ctx, sess.ID)
	wantNotFound(t, err)
}

func testSessionExpired(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	sess := newSession(newUser(t, s))
	must(t, s.CreateSession(ctx, sess, time.Now().Add(-time.Millisecond)))
	_, err := s.Session(ctx, sess.ID)
	wantNotFound(t, err)
}

// A session's identity and roles are its user's, as of the user's last
// sign-in, whatever the session was created with; a session whose user is
// unknown is none.
func testSessionIdentityIsTheUsers(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	u := newUser(t, s, "a", "b")
	sess := newSession(u)
	sess.Email, sess.Roles = "forged@example.com", []string{"forged"}
	must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
	got, err := s.Session(ctx, sess.ID)
	must(t, err)
	if got.UserID != u.ID || got.Email != u.Email || got.Phone != "" || !slices.Equal(got.Roles, []string{"a", "b"}) {
		t.Fatalf("session reads %+v, want the identity and roles of %+v", got, u)
	}

	// Signing in again with other roles changes them for every session of
	// the user: at once for a new one, and within a second for one read
	// before (a store may cache sessions that long).
	_, err = s.RecordSignIn(ctx, "email", u.Email, id(), []string{"c"}, ms(time.Now()))
	must(t, err)
	fresh := newSession(u)
	must(t, s.CreateSession(ctx, fresh, fresh.ExpiresAt))
	got, err = s.Session(ctx, fresh.ID)
	must(t, err)
	if !slices.Equal(got.Roles, []string{"c"}) {
		t.Fatalf("a session made after a new sign-in has roles %v, want [c]", got.Roles)
	}
	waitRoles(t, s, sess.ID, u.Email, []string{"c"})
	// Touching stores the times, not the identity the touch carried.
	touched, err := s.Session(ctx, sess.ID)
	must(t, err)
	touched.LastSeenAt = touched.LastSeenAt.Add(time.Minute)
	touched.Email, touched.Roles = "forged@example.com", []string{"forged"}
	must(t, s.TouchSession(ctx, touched, touched.ExpiresAt))
	_, err = s.RecordSignIn(ctx, "email", u.Email, id(), []string{"d"}, ms(time.Now()))
	must(t, err)
	waitRoles(t, s, sess.ID, u.Email, []string{"d"})

	// A phone user's session has the phone number and no email.
	p, err := s.RecordSignIn(ctx, "phone", "+4930"+id()[:8], id(), nil, ms(time.Now()))
	must(t, err)
	ps := newSession(p)
	must(t, s.CreateSession(ctx, ps, ps.ExpiresAt))
	got, err = s.Session(ctx, ps.ID)
	must(t, err)
	if got.Phone != p.Phone || got.Email != "" || len(got.Roles) != 0 {
		t.Fatalf("phone session reads %+v, want phone %s, no email, no roles", got, p.Phone)
	}

	// A session of a user that does not exist is not found.
	orphan := newSession(sessionstore.User{ID: id(), Email: "ghost@example.com", Roles: []string{"a"}})
	must(t, s.CreateSession(ctx, orphan, orphan.ExpiresAt))
	_, err = s.Session(ctx, orphan.ID)
	wantNotFound(t, err)
}

// waitRoles waits until the session reads email and roles: at once in a
// store without a cache, within a second (its cache's TTL) in one with.
func waitRoles(t *testing.T, s sessionstore.Store, sessionID, email string, roles []string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := s.Session(context.Background(), sessionID)
		must(t, err)
		if got.Email == email && slices.Equal(got.Roles, roles) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session reads %+v, want email %s and roles %v", got, email, roles)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Reading a user gives the user's record and nothing else, however many
// sessions the user has; sessions of an unknown user make no user.
func testUserReadsIgnoreSessions(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	u := newUser(t, s, "staff")
	for range 20 {
		sess := newSession(u)
		must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
	}
	sameUser := func(what string, got sessionstore.User) {
		t.Helper()
		if got.ID != u.ID || got.Email != u.Email || got.Phone != u.Phone || !slices.Equal(got.Roles, u.Roles) ||
			!got.CreatedAt.Equal(u.CreatedAt) || !got.LastSignInAt.Equal(u.LastSignInAt) {
			t.Fatalf("%s gave %+v, want %+v", what, got, u)
		}
	}
	got, err := s.User(ctx, u.ID)
	must(t, err)
	sameUser("User", got)
	got, err = s.UserByIdentifier(ctx, "email", u.Email)
	must(t, err)
	sameUser("UserByIdentifier", got)
	again, err := s.RecordSignIn(ctx, "email", u.Email, id(), u.Roles, u.LastSignInAt)
	must(t, err)
	sameUser("RecordSignIn", again)

	ghost := newSession(sessionstore.User{ID: id()})
	must(t, s.CreateSession(ctx, ghost, ghost.ExpiresAt))
	_, err = s.User(ctx, ghost.UserID)
	wantNotFound(t, err)
}

func testDeleteUserSessions(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	me, other := newUser(t, s), newUser(t, s)
	uid := me.ID
	var mine []sessionstore.Session
	for range 3 {
		sess := newSession(me)
		must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
		mine = append(mine, sess)
	}
	theirs := newSession(other)
	must(t, s.CreateSession(ctx, theirs, theirs.ExpiresAt))
	// One already logged out on its own: not counted again.
	must(t, s.DeleteSession(ctx, mine[0].ID, uid))

	n, err := s.DeleteUserSessions(ctx, uid)
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteUserSessions removed %d, want 2", n)
	}
	for _, sess := range mine {
		_, err := s.Session(ctx, sess.ID)
		wantNotFound(t, err)
	}
	if _, err := s.Session(ctx, theirs.ID); err != nil {
		t.Fatalf("another user's session is gone: %v", err)
	}
	n, err = s.DeleteUserSessions(ctx, uid)
	must(t, err)
	if n != 0 {
		t.Fatalf("second DeleteUserSessions removed %d, want 0", n)
	}
}

func tokenHash() []byte {
	h := sha256.Sum256([]byte(rand.Text() + rand.Text()))
	return h[:]
}

func testAttemptByToken(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	now := ms(time.Now())
	th := tokenHash()
	a := sessionstore.Attempt{
		ID: id(), Channel: "email", Identifier: "ann@example.com", CodeMAC: []byte{1, 2},
		TokenHash: th, RedirectTo: "/x", CreatedAt: now, ExpiresAt: now.Add(time.Minute), Data: []byte("pkce"),
	}
	must(t, s.CreateAttempt(ctx, a))
	// Without a token: no index, and an empty hash finds nothing.
	plain := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, plain))
	_, err := s.AttemptByToken(ctx, nil)
	wantNotFound(t, err)
	_, err = s.AttemptByToken(ctx, tokenHash())
	wantNotFound(t, err)

	for range 3 { // looking does not count a try
		got, err := s.AttemptByToken(ctx, th)
		must(t, err)
		if got.ID != a.ID || got.Identifier != a.Identifier || got.RedirectTo != a.RedirectTo ||
			string(got.TokenHash) != string(th) || string(got.CodeMAC) != string(a.CodeMAC) ||
			!got.ExpiresAt.Equal(a.ExpiresAt) || got.Tries != 0 || string(got.Data) != "pkce" {
			t.Fatalf("AttemptByToken = %+v, want %+v", got, a)
		}
	}
	tried, err := s.TryAttempt(ctx, a.ID)
	must(t, err)
	if string(tried.TokenHash) != string(th) || tried.Tries != 1 {
		t.Fatalf("TryAttempt lost the token hash or miscounted: %+v", tried)
	}
	got, err := s.AttemptByToken(ctx, th)
	must(t, err)
	if got.Tries != 1 {
		t.Fatalf("AttemptByToken after one try: Tries = %d, want 1", got.Tries)
	}
}

func testAttemptByTokenExpired(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	past := time.Now().Add(-time.Second)
	th := tokenHash()
	a := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", TokenHash: th, CreatedAt: past.Add(-time.Minute), ExpiresAt: past}
	must(t, s.CreateAttempt(ctx, a))
	_, err := s.AttemptByToken(ctx, th)
	wantNotFound(t, err)
}

// Consuming the attempt by its id (the code) kills the link, and the same
// delete is what a link consumes it with, so exactly one of any number of
// concurrent uses wins.
func testAttemptTokenGoesWithAttempt(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	now := time.Now()
	th := tokenHash()
	a := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", TokenHash: th, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, a))
	var winners atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			got, err := s.AttemptByToken(ctx, th)
			if errors.Is(err, sessionstore.ErrNotFound) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			ok, err := s.DeleteAttempt(ctx, got.ID)
			if err != nil {
				t.Error(err)
			}
			if ok {
				winners.Add(1)
			}
		})
	}
	wg.Wait()
	if w := winners.Load(); w != 1 {
		t.Fatalf("%d concurrent link uses won, want exactly 1", w)
	}
	_, err := s.AttemptByToken(ctx, th)
	wantNotFound(t, err)
	_, err = s.TryAttempt(ctx, a.ID)
	wantNotFound(t, err)
}

// A failed attempt stays, so that a check can say why, but nothing signs
// in with it any more: no code matches (its MAC is gone), its link finds
// nothing, and checking it counts no try.
func testAttemptFailed(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	now := ms(time.Now())
	th := tokenHash()
	a := sessionstore.Attempt{
		ID: id(), Channel: "phone", Identifier: "+447946095800", CodeMAC: []byte{1, 2, 3},
		TokenHash: th, RedirectTo: "/x", CreateUser: true, CreatedAt: now, ExpiresAt: now.Add(time.Minute),
	}
	must(t, s.CreateAttempt(ctx, a))
	if got, err := s.TryAttempt(ctx, a.ID); err != nil || got.Tries != 1 || got.Failed {
		t.Fatalf("TryAttempt before failing = %+v, %v; want 1 try, not failed", got, err)
	}
	must(t, s.FailAttempt(ctx, a.ID))
	_, err := s.AttemptByToken(ctx, th)
	wantNotFound(t, err)
	for range 3 {
		got, err := s.TryAttempt(ctx, a.ID)
		must(t, err)
		if !got.Failed || got.Tries != 1 || len(got.CodeMAC) != 0 || len(got.TokenHash) != 0 ||
			got.ID != a.ID || got.Channel != a.Channel || got.Identifier != a.Identifier ||
			got.RedirectTo != a.RedirectTo || !got.ExpiresAt.Equal(a.ExpiresAt) {
			t.Fatalf("TryAttempt of a failed attempt = %+v, want it failed, 1 try, no MAC or token, the rest kept", got)
		}
	}
	must(t, s.FailAttempt(ctx, a.ID)) // twice is fine
	if got, err := s.TryAttempt(ctx, a.ID); err != nil || !got.Failed || got.Tries != 1 {
		t.Fatalf("after a second FailAttempt: %+v, %v", got, err)
	}

	// An attempt that is gone stays gone.
	missing := id()
	must(t, s.FailAttempt(ctx, missing))
	_, err = s.TryAttempt(ctx, missing)
	wantNotFound(t, err)
	used := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", TokenHash: tokenHash(), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, used))
	if ok, err := s.DeleteAttempt(ctx, used.ID); !ok || err != nil {
		t.Fatalf("DeleteAttempt = %v, %v", ok, err)
	}
	must(t, s.FailAttempt(ctx, used.ID))
	_, err = s.TryAttempt(ctx, used.ID)
	wantNotFound(t, err)
	_, err = s.AttemptByToken(ctx, used.TokenHash)
	wantNotFound(t, err)
}

// Failing an attempt keeps its expiry: it does not outlive its code.
func testAttemptFailedExpires(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	now := ms(time.Now())
	a := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "a@b.c", CodeMAC: []byte{1}, CreatedAt: now, ExpiresAt: now.Add(time.Second)}
	must(t, s.CreateAttempt(ctx, a))
	must(t, s.FailAttempt(ctx, a.ID))
	if got, err := s.TryAttempt(ctx, a.ID); err != nil || !got.Failed {
		t.Fatalf("failed attempt before its expiry: %+v, %v", got, err)
	}
	deadline := a.ExpiresAt.Add(5 * time.Second)
	for {
		_, err := s.TryAttempt(ctx, a.ID)
		if errors.Is(err, sessionstore.ErrNotFound) {
			break
		}
		must(t, err)
		if time.Now().After(deadline) {
			t.Fatalf("failed attempt still there 5s after its expiry at %v", a.ExpiresAt)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if time.Now().Before(a.ExpiresAt) {
		t.Fatalf("failed attempt gone before its expiry at %v", a.ExpiresAt)
	}
}

func testLimitSlidingWindow(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	key := "test:" + id()
	t0 := ms(time.Now())
	take := func(at time.Duration) (string, time.Duration) {
		t.Helper()
		slot, retry, err := s.TakeSlot(ctx, key, 3, time.Minute, t0.Add(at))
		must(t, err)
		return slot, retry
	}
	for _, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
		if slot, _ := take(at); slot == "" {
			t.Fatalf("slot at %v refused", at)
		}
	}
	slot, retry := take(30 * time.Second)
	if slot != "" || retry != 30*time.Second {
		t.Fatalf("fourth slot in a minute: slot %q retry %v, want refused, retry 30s", slot, retry)
	}
	// The first event leaves the window after a minute.
	if slot, _ := take(60*time.Second + time.Millisecond); slot == "" {
		t.Fatal("slot refused after the oldest left the window")
	}
	slot, _ = take(65 * time.Second)
	if slot != "" {
		t.Fatal("window not sliding: a slot freed too early")
	}
	// Releasing a slot gives it back at once.
	k2 := "test:" + id()
	a, _, err := s.TakeSlot(ctx, k2, 1, time.Minute, t0)
	must(t, err)
	must(t, s.ReleaseSlot(ctx, k2, a))
	if again, _, err := s.TakeSlot(ctx, k2, 1, time.Minute, t0); err != nil || again == "" {
		t.Fatalf("a released slot was not given back: %q, %v", again, err)
	}
}

func testLimitAtomic(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	key := "test:" + id()
	now := time.Now()
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			slot, _, err := s.TakeSlot(ctx, key, 7, time.Minute, now)
			if err != nil {
				t.Error(err)
			}
			if slot != "" {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if g := granted.Load(); g != 7 {
		t.Fatalf("%d of 40 concurrent takes granted, want exactly 7", g)
	}
}

// Callers read their clocks before they reach the store, so an earlier
// event can arrive second; the window must still count by event time.
func testLimitEventsOutOfOrder(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	key := "test:" + id()
	t0 := ms(time.Now())
	take := func(at time.Duration) (string, time.Duration) {
		t.Helper()
		slot, retry, err := s.TakeSlot(ctx, key, 2, time.Minute, t0.Add(at))
		must(t, err)
		return slot, retry
	}
	take(20 * time.Second)
	take(10 * time.Second)
	// At 75 s the event at 10 s has left the window, the one at 20 s not.
	if slot, _ := take(75 * time.Second); slot == "" {
		t.Fatal("a slot was refused though the earlier event had left the window")
	}
	if slot, retry := take(76 * time.Second); slot != "" || retry != 4*time.Second {
		t.Fatalf("slot %q retry %v, want refused until the event at 20 s leaves (4s)", slot, retry)
	}
}

// The latest attempt for an address is the one created last, whatever
// kind (a decoy is stored as any attempt), per channel and identifier;
// reading it counts no try.
func testLatestAttempt(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	idf := id() + "@example.com"
	_, err := s.LatestAttempt(ctx, "email", idf)
	wantNotFound(t, err)

	now := ms(time.Now())
	first := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: idf, CodeMAC: []byte{1},
		CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, first))
	second := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: idf, CodeMAC: []byte{2, 0, 3},
		TokenHash: tokenHash(), RedirectTo: "/next", CreateUser: true,
		CreatedAt: now.Add(time.Second), ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, second))
	// The same text on the other channel, and another address, are others.
	other := sessionstore.Attempt{ID: id(), Channel: "phone", Identifier: idf, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, other))
	must(t, s.CreateAttempt(ctx, sessionstore.Attempt{ID: id(), Channel: "email", Identifier: "x" + idf, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}))

	for range 3 {
		got, err := s.LatestAttempt(ctx, "email", idf)
		must(t, err)
		if got.ID != second.ID || got.Channel != "email" || got.Identifier != idf ||
			string(got.CodeMAC) != string(second.CodeMAC) || string(got.TokenHash) != string(second.TokenHash) ||
			got.RedirectTo != second.RedirectTo || !got.CreateUser || !got.CreatedAt.Equal(second.CreatedAt) ||
			!got.ExpiresAt.Equal(second.ExpiresAt) || got.Tries != 0 || got.Failed {
			t.Fatalf("LatestAttempt = %+v, want %+v", got, second)
		}
	}
	if got, err := s.LatestAttempt(ctx, "phone", idf); err != nil || got.ID != other.ID {
		t.Fatalf("LatestAttempt on the phone channel = %+v, %v; want %s", got, err, other.ID)
	}
	tried, err := s.TryAttempt(ctx, second.ID)
	must(t, err)
	if tried.Tries != 1 {
		t.Fatalf("the first try after three LatestAttempt reads counts %d, want 1", tried.Tries)
	}
	if got, err := s.LatestAttempt(ctx, "email", idf); err != nil || got.Tries != 1 {
		t.Fatalf("LatestAttempt after a try = %+v, %v; want Tries 1", got, err)
	}
	// A failed attempt is still the latest, marked.
	must(t, s.FailAttempt(ctx, second.ID))
	if got, err := s.LatestAttempt(ctx, "email", idf); err != nil || got.ID != second.ID || !got.Failed || len(got.CodeMAC) != 0 {
		t.Fatalf("LatestAttempt of a failed attempt = %+v, %v; want it, failed, without its MAC", got, err)
	}
	// A newer attempt takes over.
	third := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: idf, CreatedAt: now.Add(2 * time.Second), ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, third))
	if got, err := s.LatestAttempt(ctx, "email", idf); err != nil || got.ID != third.ID {
		t.Fatalf("LatestAttempt after a third attempt = %+v, %v; want %s", got, err, third.ID)
	}
}

// Once the latest attempt is used or expired there is none: an older one
// that is still live does not come back.
func testLatestAttemptGoneOrExpired(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	idf := id() + "@example.com"
	now := ms(time.Now())
	older := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: idf, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, older))
	newer := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: idf, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, newer))
	if ok, err := s.DeleteAttempt(ctx, newer.ID); !ok || err != nil {
		t.Fatalf("DeleteAttempt = %v, %v", ok, err)
	}
	_, err := s.LatestAttempt(ctx, "email", idf)
	wantNotFound(t, err)
	if _, err := s.TryAttempt(ctx, older.ID); err != nil {
		t.Fatalf("the older attempt went with the newer one: %v", err)
	}

	// An attempt that expires takes its place as the latest with it.
	short := sessionstore.Attempt{ID: id(), Channel: "email", Identifier: idf, CreatedAt: now, ExpiresAt: ms(time.Now()).Add(300 * time.Millisecond)}
	must(t, s.CreateAttempt(ctx, short))
	if got, err := s.LatestAttempt(ctx, "email", idf); err != nil || got.ID != short.ID {
		t.Fatalf("LatestAttempt before the expiry = %+v, %v", got, err)
	}
	deadline := short.ExpiresAt.Add(5 * time.Second)
	for {
		_, err := s.LatestAttempt(ctx, "email", idf)
		if errors.Is(err, sessionstore.ErrNotFound) {
			break
		}
		must(t, err)
		if time.Now().After(deadline) {
			t.Fatalf("latest attempt still there 5s after its expiry at %v", short.ExpiresAt)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if time.Now().Before(short.ExpiresAt) {
		t.Fatalf("latest attempt gone before its expiry at %v", short.ExpiresAt)
	}
	// One created already expired is none.
	past := time.Now().Add(-time.Second)
	must(t, s.CreateAttempt(ctx, sessionstore.Attempt{ID: id(), Channel: "email", Identifier: idf, CreatedAt: past.Add(-time.Minute), ExpiresAt: past}))
	_, err = s.LatestAttempt(ctx, "email", idf)
	wantNotFound(t, err)
}

// A user's sessions are the live ones, oldest first, each with the user's
// identity and roles as Session reads them.
func testUserSessions(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	none, err := s.UserSessions(ctx, id())
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("sessions of an unknown user: %+v", none)
	}
	u, other := newUser(t, s, "b", "a"), newUser(t, s)
	got, err := s.UserSessions(ctx, u.ID)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("sessions of a user who has none: %+v", got)
	}

	base := ms(time.Now())
	var want []sessionstore.Session
	for i := range 4 {
		sess := newSession(u)
		sess.Device, sess.Network = "fl", "203.0.113"
		sess.CreatedAt = base.Add(time.Duration(3-i) * time.Second) // created in reverse order of age
		sess.LastSeenAt = sess.CreatedAt.Add(time.Duration(i) * time.Millisecond)
		sess.Email, sess.Roles = "forged@example.com", []string{"forged"}
		must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
		sess.Email, sess.Roles = u.Email, u.Roles
		want = append([]sessionstore.Session{sess}, want...)
	}
	theirs := newSession(other)
	must(t, s.CreateSession(ctx, theirs, theirs.ExpiresAt))
	gone := newSession(u)
	must(t, s.CreateSession(ctx, gone, gone.ExpiresAt))
	must(t, s.DeleteSession(ctx, gone.ID, u.ID))
	expired := newSession(u)
	must(t, s.CreateSession(ctx, expired, time.Now().Add(-time.Millisecond)))

	got, err = s.UserSessions(ctx, u.ID)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("UserSessions gave %d sessions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !sameSession(got[i], want[i]) {
			t.Fatalf("session %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// The caller's copy is its own.
	got[0].Roles[0] = "changed"
	again, err := s.UserSessions(ctx, u.ID)
	must(t, err)
	if again[0].Roles[0] != "a" && again[0].Roles[0] != "b" {
		t.Fatalf("changing a returned session changed the store: roles %v", again[0].Roles)
	}

	// A touch shows; roles follow the user's last sign-in.
	touched := want[1]
	touched.LastSeenAt = touched.LastSeenAt.Add(time.Minute)
	must(t, s.TouchSession(ctx, touched, touched.ExpiresAt))
	_, err = s.RecordSignIn(ctx, "email", u.Email, id(), []string{"c"}, ms(time.Now()))
	must(t, err)
	got, err = s.UserSessions(ctx, u.ID)
	must(t, err)
	if len(got) != 4 || !got[1].LastSeenAt.Equal(touched.LastSeenAt) || !slices.Equal(got[2].Roles, []string{"c"}) {
		t.Fatalf("after a touch and a new sign-in: %+v", got)
	}

	n, err := s.DeleteUserSessions(ctx, u.ID)
	must(t, err)
	if n != 4 {
		t.Fatalf("DeleteUserSessions = %d, want 4", n)
	}
	got, err = s.UserSessions(ctx, u.ID)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("sessions after a global logout: %+v", got)
	}
	if got, err := s.UserSessions(ctx, other.ID); err != nil || len(got) != 1 || got[0].ID != theirs.ID {
		t.Fatalf("the other user's sessions: %+v, %v", got, err)
	}
}

// Where a session signed in from is written once: a touch, whatever it is
// given, keeps it; Session and UserSessions read it; a comma never reaches
// the record, and a session without it has none.
func testSessionDevice(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	u := newUser(t, s)
	sess := newSession(u)
	sess.Device, sess.Network = "c,w", "2001:db8:7"
	must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
	sess.Device = "cw"
	plain := newSession(u)
	plain.CreatedAt = plain.CreatedAt.Add(time.Millisecond) // listed second
	must(t, s.CreateSession(ctx, plain, plain.ExpiresAt))

	got, err := s.Session(ctx, sess.ID)
	must(t, err)
	if !sameSession(got, sess) {
		t.Fatalf("Session: got %+v, want %+v", got, sess)
	}
	touched := got
	touched.Device, touched.Network = "", ""
	touched.LastSeenAt = touched.LastSeenAt.Add(time.Minute)
	must(t, s.TouchSession(ctx, touched, touched.ExpiresAt))
	sess.LastSeenAt = touched.LastSeenAt
	all, err := s.UserSessions(ctx, u.ID)
	must(t, err)
	if len(all) != 2 || !sameSession(all[0], sess) || !sameSession(all[1], plain) {
		t.Fatalf("after a touch: %+v, want %+v and %+v", all, sess, plain)
	}
	must(t, s.TouchSession(ctx, all[1], all[1].ExpiresAt))
	if got, err := s.Session(ctx, plain.ID); err != nil || got.Device != "" || got.Network != "" {
		t.Fatalf("a session without a device, touched: %+v, %v", got, err)
	}
}

// A block marks the user, ends every session of theirs, keeps their
// record as it was through later sign-ins, and is undone by an unblock.
func testUserBlocked(t *testing.T, s sessionstore.Store) {
	ctx := context.Background()
	me, other := newUser(t, s, "staff"), newUser(t, s)
	var mine []sessionstore.Session
	for range 2 {
		sess := newSession(me)
		must(t, s.CreateSession(ctx, sess, sess.ExpiresAt))
		mine = append(mine, sess)
	}
	theirs := newSession(other)
	must(t, s.CreateSession(ctx, theirs, theirs.ExpiresAt))

	n, err := s.SetBlocked(ctx, me.ID, true)
	must(t, err)
	if n != 2 {
		t.Fatalf("blocking ended %d sessions, want 2", n)
	}
	for _, sess := range mine {
		_, err := s.Session(ctx, sess.ID)
		wantNotFound(t, err)
	}
	if left, err := s.UserSessions(ctx, me.ID); err != nil || len(left) != 0 {
		t.Fatalf("UserSessions after a block: %v, %v", left, err)
	}
	if _, err := s.Session(ctx, theirs.ID); err != nil {
		t.Fatalf("another user's session is gone: %v", err)
	}
	u, err := s.User(ctx, me.ID)
	must(t, err)
	if !u.Blocked {
		t.Fatal("User does not say the user is blocked")
	}
	if u, err := s.UserByIdentifier(ctx, "email", me.Email); err != nil || !u.Blocked {
		t.Fatalf("UserByIdentifier: %+v, %v; want blocked", u, err)
	}
	if u, err := s.User(ctx, other.ID); err != nil || u.Blocked {
		t.Fatalf("another user: %+v, %v; want not blocked", u, err)
	}
	// A sign-in of a blocked user changes nothing and says so.
	later := me.LastSignInAt.Add(time.Minute)
	u, err = s.RecordSignIn(ctx, "email", me.Email, id(), []string{"admin"}, later)
	must(t, err)
	if !u.Blocked || u.ID != me.ID || !slices.Equal(u.Roles, []string{"staff"}) || !u.LastSignInAt.Equal(me.LastSignInAt) {
		t.Fatalf("RecordSignIn of a blocked user: %+v", u)
	}
	// Blocking twice is blocking.
	n, err = s.SetBlocked(ctx, me.ID, true)
	must(t, err)
	if n != 0 {
		t.Fatalf("a second block ended %d sessions", n)
	}

	n, err = s.SetBlocked(ctx, me.ID, false)
	must(t, err)
	if n != 0 {
		t.Fatalf("an unblock ended %d sessions", n)
	}
	u, err = s.RecordSignIn(ctx, "email", me.Email, id(), []string{"admin"}, later)
	must(t, err)
	if u.Blocked || !slices.Equal(u.Roles, []string{"admin"}) || !u.LastSignInAt.Equal(later) {
		t.Fatalf("RecordSignIn after an unblock: %+v", u)
	}

	_, err = s.SetBlocked(ctx, id(), true)
	wantNotFound(t, err)
}
