package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// A backend client's starts count against its own budget, not its
// address's: two clients on one address each get theirs, and the
// per-IP budget of that address stays untouched.
func TestStartsPerBackendClient(t *testing.T) {
	s, _, _ := limitedService(t, verify.Limits{
		StartsPerIP: 1, StartsPerIPWindow: 10 * time.Minute,
		StartsPerClient: 2, StartsPerClientWindow: 10 * time.Minute,
	})
	from := func(client, email string) error {
		_, err := s.Start(context.Background(), verify.StartRequest{Channel: "email", Identifier: email, CreateUser: true,
			Caller: verify.Caller{ClientIP: "192.0.2.50", Client: client}})
		s.Wait()
		return err
	}
	for _, email := range []string{"p1@example.com", "p2@example.com"} {
		if err := from("shop", email); err != nil {
			t.Fatalf("client shop, %s: %v", email, err)
		}
	}
	wantLimited(t, from("shop", "p3@example.com"), 10*time.Minute)
	if err := from("blog", "p3@example.com"); err != nil {
		t.Fatalf("another client on the same address: %v", err)
	}
	if _, err := startFrom(s, "p4@example.com", "192.0.2.50"); err != nil {
		t.Fatalf("a browser on the clients' address: %v", err)
	}
}

// The per-address limits still hold for a backend client: its calls
// cannot flood one person's inbox.
func TestBackendClientKeepsPerAddressLimits(t *testing.T) {
	s, _, _ := limitedService(t, verify.Limits{ResendCooldown: time.Minute, StartsPerClient: 100, StartsPerClientWindow: time.Minute})
	caller := verify.Caller{ClientIP: "192.0.2.51", Client: "shop"}
	for i := range 2 {
		_, err := s.Start(context.Background(), verify.StartRequest{Channel: "email", Identifier: "q@example.com", CreateUser: true, Caller: caller})
		s.Wait()
		if i == 0 && err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			wantLimited(t, err, time.Minute)
		}
	}
}

func TestVerifiesPerBackendClient(t *testing.T) {
	s, sender, _ := limitedService(t, verify.Limits{
		VerifiesPerIP: 1, VerifiesPerIPWindow: time.Minute,
		VerifiesPerClient: 2, VerifiesPerClientWindow: time.Minute,
	})
	st, _ := startFrom(s, "vc@example.com", "192.0.2.9")
	code := sender.last(t).Code
	check := func(client, code string) error {
		_, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: code,
			Caller: verify.Caller{ClientIP: "192.0.2.9", Client: client}})
		return err
	}
	for range 2 {
		_ = check("shop", wrong(code))
	}
	wantLimited(t, check("shop", code), time.Minute)
	if err := check("blog", code); err != nil {
		t.Fatalf("another client: %v", err)
	}
}

func TestClientLimitBounds(t *testing.T) {
	l := verify.DefaultLimits
	if err := l.Check(6, 5); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	l.StartsPerClientWindow = 48 * time.Hour
	if err := l.Check(6, 5); err == nil {
		t.Fatal("a two-day window for starts_per_client was accepted")
	}
	l = verify.DefaultLimits
	l.VerifiesPerClient = 0
	if err := l.Check(6, 5); err == nil {
		t.Fatal("verifies_per_client 0 was accepted")
	}
}
