package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/passgate/caddy-passgate/verify"
)

// A refresh token names its session for a sign-out: the live token and a
// spent one of the same chain end it (locally, or every session of the
// user), and an unknown token ends nothing and is no error.
func TestLogoutRefresh(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	attempt := verify.Attempt{Channel: "email", Identifier: "lo@example.com"}
	signIn := func() verify.SignedIn {
		t.Helper()
		in, err := s.SignIn(ctx, verify.SignInRequest{Attempt: attempt, Method: verify.MethodCode, Refresh: true})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	live := func(in verify.SignedIn) bool {
		t.Helper()
		_, err := s.Authenticate(ctx, verify.Credential{SessionID: in.Session.ID})
		if err != nil && !errors.Is(err, verify.ErrUnauthenticated) {
			t.Fatal(err)
		}
		return err == nil
	}

	for _, token := range []string{"", "no-such-token"} {
		if sess, n, err := s.LogoutRefresh(ctx, token, verify.ScopeLocal, verify.Caller{}); err != nil || n != 0 || sess.ID != "" {
			t.Fatalf("unknown token %q: %+v, %d, %v", token, sess, n, err)
		}
	}

	// The live token ends its own session only.
	a, b := signIn(), signIn()
	sess, n, err := s.LogoutRefresh(ctx, a.RefreshToken, verify.ScopeLocal, verify.Caller{})
	if err != nil || n != 1 || sess.ID != a.Session.ID {
		t.Fatalf("local sign-out: %+v, %d, %v", sess, n, err)
	}
	if live(a) || !live(b) {
		t.Fatalf("after a local sign-out: a live %v, b live %v", live(a), live(b))
	}
	if _, err := s.Refresh(ctx, a.RefreshToken, verify.Caller{}); !errors.Is(err, verify.ErrInvalidGrant) {
		t.Fatalf("refresh after sign-out: %v", err)
	}
	// Signing out twice is signing out.
	if _, n, err := s.LogoutRefresh(ctx, a.RefreshToken, verify.ScopeLocal, verify.Caller{}); err != nil || n != 0 {
		t.Fatalf("second sign-out: %d, %v", n, err)
	}

	// A spent token names the session of its chain; global ends them all.
	rot, err := s.Refresh(ctx, b.RefreshToken, verify.Caller{})
	if err != nil {
		t.Fatal(err)
	}
	c := signIn()
	_, n, err = s.LogoutRefresh(ctx, b.RefreshToken, verify.ScopeGlobal, verify.Caller{})
	if err != nil || n != 2 {
		t.Fatalf("global sign-out by a spent token: %d, %v", n, err)
	}
	if live(b) || live(c) {
		t.Fatal("a session outlived the global sign-out")
	}
	if _, err := s.Refresh(ctx, rot.RefreshToken, verify.Caller{}); !errors.Is(err, verify.ErrInvalidGrant) {
		t.Fatalf("refresh of the successor after sign-out: %v", err)
	}
}
