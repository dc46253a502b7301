package nhost

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// sink keeps the messages an engine sends.
type sink struct {
	mu   sync.Mutex
	sent []verify.Message
}

func (s *sink) Send(_ context.Context, m verify.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return nil
}

// testDoor is the door at /nhost/v1 over an engine on the memory store,
// with email and SMS to sink, everyone at example.com and +44 allowed, and
// https://app.example.com an allowed redirect origin.
func testDoor(tb testing.TB) (*Door, *sink) {
	tb.Helper()
	store := memory.New(nil, 0)
	tb.Cleanup(func() { store.Close() })
	seed := bytes.Repeat([]byte{7}, 32)
	ed, err := tokens.DeriveEd25519(seed)
	if err != nil {
		tb.Fatal(err)
	}
	es, err := tokens.DeriveES256(seed)
	if err != nil {
		tb.Fatal(err)
	}
	iss, err := tokens.New(tokens.Config{Issuer: "passgate", Audience: "passgate", Keys: []tokens.Key{ed}, ProfileKeys: []tokens.Key{es}})
	if err != nil {
		tb.Fatal(err)
	}
	var allow []verify.Pattern
	for _, p := range [][2]string{{"email", "*@example.com"}, {"phone", "+44*"}} {
		pat, err := verify.NewPattern(p[0], p[1])
		if err != nil {
			tb.Fatal(err)
		}
		allow = append(allow, pat)
	}
	out := &sink{}
	e, err := verify.New(verify.Config{
		Store: store, Senders: map[string]verify.Sender{"email": out, "phone": out}, Tokens: iss,
		Policy: verify.Policy{Allow: allow},
		Keys:   [][]byte{[]byte("code key 0123456789abcdef0123456")}, RefreshKey: []byte("refresh key"),
	})
	if err != nil {
		tb.Fatal(err)
	}
	redirects, err := httpkit.NewRedirectPolicy([]string{"https://app.example.com"})
	if err != nil {
		tb.Fatal(err)
	}
	env := &httpkit.Env{Door: "nhost", Engine: e, Logger: zap.NewNop(), Mount: DefaultMount, Redirects: redirects,
		Keys: func(string) [][]byte { return [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)} }}
	d, err := New(env, Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return d, out
}
