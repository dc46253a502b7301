package verify_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

// An operator finds a user by address, number or id; a bad identifier and
// an unknown user are told apart.
func TestFindUser(t *testing.T) {
	s, _, _ := newService(t, allowPhones, withSenders(map[string]verify.Sender{"email": &recordingSender{}, "phone": &recordingSender{}}))
	ctx := context.Background()
	ann, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "ann@example.com"}, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "phone", Identifier: "+442079460958"}, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		" Ann@Example.COM ":     ann.User.ID,
		"+44 20 7946 0958":      bob.User.ID,
		ann.User.ID:             ann.User.ID,
		bob.User.ID:             bob.User.ID,
		"+44 (0)20 7946 0958  ": bob.User.ID,
	} {
		u, err := s.FindUser(ctx, in)
		if err != nil || u.ID != want {
			t.Errorf("FindUser(%q) = %q, %v; want %q", in, u.ID, err, want)
		}
	}
	for _, in := range []string{"", "ann", "ann@", "@example.com", "+", "+12", "12345", "not-a-uuid", "{" + ann.User.ID + "}",
		"urn:uuid:" + ann.User.ID, "a\x00@example.com"} {
		if _, err := s.FindUser(ctx, in); !errors.Is(err, verify.ErrInvalidIdentifier) {
			t.Errorf("FindUser(%q): %v, want ErrInvalidIdentifier", in, err)
		}
	}
	for _, in := range []string{"nobody@example.com", "+442079460959", "0b7e8a8c-3d5f-4b8e-9a51-3f2d1c0e9b7a"} {
		if _, err := s.FindUser(ctx, in); !errors.Is(err, verify.ErrUserNotFound) {
			t.Errorf("FindUser(%q): %v, want ErrUserNotFound", in, err)
		}
	}
}

// A block ends every session and refuses every later sign-in: a start
// answers as for an address that may not sign in (nothing is sent), a code
// sent before the block is refused with ErrUserBlocked; an unblock lets
// the user in again. Each operator call is an event.
func TestBlockUser(t *testing.T) {
	heard := &events{}
	s, sender, _ := newService(t, withListener(heard))
	ctx := context.Background()
	op := verify.Caller{Door: "admin"}
	in1, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "ann@example.com"}, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	in2, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "ann@example.com"}, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	uid := in1.User.ID
	// A code sent before the block.
	early := start(t, s, "ann@example.com")
	earlyCode := sender.last(t).Code
	heard.take()

	n, err := s.Block(ctx, uid, op)
	if err != nil || n != 2 {
		t.Fatalf("Block: %d, %v; want 2 sessions ended", n, err)
	}
	for _, sid := range []string{in1.Session.ID, in2.Session.ID} {
		if _, err := s.Authenticate(ctx, verify.Credential{SessionID: sid}); !errors.Is(err, verify.ErrUnauthenticated) {
			t.Fatalf("a session of a blocked user: %v", err)
		}
	}
	if u, err := s.FindUser(ctx, "ann@example.com"); err != nil || !u.Blocked {
		t.Fatalf("FindUser after a block: %+v, %v", u, err)
	}

	a, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: early.AttemptID, Code: earlyCode})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignIn(ctx, verify.SignInRequest{Attempt: a, Method: verify.MethodCode, Caller: verify.Caller{Door: "native"}}); !errors.Is(err, verify.ErrUserBlocked) {
		t.Fatalf("sign-in with a code sent before the block: %v, want ErrUserBlocked", err)
	}
	before := sender.count()
	st := start(t, s, "ann@example.com")
	if sender.count() != before {
		t.Fatal("a start for a blocked user sent a code")
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: earlyCode}); err == nil {
		t.Fatal("a blocked user's decoy attempt took a code")
	}
	if live, err := s.Sessions(ctx, uid); err != nil || len(live) != 0 {
		t.Fatalf("sessions of a blocked user: %v, %v", live, err)
	}

	if err := s.Unblock(ctx, uid, op); err != nil {
		t.Fatal(err)
	}
	start(t, s, "ann@example.com")
	if sender.count() != before+1 {
		t.Fatal("no code after the unblock")
	}
	a, err = s.CheckCode(ctx, verify.CheckRequest{Code: sender.last(t).Code, Channel: "email", Identifier: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignIn(ctx, verify.SignInRequest{Attempt: a, Method: verify.MethodCode}); err != nil {
		t.Fatalf("sign-in after an unblock: %v", err)
	}

	n, err = s.EndSessions(ctx, uid, op)
	if err != nil || n != 1 {
		t.Fatalf("EndSessions: %d, %v; want 1", n, err)
	}
	if _, err := s.Block(ctx, "0b7e8a8c-3d5f-4b8e-9a51-3f2d1c0e9b7a", op); !errors.Is(err, verify.ErrUserNotFound) {
		t.Fatalf("Block of an unknown user: %v", err)
	}
	if err := s.Unblock(ctx, "0b7e8a8c-3d5f-4b8e-9a51-3f2d1c0e9b7a", op); !errors.Is(err, verify.ErrUserNotFound) {
		t.Fatalf("Unblock of an unknown user: %v", err)
	}

	var ops []verify.Event
	for _, ev := range heard.take() {
		if ev.Caller.Door == "admin" || ev.Reason == verify.ReasonUserBlocked {
			ops = append(ops, ev)
		}
	}
	want := []verify.EventKind{verify.EventUserBlocked, verify.EventSignInFailed, verify.EventUserUnblocked, verify.EventSessionsEnded}
	if got := kinds(ops); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if ops[0].UserID != uid || ops[0].Revoked != 2 || ops[3].Revoked != 1 || ops[1].Reason != verify.ReasonUserBlocked {
		t.Fatalf("events %+v", ops)
	}
}

// A sign-in whose user is blocked between its read of the user and its
// new session does not keep that session: the engine reads the user again
// once the session is made.
func TestBlockRacesSignIn(t *testing.T) {
	s, _, store := newService(t)
	ctx := context.Background()
	in, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "ann@example.com"}, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetBlocked(ctx, in.User.ID, true); err != nil {
		t.Fatal(err)
	}
	// A session stored after the block's removal, as by a sign-in that
	// read the user before the mark.
	late := in.Session
	late.ID = "late-session"
	if err := store.CreateSession(ctx, late, late.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if err := verify.RecheckBlocked(s, ctx, late); !errors.Is(err, verify.ErrUserBlocked) {
		t.Fatalf("recheck: %v; want ErrUserBlocked", err)
	}
	if got, err := store.Session(ctx, late.ID); err == nil {
		t.Fatalf("the raced session lives: %+v", got)
	}
}

// Whatever an operator types finds the one user it names, or says why
// not: a bad identifier or no such user, never anything else.
func FuzzFindUser(f *testing.F) {
	for _, s := range []string{"ann@example.com", " ANN@example.com ", "+442079460958", "+44 (0)20 7946 0958",
		"0b7e8a8c-3d5f-4b8e-9a51-3f2d1c0e9b7a", "0B7E8A8C3D5F4B8E9A513F2D1C0E9B7A", "urn:uuid:x", "", "@", "+", "ann@@x"} {
		f.Add(s)
	}
	e, err := verify.New(verify.Config{Store: memory.New(nil, 0), Keys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		RefreshKey: []byte("refresh key")})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	ann, err := e.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "ann@example.com"}, Method: verify.MethodCode})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ann.User.ID)
	f.Fuzz(func(t *testing.T, in string) {
		u, err := e.FindUser(ctx, in)
		switch {
		case err == nil && u.ID != ann.User.ID:
			t.Fatalf("FindUser(%q) found %+v", in, u)
		case err != nil && !errors.Is(err, verify.ErrInvalidIdentifier) && !errors.Is(err, verify.ErrUserNotFound):
			t.Fatalf("FindUser(%q): %v", in, err)
		}
	})
}
