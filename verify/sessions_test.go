package verify_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify"
)

// Sessions have a secret of 256 bits that the store keeps only as its
// hash, an idle and an absolute timeout, and end at sign-out.
func TestSessionTimeouts(t *testing.T) {
	ctx := context.Background()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s, _, _ := newService(t, withClock(now), func(c *verify.Config) {
		c.SessionIdle, c.SessionLifetime = time.Hour, 3*time.Hour
		role, _ := verify.NewPattern("email", "*@example.com")
		c.Policy.Roles = []verify.Role{{Name: "r", Patterns: []verify.Pattern{role}}}
	})
	attempt := verify.Attempt{Channel: "email", Identifier: "dee@example.com"}
	in, err := s.SignIn(ctx, verify.SignInRequest{Attempt: attempt, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Secret) < 43 || in.Session.ID == in.Secret || in.Session.ID != sessionstore.SessionID(in.Secret) {
		t.Fatalf("secret %q and id %q: want a >=256-bit secret stored only as its hash", in.Secret, in.Session.ID)
	}
	in2, err := s.SignIn(ctx, verify.SignInRequest{Attempt: attempt, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	if in2.Secret == in.Secret || in2.Session.ID == in.Session.ID || in2.User.ID != in.User.ID {
		t.Fatal("two sign-ins share a session, or made two users")
	}
	lookup := func(sid string) error {
		_, err := s.Authenticate(ctx, verify.Credential{SessionID: sid})
		return err
	}
	got, err := s.Authenticate(ctx, verify.Credential{SessionID: in.Session.ID})
	if err != nil || got.UserID != in.User.ID || got.Email != "dee@example.com" || !slices.Equal(got.Roles, []string{"r"}) {
		t.Fatalf("lookup gave %+v, %v", got, err)
	}
	if err := lookup("not-a-session"); !errors.Is(err, verify.ErrUnauthenticated) {
		t.Fatalf("unknown session: %v", err)
	}

	// Active use keeps it alive past the idle timeout...
	for _, at := range []time.Duration{50 * time.Minute, 100 * time.Minute} {
		offset.Store(int64(at))
		if err := lookup(in.Session.ID); err != nil {
			t.Fatalf("in use, at %v: %v", at, err)
		}
	}
	// ...but the untouched second session has idled out.
	if err := lookup(in2.Session.ID); !errors.Is(err, verify.ErrUnauthenticated) {
		t.Fatalf("idle session: %v", err)
	}
	// And no activity outlives the absolute lifetime.
	offset.Store(int64(150 * time.Minute))
	if err := lookup(in.Session.ID); err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(3*time.Hour + time.Second))
	if err := lookup(in.Session.ID); !errors.Is(err, verify.ErrUnauthenticated) {
		t.Fatalf("past the lifetime: %v", err)
	}

	// Signing out ends it; signing out twice is fine.
	offset.Store(0)
	in3, err := s.SignIn(ctx, verify.SignInRequest{Attempt: attempt, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	cred := verify.Credential{SessionID: in3.Session.ID}
	for i, want := range []int{1, 0} {
		if _, n, err := s.Logout(ctx, cred, verify.ScopeLocal, verify.Caller{}); err != nil || n != want {
			t.Fatalf("logout %d: %d, %v; want %d", i+1, n, err, want)
		}
	}
	if err := lookup(in3.Session.ID); !errors.Is(err, verify.ErrUnauthenticated) {
		t.Fatalf("after sign-out: %v", err)
	}
}
