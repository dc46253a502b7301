package verify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/passgate/caddy-passgate/verify"
)

const linkBase = "https://app.example.com/auth/magic"

func linkTo(token string) string { return linkBase + "?token=" + token }

func startWithLink(t *testing.T, s *verify.Engine, email string) verify.Started {
	t.Helper()
	st, err := s.Start(context.Background(), verify.StartRequest{Channel: "email", Identifier: email, RedirectTo: "/x", CreateUser: true, Link: linkTo})
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	return st
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, linkBase+"?token=") {
		t.Fatalf("link %q is not under %s", link, linkBase)
	}
	return u.Query().Get("token")
}

func TestLinkHas256BitsAndIsNotStored(t *testing.T) {
	s, sender, _ := newService(t)
	verify.NoJitter(s)
	seen := map[string]bool{}
	for range 50 {
		startWithLink(t, s, "ann@example.com")
		tok := tokenOf(t, sender.last(t).Link)
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) < 32 || !verify.ValidToken(tok) {
			t.Fatalf("token %q: %d bytes, %v; want >= 32 random bytes", tok, len(raw), err)
		}
		if seen[tok] {
			t.Fatal("token repeated")
		}
		seen[tok] = true
	}
	// Without a Link there is no link.
	start(t, s, "ann@example.com")
	if l := sender.last(t).Link; l != "" {
		t.Fatalf("link %q without Link", l)
	}
}

func TestLinkPeekDoesNotConsumeAndCheckDoesOnce(t *testing.T) {
	s, sender, store := newService(t)
	ctx := context.Background()
	st := startWithLink(t, s, "ann@example.com")
	tok := tokenOf(t, sender.last(t).Link)
	for range 3 {
		a, err := s.PeekLink(ctx, tok)
		if err != nil || a.ID != st.AttemptID {
			t.Fatalf("PeekLink = %+v, %v", a, err)
		}
	}
	// The store holds only the hash.
	a, _ := store.AttemptByToken(ctx, verify.TokenHash(tok))
	if strings.Contains(string(a.TokenHash), tok) || len(a.TokenHash) != 32 {
		t.Fatalf("stored token hash %x", a.TokenHash)
	}
	a, err := s.CheckLink(ctx, tok, verify.Caller{})
	if err != nil || a.Identifier != "ann@example.com" || a.RedirectTo != "/x" {
		t.Fatalf("CheckLink = %+v, %v", a, err)
	}
	for _, f := range []func(context.Context, string) error{
		func(ctx context.Context, tok string) error {
			_, err := s.CheckLink(ctx, tok, verify.Caller{})
			return err
		},
		func(ctx context.Context, tok string) error { _, err := s.PeekLink(ctx, tok); return err },
	} {
		if err := f(ctx, tok); !errors.Is(err, verify.ErrAttemptNotFound) {
			t.Fatalf("used link: %v, want ErrAttemptNotFound", err)
		}
	}
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: sender.last(t).Code}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("code after its link was used: %v, want ErrAttemptNotFound", err)
	}
}

func TestCodeUseKillsLink(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	st := startWithLink(t, s, "ann@example.com")
	msg := sender.last(t)
	if _, err := s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: msg.Code}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckLink(ctx, tokenOf(t, msg.Link), verify.Caller{}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("link after its code was used: %v, want ErrAttemptNotFound", err)
	}
}

func TestBurnedAttemptKillsLink(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	st := startWithLink(t, s, "ann@example.com")
	msg := sender.last(t)
	for range verify.DefaultMaxAttempts {
		_, _ = s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: wrong(msg.Code)})
	}
	if _, err := s.CheckLink(ctx, tokenOf(t, msg.Link), verify.Caller{}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("link of a burned attempt: %v, want ErrAttemptNotFound", err)
	}
}

func TestBadTokensAreNotFound(t *testing.T) {
	s, _, _ := newService(t)
	for _, tok := range []string{"", "x", strings.Repeat("A", 43) + "=", strings.Repeat("*", 43), strings.Repeat("A", 44),
		base64.RawURLEncoding.EncodeToString(make([]byte, 32))} {
		if _, err := s.CheckLink(context.Background(), tok, verify.Caller{}); !errors.Is(err, verify.ErrAttemptNotFound) {
			t.Errorf("CheckLink(%q) = %v, want ErrAttemptNotFound", tok, err)
		}
	}
}

func TestConcurrentLinkAndCodeGiveOneWinner(t *testing.T) {
	s, sender, _ := newService(t)
	ctx := context.Background()
	st := startWithLink(t, s, "ann@example.com")
	msg := sender.last(t)
	tok := tokenOf(t, msg.Link)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = s.CheckLink(ctx, tok, verify.Caller{})
			} else {
				_, err = s.CheckCode(ctx, verify.CheckRequest{AttemptID: st.AttemptID, Code: msg.Code})
			}
			if err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if w := wins.Load(); w != 1 {
		t.Fatalf("%d of concurrent code and link uses won, want 1", w)
	}
}

// failingSender records what it was asked to send, then fails.
type failingSender struct {
	mu  sync.Mutex
	got verify.Message
}

func (f *failingSender) Send(_ context.Context, m verify.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = m
	return errors.New("smtp down")
}

func TestDeliveryFailureLeavesNoLink(t *testing.T) {
	fs := &failingSender{}
	s, _, store := newService(t, withSenders(map[string]verify.Sender{"email": fs}))
	ctx := context.Background()
	_, err := s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "gil@example.com", CreateUser: true, Link: linkTo})
	if err != nil {
		t.Fatalf("Start: %v, want an answer before the delivery ends", err)
	}
	s.Wait()
	fs.mu.Lock()
	tok := tokenOf(t, fs.got.Link)
	fs.mu.Unlock()
	if _, err := store.AttemptByToken(ctx, verify.TokenHash(tok)); err == nil {
		t.Fatal("the link of an undelivered message still finds its attempt")
	}
	if _, err := s.CheckLink(ctx, tok, verify.Caller{}); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("CheckLink of an undelivered link: %v", err)
	}
	if _, err := s.PeekLink(ctx, tok); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("PeekLink of an undelivered link: %v", err)
	}
}

// A token has one spelling: the last character of 32 bytes in base64url
// carries 4 bits and 2 unused ones, which a lax decoder ignores.
func TestLinkTokenOnlyCanonical(t *testing.T) {
	s, sender, _ := newService(t)
	startWithLink(t, s, "ann@example.com")
	tok := tokenOf(t, sender.last(t).Link)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	other := tok[:len(tok)-1] + string(alphabet[strings.IndexByte(alphabet, tok[len(tok)-1])|1])
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	if b, _ := base64.RawURLEncoding.DecodeString(other); other == tok || !bytes.Equal(b, raw) {
		t.Fatal("not another spelling of the same token: the test proves nothing")
	}
	if !verify.ValidToken(tok) || verify.ValidToken(other) {
		t.Fatalf("ValidToken: canonical %v, other spelling %v; want true, false", verify.ValidToken(tok), verify.ValidToken(other))
	}
}
