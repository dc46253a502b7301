package verify_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

func TestHandoffRedeemsOnceForItsOwner(t *testing.T) {
	s, _, _ := limitedService(t, verify.DefaultLimits)
	ctx := context.Background()
	code, err := s.IssueHandoff(ctx, []byte("shop|data"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	owner := func(d []byte) bool { return string(d[:4]) == "shop" }
	other := func(d []byte) bool { return false }
	if _, err := s.RedeemHandoff(ctx, code, verify.Caller{Client: "blog"}, other); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("another client: %v", err)
	}
	// Neither a link nor a code check can use a hand-off.
	if _, err := s.PeekLink(ctx, code); !errors.Is(err, verify.ErrAttemptNotFound) {
		t.Fatalf("a hand-off as a magic link: %v", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if d, err := s.RedeemHandoff(ctx, code, verify.Caller{Client: "shop"}, owner); err == nil && string(d) == "shop|data" {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redeemers won, want 1", wins.Load())
	}
	for _, junk := range []string{"", "x", code + "x"} {
		if _, err := s.RedeemHandoff(ctx, junk, verify.Caller{Client: "shop"}, owner); !errors.Is(err, verify.ErrAttemptNotFound) {
			t.Fatalf("junk %q: %v", junk, err)
		}
	}
	if _, err := s.IssueHandoff(ctx, nil, time.Hour); !errors.Is(err, verify.ErrInvalidInput) {
		t.Fatalf("an hour-long hand-off: %v", err)
	}
}

func TestStartTTLOnlyShortens(t *testing.T) {
	s, _, clock := limitedService(t, verify.DefaultLimits)
	ctx := context.Background()
	for _, tc := range []struct{ ask, want time.Duration }{{30 * time.Second, 30 * time.Second}, {time.Hour, verify.DefaultCodeTTL}, {0, verify.DefaultCodeTTL}} {
		st, err := s.Start(ctx, verify.StartRequest{Channel: "email", Identifier: "ttl" + tc.ask.String() + "@example.com", CreateUser: true, TTL: tc.ask,
			Caller: verify.Caller{ClientIP: "192.0.2.60"}})
		s.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got := st.ExpiresAt.Sub(clock.Now().Truncate(time.Millisecond)); got != tc.want {
			t.Fatalf("asked %v: lives %v, want %v", tc.ask, got, tc.want)
		}
	}
}
