package logto

import (
	"bytes"
	"context"
	"net/http"
	"strings"
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

// cookieSession is a SessionCookie named "sid" holding the secret as is.
type cookieSession struct{}

func (cookieSession) Credential(r *http.Request) verify.Credential {
	return verify.Credential{SessionID: httpkit.CookieValue(r.Header, "sid")}
}

func (cookieSession) Set(w http.ResponseWriter, secret string) error {
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: secret, Path: "/", HttpOnly: true})
	return nil
}

func (cookieSession) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: "sid", Path: "/", MaxAge: -1})
}

const testClientSecret = "a-backend-client-secret-of-40-bytes-----"

// testDoor is the door at /logto over an engine on the memory store, with
// email to sink (no SMS), everyone at example.com allowed, and the backend
// client "shop".
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
	pat, err := verify.NewPattern("email", "*@example.com")
	if err != nil {
		tb.Fatal(err)
	}
	out := &sink{}
	e, err := verify.New(verify.Config{
		Store: store, Senders: map[string]verify.Sender{"email": out}, Tokens: iss,
		Policy: verify.Policy{Allow: []verify.Pattern{pat}},
		Keys:   [][]byte{[]byte("code key 0123456789abcdef0123456")}, RefreshKey: []byte("refresh key"),
	})
	if err != nil {
		tb.Fatal(err)
	}
	env := &httpkit.Env{Door: "logto", Engine: e, Logger: zap.NewNop(), Mount: DefaultMount, Session: cookieSession{},
		Backends: httpkit.NewBackends(map[string]string{"shop": testClientSecret}),
		Keys:     func(string) [][]byte { return [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)} }}
	d, err := New(env, Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return d, out
}

// code is the code of the last message sent to the address.
func (s *sink) code(tb testing.TB, to string) string {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.sent) - 1; i >= 0; i-- {
		if strings.EqualFold(s.sent[i].To, to) {
			return s.sent[i].Code
		}
	}
	tb.Fatalf("no message to %s", to)
	return ""
}
