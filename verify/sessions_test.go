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

// A session keeps the device and network it signed in from, and when it
// was last used, as the existing touch writes it; its user sees it in the
// list, ends it by its id, and nobody else can; both ends are events.
func TestSessionDevices(t *testing.T) {
	ctx := context.Background()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	var events []verify.Event
	s, _, _ := newService(t, withClock(now), withListener(verify.ListenerFunc(func(ev verify.Event) { events = append(events, ev) })))
	firefox := verify.Caller{Door: "native", ClientIP: "203.0.113.77",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}
	phone := verify.Caller{Door: "native", ClientIP: "2001:db8:7:1::5",
		UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"}
	signIn := func(who string, c verify.Caller) verify.SignedIn {
		t.Helper()
		in, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: who}, Method: verify.MethodCode, Caller: c})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	a, b := signIn("dee@example.com", firefox), signIn("dee@example.com", phone)
	other := signIn("eve@example.com", firefox)
	if a.Session.Device != "fl" || a.Session.Network != "203.0.113" || b.Session.Device != "ai" || b.Session.Network != "2001:db8:7" {
		t.Fatalf("recorded %q %q and %q %q", a.Session.Device, a.Session.Network, b.Session.Device, b.Session.Network)
	}

	// Used two minutes later: the touch moves last use, and nothing else.
	offset.Store(int64(2 * time.Minute))
	if _, err := s.Authenticate(ctx, verify.Credential{SessionID: b.Session.ID}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Sessions(ctx, a.User.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions: %+v, %v", list, err)
	}
	if list[0].ID != a.Session.ID { // made in the same millisecond: either order
		list[0], list[1] = list[1], list[0]
	}
	if list[0].ID != a.Session.ID || !list[0].LastSeenAt.Equal(a.Session.LastSeenAt) || list[0].Device != "fl" {
		t.Fatalf("the unused session: %+v", list[0])
	}
	if list[1].ID != b.Session.ID || list[1].LastSeenAt.Sub(b.Session.LastSeenAt) < 2*time.Minute ||
		list[1].Device != "ai" || list[1].Network != "2001:db8:7" {
		t.Fatalf("the used session: %+v", list[1])
	}

	// Someone else's session, or none, cannot be ended by this user.
	events = nil
	for _, id := range []string{other.Session.ID, "no-such-session", ""} {
		if err := s.Revoke(ctx, a.User.ID, id, firefox); !errors.Is(err, verify.ErrUnauthenticated) {
			t.Fatalf("revoke %q: %v, want ErrUnauthenticated", id, err)
		}
	}
	if _, err := s.Authenticate(ctx, verify.Credential{SessionID: other.Session.ID}); err != nil {
		t.Fatalf("the other user's session after the attempts: %v", err)
	}
	if len(events) != 0 {
		t.Fatalf("refused revocations made events: %+v", events)
	}
	if err := s.Revoke(ctx, a.User.ID, b.Session.ID, firefox); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, verify.Credential{SessionID: b.Session.ID}); !errors.Is(err, verify.ErrUnauthenticated) {
		t.Fatalf("the revoked session: %v", err)
	}
	if len(events) != 1 || events[0].Kind != verify.EventSessionRevoked || events[0].UserID != a.User.ID || events[0].Revoked != 1 {
		t.Fatalf("events: %+v", events)
	}

	// Signing out the others keeps this one.
	c := signIn("dee@example.com", phone)
	events = nil
	if _, n, err := s.Logout(ctx, verify.Credential{SessionID: a.Session.ID}, verify.ScopeOthers, firefox); err != nil || n != 1 {
		t.Fatalf("logout others: %d, %v", n, err)
	}
	if list, _ := s.Sessions(ctx, a.User.ID); len(list) != 1 || list[0].ID != a.Session.ID {
		t.Fatalf("after logout others: %+v (ended %s)", list, c.Session.ID)
	}
	if len(events) != 1 || events[0].Kind != verify.EventSignedOut || events[0].Scope != verify.ScopeOthers || events[0].Revoked != 1 {
		t.Fatalf("events: %+v", events)
	}
}
