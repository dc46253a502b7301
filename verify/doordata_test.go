package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// A door's data goes with its attempt and comes back with the code and
// the link; more than MaxAttemptData is refused before anything is sent.
func TestAttemptData(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	data := []byte(`{"cc":"challenge"}`)
	_, err := s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "ann@example.com", CreateUser: true,
		Data: data, Link: func(tok string) string { return "https://x/verify?token=" + tok }})
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	msg := sender.last(t)
	token := msg.Link[strings.Index(msg.Link, "=")+1:]
	peeked, err := s.PeekLink(ctx, token)
	if err != nil || string(peeked.Data) != string(data) {
		t.Fatalf("PeekLink: %q, %v", peeked.Data, err)
	}
	a, err := s.CheckCode(ctx, verify.CheckRequest{Channel: "email", Identifier: "ann@example.com", Code: msg.Code})
	if err != nil || string(a.Data) != string(data) {
		t.Fatalf("CheckCode: %q, %v", a.Data, err)
	}

	n := sender.count()
	_, err = s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "bob@example.com", CreateUser: true,
		Data: make([]byte, verify.MaxAttemptData+1)})
	if !errors.Is(err, verify.ErrInvalidInput) {
		t.Fatalf("oversized data: %v", err)
	}
	s.Wait()
	if sender.count() != n {
		t.Fatal("a start with oversized data sent a message")
	}
}

// Metadata given at sign-in becomes a new user's; an existing user keeps
// what they had.
func TestSignInUserMetadata(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	attempt := verify.Attempt{Channel: "email", Identifier: "cy@example.com"}
	first, err := s.SignIn(ctx, verify.SignInRequest{Attempt: attempt, Method: verify.MethodCode, UserMetadata: []byte(`{"name":"Cy"}`)})
	if err != nil || string(first.User.Metadata) != `{"name":"Cy"}` {
		t.Fatalf("first sign-in: %q, %v", first.User.Metadata, err)
	}
	again, err := s.SignIn(ctx, verify.SignInRequest{Attempt: attempt, Method: verify.MethodCode, UserMetadata: []byte(`{"name":"Mallory"}`)})
	if err != nil || string(again.User.Metadata) != `{"name":"Cy"}` {
		t.Fatalf("second sign-in replaced the metadata: %q, %v", again.User.Metadata, err)
	}
	u, err := s.User(ctx, first.User.ID)
	if err != nil || string(u.Metadata) != `{"name":"Cy"}` {
		t.Fatalf("User: %q, %v", u.Metadata, err)
	}
	plain, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "di@example.com"}, Method: verify.MethodCode})
	if err != nil || len(plain.User.Metadata) != 0 {
		t.Fatalf("sign-in without metadata: %q, %v", plain.User.Metadata, err)
	}
}

func withTokens(t *testing.T) option {
	ed, err := tokens.DeriveEd25519([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	es, err := tokens.DeriveES256([]byte("fedcba9876543210fedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := tokens.New(tokens.Config{Issuer: "passgate", Audience: "passgate", Keys: []tokens.Key{ed}, ProfileKeys: []tokens.Key{es}})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *verify.Config) { c.Tokens = iss }
}

// A profile's token with claims of its own shapes (GoTrue's amr is a list
// of objects) and a token's own claims authenticates; one whose session
// ended is told from one that does not verify, and neither passes.
func TestProfileTokenSessionEnded(t *testing.T) {
	s, _, _ := newService(t, withTokens(t))
	ctx := context.Background()
	err := s.RegisterTokenProfile(tokens.Profile{Name: "supabase", Issuer: "test/auth/v1", Audience: "authenticated", Alg: tokens.AlgES256,
		TTL: time.Hour, Claims: func(id tokens.Identity) map[string]any {
			return map[string]any{"role": "authenticated", "email": id.Email, "roles": "not a list"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "ed@example.com"}, Method: verify.MethodCode})
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.IssueAccessWithClaims("supabase", in.Session, in.AMR, map[string]any{
		"amr": []map[string]any{{"method": "otp", "timestamp": 1}}, "user_metadata": map[string]any{"a": 1}, "sid": "forged"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(at.Token, ".")[1])
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["sid"] != in.Session.ID || claims["user_metadata"] == nil || claims["role"] != "authenticated" {
		t.Fatalf("claims %v", claims)
	}
	got, err := s.Authenticate(ctx, verify.Credential{Bearer: at.Token, IsBearer: true})
	if err != nil || got.ID != in.Session.ID {
		t.Fatalf("the profile's token did not authenticate: %v", err)
	}
	_, err = s.Authenticate(ctx, verify.Credential{Bearer: at.Token + "x", IsBearer: true})
	if !errors.Is(err, verify.ErrInvalidToken) || errors.Is(err, verify.ErrSessionEnded) {
		t.Fatalf("a bad signature: %v, want ErrInvalidToken only", err)
	}
	if _, _, err := s.Logout(ctx, verify.Credential{Bearer: at.Token, IsBearer: true}, verify.ScopeLocal, verify.Caller{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, verify.Credential{Bearer: at.Token, IsBearer: true})
	if !errors.Is(err, verify.ErrSessionEnded) || !errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("the token of an ended session: %v, want ErrSessionEnded", err)
	}
}
