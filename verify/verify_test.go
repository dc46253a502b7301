package verify_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

type recordingSender struct {
	mu   sync.Mutex
	sent []verify.Message
	fail error
}

func (r *recordingSender) Send(_ context.Context, m verify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.sent = append(r.sent, m)
	return nil
}

func (r *recordingSender) last(t *testing.T) verify.Message {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		t.Fatal("nothing was sent")
	}
	return r.sent[len(r.sent)-1]
}

func (r *recordingSender) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

// option changes the engine's config before it is made.
type option func(*verify.Config)

func withLimits(l verify.Limits) option      { return func(c *verify.Config) { c.Limits = l } }
func withClock(now func() time.Time) option  { return func(c *verify.Config) { c.Now = now } }
func withStore(st sessionstore.Store) option { return func(c *verify.Config) { c.Store = st } }
func withListener(l verify.Listener) option {
	return func(c *verify.Config) { c.Listeners = append(c.Listeners, l) }
}
func withSenders(s map[string]verify.Sender) option { return func(c *verify.Config) { c.Senders = s } }

// allowPhones lets +44 numbers sign in too.
func allowPhones(c *verify.Config) {
	p, err := verify.NewPattern("phone", "+44*")
	if err != nil {
		panic(err)
	}
	c.Policy.Allow = append(c.Policy.Allow, p)
}

// newService is an engine on a memory store (returned too) that sends
// email codes to the recording sender; options change it.
func newService(t *testing.T, opts ...option) (*verify.Engine, *recordingSender, *memory.Store) {
	t.Helper()
	store := memory.New(nil, 0)
	sender := &recordingSender{}
	allow, err := verify.NewPattern("email", "*@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	cfg := verify.Config{
		Store:      store,
		Policy:     verify.Policy{Allow: []verify.Pattern{allow}},
		Senders:    map[string]verify.Sender{"email": sender},
		Keys:       [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		RefreshKey: []byte("refresh key"),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, sender, store
}

// start starts a sign-in and waits for its delivery to end.
func start(t *testing.T, s *verify.Engine, email string) verify.Started {
	t.Helper()
	st, err := s.Start(context.Background(), verify.StartRequest{Channel: "email", Identifier: email, RedirectTo: "/x", CreateUser: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	return st
}

func wrong(code string) string {
	// Flip the last digit: always a different, well-formed code.
	b := []byte(code)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

func TestRightCodeSignsInOnce(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	st := start(t, s, "ann@example.com")
	msg := sender.last(t)
	if msg.To != "ann@example.com" || len(msg.Code) != 6 || strings.Trim(msg.Code, "0123456789") != "" {
		t.Fatalf("sent %+v, want a 6-digit code to ann@example.com", msg)
	}
	if !verify.ValidAttemptID(st.AttemptID) {
		t.Fatalf("attempt id %q: want a well-formed id", st.AttemptID)
	}
	if d := time.Until(st.ExpiresAt); d < 9*time.Minute || d > 10*time.Minute {
		t.Fatalf("expires in %v, want 10m", d)
	}
	a, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: msg.Code, Channel: "email", Identifier: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Identifier != "ann@example.com" || a.RedirectTo != "/x" {
		t.Fatalf("checked attempt = %+v", a)
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: msg.Code, Identifier: ""}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("replayed code: %v, want ErrAttemptNotFound", err)
	}
}

func TestWrongCodesBurnTheAttempt(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	st := start(t, s, "bob@example.com")
	code := sender.last(t).Code
	for left := 4; left >= 1; left-- {
		_, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(code), Identifier: ""})
		var wc *verify.WrongCodeError
		if !errors.As(err, &wc) || wc.AttemptsLeft != left {
			t.Fatalf("wrong code: %v, want WrongCodeError with %d left", err, left)
		}
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(code), Identifier: ""}); !errors.Is(err, verify.ErrTooManyAttempts) {
		t.Fatalf("fifth wrong code: %v, want ErrTooManyAttempts", err)
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Identifier: ""}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("right code after burn: %v, want ErrAttemptNotFound", err)
	}
}

func TestFourWrongThenRightSucceeds(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	st := start(t, s, "bob@example.com")
	code := sender.last(t).Code
	for range 4 {
		s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(code), Identifier: ""})
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Identifier: ""}); err != nil {
		t.Fatalf("right code on the fifth try: %v", err)
	}
}

func TestCodeIsBoundToIdentifierAndAttempt(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	st1 := start(t, s, "cat@example.com")
	code1 := sender.last(t).Code
	st2 := start(t, s, "dan@example.com")
	code2 := sender.last(t).Code

	var wc *verify.WrongCodeError
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st1.AttemptID, Code: code1, Channel: "email", Identifier: "dan@example.com"}); !errors.As(err, &wc) {
		t.Fatalf("right code claimed for another address: %v, want WrongCodeError", err)
	}
	if code1 != code2 {
		if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st2.AttemptID, Code: code1, Identifier: ""}); !errors.As(err, &wc) {
			t.Fatalf("one attempt's code on another: %v, want WrongCodeError", err)
		}
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st1.AttemptID, Code: code1, Channel: "email", Identifier: "cat@example.com"}); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentChecksYieldOneWinner(t *testing.T) {
	s, sender, _ := newService(t)
	st := start(t, s, "eve@example.com")
	code := sender.last(t).Code
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Identifier: ""}); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, verify.ErrAttemptNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d concurrent checks of one code succeeded, want 1", ok.Load())
	}
}

// Many concurrent guesses get at most MaxAttempts comparisons: a guesser
// cannot outrun the counter by sending in parallel.
func TestConcurrentGuessesAreCounted(t *testing.T) {
	s, sender, _ := newService(t)
	st := start(t, s, "fay@example.com")
	code := sender.last(t).Code
	var wrongAnswers atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(code), Identifier: ""})
			var wc *verify.WrongCodeError
			if errors.As(err, &wc) || errors.Is(err, verify.ErrTooManyAttempts) {
				wrongAnswers.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wrongAnswers.Load(); n != verify.DefaultMaxAttempts {
		t.Fatalf("%d guesses were compared, want exactly %d", n, verify.DefaultMaxAttempts)
	}
	if _, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Identifier: ""}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("after the burst the attempt must be burned, got %v", err)
	}
}

func TestDisallowedGetsSameAnswerAndNothingSent(t *testing.T) {
	s, sender, _ := newService(t)
	st := start(t, s, "mallory@evil.example")
	if sender.count() != 0 {
		t.Fatal("a code was sent to a disallowed address")
	}
	if !verify.ValidAttemptID(st.AttemptID) || st.Channel != "email" || st.ExpiresAt.IsZero() || st.ResendAfter.IsZero() {
		t.Fatalf("decoy answer %+v differs in shape from a real one", st)
	}
	var wc *verify.WrongCodeError
	_, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: "000000"})
	if !errors.As(err, &wc) || wc.AttemptsLeft != 4 {
		t.Fatalf("decoy attempt: %v, want a wrong code with 4 left, as for a real one", err)
	}
}

func TestNoCreateUserForUnknownSendsNothing(t *testing.T) {
	s, sender, store := newService(t)
	ctx := context.Background()
	_, err := s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "new@example.com"})
	s.Wait()
	if err != nil || sender.count() != 0 {
		t.Fatalf("create_user=false for an unknown user: err %v, %d sent; want nil, 0", err, sender.count())
	}
	store.RecordSignIn(ctx, "email", "old@example.com", "u1", nil, time.Now())
	_, err = s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "old@example.com"})
	s.Wait()
	if err != nil || sender.count() != 1 {
		t.Fatalf("create_user=false for a known user: err %v, %d sent; want nil, 1", err, sender.count())
	}
}

// A failed delivery is not the answer to Start (which answers before it
// ends) but to the next check of the attempt.
func TestDeliveryFailureLeavesNoAttempt(t *testing.T) {
	s, sender, _ := newService(t)
	sender.fail = errors.New("smtp down")
	st, err := s.Start(context.Background(), verify.StartRequest{Channel: "email", Identifier: "gil@example.com", CreateUser: true})
	if err != nil {
		t.Fatalf("Start: %v, want an answer before the delivery ends", err)
	}
	s.Wait()
	_, err = s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: "000000"})
	if !errors.Is(err, verify.ErrDeliveryFailed) {
		t.Fatalf("got %v, want ErrDeliveryFailed", err)
	}
}

func TestUnconfiguredChannel(t *testing.T) {
	s, _, _ := newService(t)
	_, err := s.Start(context.Background(), verify.StartRequest{Channel: "phone", Identifier: "+441234567890"})
	if !errors.Is(err, verify.ErrChannelNotConfigured) {
		t.Fatalf("got %v, want ErrChannelNotConfigured", err)
	}
}

func TestKeyRotationKeepsCodesInFlight(t *testing.T) {
	old := []byte("0123456789abcdef0123456789abcdef")
	fresh := []byte("a brand new key of thirty-two by")
	withKeys := func(keys ...[]byte) option { return func(c *verify.Config) { c.Keys = keys } }
	s, sender, store := newService(t)
	st := start(t, s, "hal@example.com")
	code := sender.last(t).Code
	// The same store, after a reload with a new key added first.
	s, _, _ = newService(t, withStore(store), withKeys(fresh, old), withSenders(map[string]verify.Sender{"email": sender}))
	if _, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Identifier: ""}); err != nil {
		t.Fatalf("code issued under the old key: %v", err)
	}
	st = start(t, s, "hal@example.com")
	code = sender.last(t).Code
	// And after the new key is gone: its codes no longer verify.
	s, _, _ = newService(t, withStore(store), withKeys(old))
	var wc *verify.WrongCodeError
	if _, err := s.CheckCode(context.Background(), verify.CheckRequest{AttemptID: st.AttemptID, Code: code, Identifier: ""}); !errors.As(err, &wc) {
		t.Fatalf("code under a removed key: %v, want WrongCodeError", err)
	}
}

func TestCodesAreUniformDigits(t *testing.T) {
	s, sender, _ := newService(t, func(c *verify.Config) { c.CodeLength = 8 })
	verify.NoJitter(s)
	var counts [10]int
	const n = 500
	for range n {
		start(t, s, "ivy@example.com")
		c := sender.last(t).Code
		if len(c) != 8 {
			t.Fatalf("code %q, want 8 digits", c)
		}
		for _, d := range c {
			counts[d-'0']++
		}
	}
	// 4000 digits: each expected 400; a fair source lands within ±100
	// with overwhelming probability, a biased or constant one does not.
	for d, c := range counts {
		if c < 300 || c > 500 {
			t.Fatalf("digit %d appeared %d times in %d codes: %v", d, c, n, counts)
		}
	}
}

// Without an attempt id, a code is checked against the latest attempt sent
// to the address (GoTrue's and Nhost's verify name the address only): its
// code signs in, an older one's does not, and an address that may not
// sign in answers like one that may.
func TestCheckByAddressTakesTheLatestAttempt(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	start(t, s, "ann@example.com")
	older := sender.last(t).Code
	// The resend cooldown is off in this engine (no limits).
	start(t, s, "ann@example.com")
	latest := sender.last(t).Code
	byAddress := func(email, code string) error {
		_, err := s.CheckCode(ctx, verify.CheckRequest{Code: code, Channel: "email", Identifier: email})
		return err
	}
	var wc *verify.WrongCodeError
	if older != latest {
		if err := byAddress("Ann@Example.com", older); !errors.As(err, &wc) {
			t.Fatalf("the older attempt's code: %v, want a wrong code", err)
		}
	}
	if err := byAddress("Ann@Example.com", latest); err != nil {
		t.Fatalf("the latest attempt's code: %v", err)
	}
	if err := byAddress("ann@example.com", latest); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("the same code again: %v, want ErrAttemptNotFound", err)
	}
	if err := byAddress("nobody@example.com", "123456"); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("no attempt at all: %v, want ErrAttemptNotFound", err)
	}
	start(t, s, "eve@elsewhere.example") // not allowed: a decoy
	if err := byAddress("eve@elsewhere.example", "123456"); !errors.As(err, &wc) || wc.AttemptsLeft != verify.DefaultMaxAttempts-1 {
		t.Fatalf("a decoy checked by address: %v, want a wrong code with tries left", err)
	}
	if err := byAddress("not an address", "123456"); !errors.Is(err, verify.ErrInvalidIdentifier) {
		t.Fatalf("a malformed address: %v, want ErrInvalidIdentifier", err)
	}
}
