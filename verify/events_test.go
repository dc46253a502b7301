package verify_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// events keeps the events it hears.
type events struct {
	mu  sync.Mutex
	got []verify.Event
}

func (e *events) Event(ev verify.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func (e *events) take() []verify.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.got
	e.got = nil
	return out
}

func kinds(evs []verify.Event) []verify.EventKind {
	var out []verify.EventKind
	for _, ev := range evs {
		out = append(out, ev.Kind)
	}
	return out
}

// The engine tells its listeners what happened, each event with the door
// and client that caused it and what is known (channel, user, reason,
// limit, scope), and never a code, link or token.
func TestEvents(t *testing.T) {
	heard := &events{}
	s, sender, _ := newService(t, withListener(heard), withLimits(verify.Limits{StartsPerIP: 2, StartsPerIPWindow: time.Hour}),
		func(c *verify.Config) { c.Tokens = nil })
	ctx := context.Background()
	caller := verify.Caller{Door: "native", ClientIP: "192.0.2.7"}
	st, err := s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "ann@example.com", CreateUser: true, Caller: caller, Link: linkTo})
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	msg := sender.last(t)
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(msg.Code), Caller: caller}); err == nil {
		t.Fatal("a wrong code passed")
	}
	a, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: msg.Code, Caller: caller})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.SignIn(ctx, verify.SignInRequest{Attempt: a, Method: verify.MethodCode, Caller: caller})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "bob@example.com", Caller: caller}); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	if _, err := s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "cy@example.com", Caller: caller}); err == nil {
		t.Fatal("the third start from one client passed a limit of 2")
	}
	if _, n, err := s.Logout(ctx, verify.Credential{SessionID: in.Session.ID}, verify.ScopeGlobal, caller); err != nil || n != 1 {
		t.Fatalf("logout: %d %v", n, err)
	}

	got := heard.take()
	want := []verify.EventKind{verify.EventStarted, verify.EventCodeSent, verify.EventSignInFailed, verify.EventSignedIn,
		verify.EventStarted, verify.EventRateLimited, verify.EventSignedOut}
	if !slices.Equal(kinds(got), want) {
		t.Fatalf("events %v, want %v", kinds(got), want)
	}
	for _, ev := range got {
		if ev.Caller != caller {
			t.Errorf("%s: caller %+v", ev.Kind, ev.Caller)
		}
		for _, secret := range []string{msg.Code, tokenOf(t, msg.Link), in.Secret} {
			if strings.Contains(ev.Reason+ev.Limit+ev.UserID+ev.Method, secret) || ev.Err != nil && strings.Contains(ev.Err.Error(), secret) {
				t.Errorf("%s carries a secret", ev.Kind)
			}
		}
	}
	if got[1].Channel != "email" || got[1].Sender != "other" || got[1].Err != nil {
		t.Errorf("code sent: %+v", got[1])
	}
	if got[2].Reason != verify.ReasonWrongCode || got[2].Method != verify.MethodCode || got[2].Channel != "email" {
		t.Errorf("sign-in failed: %+v", got[2])
	}
	if got[3].UserID != in.User.ID || got[3].Method != verify.MethodCode {
		t.Errorf("signed in: %+v", got[3])
	}
	if got[5].Limit != "starts per client" || got[5].RetryAfter <= 0 {
		t.Errorf("rate limited: %+v", got[5])
	}
	if got[6].Scope != verify.ScopeGlobal || got[6].Revoked != 1 || got[6].UserID != in.User.ID {
		t.Errorf("signed out: %+v", got[6])
	}
}
