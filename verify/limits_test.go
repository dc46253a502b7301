package verify_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func limitedService(t *testing.T, lim verify.Limits, opts ...option) (*verify.Engine, *recordingSender, *fakeClock) {
	clock := &fakeClock{t: time.Now()}
	s, sender, _ := newService(t, append([]option{withLimits(lim), withClock(clock.Now)}, opts...)...)
	return s, sender, clock
}

// startFrom starts a sign-in and waits for its delivery to end.
func startFrom(s *verify.Engine, email, ip string) (verify.Started, error) {
	st, err := s.Start(context.Background(), verify.StartRequest{Channel: "email", Identifier: email, CreateUser: true, Caller: verify.Caller{ClientIP: ip}})
	s.Wait()
	return st, err
}

func wantLimited(t *testing.T, err error, wantRetry time.Duration) {
	t.Helper()
	var rl *verify.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("got %v, want RateLimitedError", err)
	}
	if rl.RetryAfter <= 0 || rl.RetryAfter > wantRetry {
		t.Fatalf("retry after %v, want within (0, %v]", rl.RetryAfter, wantRetry)
	}
}

func TestResendCooldownSameForEveryAddress(t *testing.T) {
	s, _, clock := limitedService(t, verify.Limits{ResendCooldown: time.Minute})
	for _, email := range []string{"ann@example.com", "stranger@elsewhere.example"} {
		st, err := startFrom(s, email, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if got := st.ResendAfter.Sub(clock.Now().Truncate(time.Millisecond)); got != time.Minute {
			t.Fatalf("resend_after in %v, want 1m", got)
		}
		clock.Add(30 * time.Second)
		_, err = startFrom(s, email, "192.0.2.1")
		wantLimited(t, err, 30*time.Second)
		clock.Add(31 * time.Second)
		if _, err := startFrom(s, email, "192.0.2.1"); err != nil {
			t.Fatalf("%s after the cooldown: %v", email, err)
		}
	}
}

func TestSendsPerHour(t *testing.T) {
	s, sender, clock := limitedService(t, verify.Limits{ResendCooldown: time.Minute, SendsPerHour: 3})
	for range 3 {
		if _, err := startFrom(s, "bob@example.com", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		clock.Add(61 * time.Second)
	}
	_, err := startFrom(s, "bob@example.com", "192.0.2.1")
	wantLimited(t, err, time.Hour)
	if sender.count() != 3 {
		t.Fatalf("%d codes sent, want 3", sender.count())
	}
	if _, err := startFrom(s, "other@example.com", "192.0.2.1"); err != nil {
		t.Fatalf("another address is not limited: %v", err)
	}
	clock.Add(time.Hour)
	if _, err := startFrom(s, "bob@example.com", "192.0.2.1"); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
}

func TestStartsPerClient(t *testing.T) {
	s, _, _ := limitedService(t, verify.Limits{StartsPerIP: 3, StartsPerIPWindow: 10 * time.Minute})
	for i, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if _, err := startFrom(s, email, "2001:db8:1:2::10"); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	// Another address in the same /64 is the same client.
	_, err := startFrom(s, "d@example.com", "2001:db8:1:2:ffff::1")
	wantLimited(t, err, 10*time.Minute)
	if _, err := startFrom(s, "d@example.com", "2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}

func TestDeliveryFailureDoesNotCountAgainstTheAddress(t *testing.T) {
	s, sender, _ := limitedService(t, verify.Limits{ResendCooldown: time.Minute, SendsPerHour: 1})
	sender.fail = errors.New("smtp down")
	if _, err := startFrom(s, "cy@example.com", "192.0.2.1"); err != nil {
		t.Fatalf("got %v", err)
	}
	sender.fail = nil
	if _, err := startFrom(s, "cy@example.com", "192.0.2.1"); err != nil {
		t.Fatalf("retry after a failed delivery: %v", err)
	}
}

// A store failure after the limits were taken gives the address's slots
// back too: the retry is not told to wait for a code that never went.
func TestStoreFailureDoesNotCountAgainstTheAddress(t *testing.T) {
	store := memory.New(nil, 0)
	attempts := &failingAttempts{Store: store, fail: sessionstore.ErrUnavailable}
	s, _, _ := limitedService(t, verify.Limits{ResendCooldown: time.Minute, SendsPerHour: 1}, withStore(attempts))
	if _, err := startFrom(s, "cy@example.com", "192.0.2.1"); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	attempts.fail = nil
	if _, err := startFrom(s, "cy@example.com", "192.0.2.1"); err != nil {
		t.Fatalf("retry after a store failure: %v", err)
	}
}

// failingAttempts fails CreateAttempt while fail is set.
type failingAttempts struct {
	sessionstore.Store
	fail error
}

func (f *failingAttempts) CreateAttempt(ctx context.Context, a sessionstore.Attempt) error {
	if f.fail != nil {
		return f.fail
	}
	return f.Store.CreateAttempt(ctx, a)
}

// A failed delivery gives back the address's slots, not the client's: a
// client whose sends fail is still limited.
func TestDeliveryFailureStillCountsAgainstTheClient(t *testing.T) {
	s, sender, _ := limitedService(t, verify.Limits{StartsPerIP: 2, StartsPerIPWindow: time.Minute})
	sender.fail = errors.New("smtp down")
	for _, email := range []string{"a1@example.com", "a2@example.com"} {
		if _, err := startFrom(s, email, "192.0.2.7"); err != nil {
			t.Fatalf("got %v", err)
		}
	}
	_, err := startFrom(s, "a3@example.com", "192.0.2.7")
	wantLimited(t, err, time.Minute)
}

func TestVerifiesPerClient(t *testing.T) {
	s, sender, _ := limitedService(t, verify.Limits{VerifiesPerIP: 2, VerifiesPerIPWindow: time.Minute})
	st, _ := startFrom(s, "di@example.com", "192.0.2.9")
	code := sender.last(t).Code
	for range 2 {
		s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(code), Caller: verify.Caller{ClientIP: "192.0.2.9"}})
	}
	_, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Caller: verify.Caller{ClientIP: "192.0.2.9"}})
	wantLimited(t, err, time.Minute)
	if _, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Caller: verify.Caller{ClientIP: "192.0.2.10"}}); err != nil {
		t.Fatalf("from another client: %v", err)
	}
}

// The daily wrong-code budget spans attempts: new codes do not refill it,
// right codes do not use it.
func TestWrongCodesPerDaySpanAttempts(t *testing.T) {
	s, sender, clock := limitedService(t, verify.Limits{WrongCodesPerDay: 7})
	ctx := context.Background()
	guesses, rightDone := 0, false
	for guesses < 7 {
		st, err := startFrom(s, "ed@example.com", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		code := sender.last(t).Code
		if !rightDone { // a right code costs nothing
			if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: code}); err != nil {
				t.Fatal(err)
			}
			rightDone = true
			continue
		}
		for range 4 {
			if guesses == 7 {
				break
			}
			s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(code)})
			guesses++
		}
	}
	st, _ := startFrom(s, "ed@example.com", "192.0.2.1")
	code := sender.last(t).Code
	_, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: code})
	wantLimited(t, err, 24*time.Hour)
	if _, err := startFrom(s, "fi@example.com", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: mustLastAttempt(t, s, "fi@example.com", sender), Code: sender.last(t).Code}); err != nil {
		t.Fatalf("another address is not limited: %v", err)
	}
	clock.Add(24*time.Hour + time.Second)
	st, _ = startFrom(s, "ed@example.com", "192.0.2.1")
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: sender.last(t).Code}); err != nil {
		t.Fatalf("a day later: %v", err)
	}
}

func mustLastAttempt(t *testing.T, s *verify.Engine, email string, sender *recordingSender) string {
	t.Helper()
	st, err := startFrom(s, email, "192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	return st.AttemptID
}

// However many checks race, at most the daily budget of codes is compared.
func TestWrongCodeBudgetHoldsUnderConcurrency(t *testing.T) {
	s, sender, _ := limitedService(t, verify.Limits{WrongCodesPerDay: 12})
	var ids, codes []string
	for range 10 {
		st, err := startFrom(s, "gil@example.com", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		ids, codes = append(ids, st.AttemptID), append(codes, sender.last(t).Code)
	}
	var compared atomic.Int32
	var wg sync.WaitGroup
	for i := range ids {
		for range 5 {
			wg.Go(func() {
				_, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: ids[i], Code: wrong(codes[i])})
				var wc *verify.WrongCodeError
				if errors.As(err, &wc) || errors.Is(err, verify.ErrTooManyAttempts) {
					compared.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := compared.Load(); n != 12 {
		t.Fatalf("%d wrong codes compared, want exactly the budget of 12", n)
	}
}

func TestDefaultsMeetTheGuessingBound(t *testing.T) {
	p := verify.GuessChance(verify.DefaultCodeLength, verify.DefaultLimits.WrongCodesPerDay, verify.DefaultMaxAttempts)
	if p > verify.MaxGuessChance {
		t.Fatalf("default chance %g exceeds %g", p, verify.MaxGuessChance)
	}
	if verify.GuessChance(6, 100, 5) <= verify.MaxGuessChance {
		t.Fatal("100 guesses at 6 digits should exceed 1e-4 by the union bound")
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::":       "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an ip":            "not an ip",
		"":                     "",
	} {
		if got := verify.ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

type senderFunc func(context.Context, verify.Message) error

func (f senderFunc) Send(ctx context.Context, m verify.Message) error { return f(ctx, m) }

// Starts for someone else's address from one network (the cooldown and the
// hourly cap filled) do not keep its owner, on another network, from
// signing in.
func TestOneNetworkCannotBlockAnAddress(t *testing.T) {
	s, sender, clock := limitedService(t, verify.Limits{ResendCooldown: time.Minute, SendsPerHour: 5, SendsPerHourPerAddress: 20})
	const victim = "vic@example.com"
	owner := func(ip string) {
		t.Helper()
		st, err := startFrom(s, victim, ip)
		if err != nil {
			t.Fatalf("the owner's own start from %s: %v", ip, err)
		}
		if _, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: sender.last(t).Code, Caller: verify.Caller{ClientIP: ip}}); err != nil {
			t.Fatalf("the owner's code: %v", err)
		}
	}
	for i := range 5 {
		if i > 0 {
			clock.Add(61 * time.Second)
		}
		if _, err := startFrom(s, victim, "192.0.2.66"); err != nil {
			t.Fatalf("attacker's start %d: %v", i, err)
		}
	}
	_, err := startFrom(s, victim, "192.0.2.66")
	wantLimited(t, err, time.Hour)
	// The attacker's last start was a moment ago, and filled the hour.
	owner("198.51.100.7")

	// An IPv6 client's network is its /64: another address in it is the
	// same network, another /64 is not.
	for i := range 5 {
		clock.Add(61 * time.Second)
		if _, err := startFrom(s, victim, fmt.Sprintf("2001:db8:66:1::%d", i+1)); err != nil {
			t.Fatalf("attacker's start %d from its /64: %v", i, err)
		}
	}
	_, err = startFrom(s, victim, "2001:db8:66:1:ffff::1")
	wantLimited(t, err, time.Hour)
	owner("2001:db8:66:2::1")
}

// Across many networks, the overall cap still bounds what one address
// receives in an hour, for an address that may sign in and one that may
// not alike.
func TestSendsPerHourPerAddressAcrossNetworks(t *testing.T) {
	s, sender, clock := limitedService(t, verify.Limits{ResendCooldown: time.Minute, SendsPerHour: 5, SendsPerHourPerAddress: 20})
	for _, email := range []string{"bom@example.com", "stranger@elsewhere.example"} {
		before := sender.count()
		for i := range 20 {
			if _, err := startFrom(s, email, fmt.Sprintf("203.0.113.%d", i+1)); err != nil {
				t.Fatalf("%s: start %d from its own network: %v", email, i, err)
			}
		}
		_, err := startFrom(s, email, "203.0.113.200")
		wantLimited(t, err, time.Hour)
		// From a network that already asked, too.
		clock.Add(61 * time.Second)
		_, err = startFrom(s, email, "203.0.113.1")
		wantLimited(t, err, time.Hour)
		if email == "bom@example.com" && sender.count()-before != 20 {
			t.Fatalf("%d codes sent to %s, want 20", sender.count()-before, email)
		}
	}
	if _, err := startFrom(s, "other@example.com", "203.0.113.1"); err != nil {
		t.Fatalf("another address is not limited: %v", err)
	}
	clock.Add(time.Hour)
	if _, err := startFrom(s, "bom@example.com", "203.0.113.200"); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
}

// The daily wrong-code budget bounds guessing at codes; a magic link
// (256 bits, nothing to guess) still signs in once it is spent.
func TestMagicLinkSignsInWhenWrongCodeBudgetSpent(t *testing.T) {
	s, sender, _ := limitedService(t, verify.Limits{WrongCodesPerDay: 3})
	ctx := context.Background()
	st := startWithLink(t, s, "lin@example.com")
	code := sender.last(t).Code
	for range 3 {
		var wc *verify.WrongCodeError
		if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(code)}); !errors.As(err, &wc) {
			t.Fatalf("wrong code: %v", err)
		}
	}
	st = startWithLink(t, s, "lin@example.com")
	m := sender.last(t)
	_, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: m.Code})
	wantLimited(t, err, 24*time.Hour)
	a, err := s.CheckLink(ctx, tokenOf(t, m.Link), verify.Caller{})
	if err != nil {
		t.Fatalf("the link with the wrong-code budget spent: %v", err)
	}
	if a.ID != st.AttemptID || a.Identifier != "lin@example.com" {
		t.Fatalf("the link consumed %+v, want attempt %s", a, st.AttemptID)
	}
}
