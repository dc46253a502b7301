package tokens_test

import (
	"testing"

	"github.com/passgate/caddy-passgate/verify/tokens"
)

// BenchmarkVerifyAccess is the check of an access token: the first time a
// token is seen (signature and claims), and again (from the cache).
func BenchmarkVerifyAccess(b *testing.B) {
	c := new(clock)
	key := derivedB(b)
	b.Run("first", func(b *testing.B) {
		iss := newIssuerB(b, c, key)
		// Fresh tokens, issued outside the timer, so each is verified anew.
		toks := make([]string, 0, 1024)
		for range cap(toks) {
			tok, _, err := iss.IssueAccess(ann)
			if err != nil {
				b.Fatal(err)
			}
			toks = append(toks, tok)
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if n == len(toks) {
				// Out of fresh tokens: a new issuer has an empty cache.
				b.StopTimer()
				iss = newIssuerB(b, c, key)
				n = 0
				b.StartTimer()
			}
			if _, err := iss.VerifyAccess(toks[n]); err != nil {
				b.Fatal(err)
			}
			n++
		}
	})
	b.Run("cached", func(b *testing.B) {
		iss := newIssuerB(b, c, key)
		tok, _, err := iss.IssueAccess(ann)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := iss.VerifyAccess(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func derivedB(b *testing.B) tokens.Key {
	k, err := tokens.DeriveEd25519(seed(0))
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func newIssuerB(b *testing.B, c *clock, keys ...tokens.Key) *tokens.Issuer {
	i, err := tokens.New(tokens.Config{Issuer: "https://auth.example.com", Audience: "api", Keys: keys, Now: c.now})
	if err != nil {
		b.Fatal(err)
	}
	return i
}
