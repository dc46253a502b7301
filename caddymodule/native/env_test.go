package native

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

// testEnv is a door's Env over an engine with the given senders, codes of
// 6 digits valid for ttl, and the memory store.
func testEnv(t *testing.T, senders map[string]verify.Sender, ttl time.Duration) *httpkit.Env {
	t.Helper()
	store := memory.New(nil, 0)
	t.Cleanup(func() { store.Close() })
	e, err := verify.New(verify.Config{
		Store: store, Senders: senders, CodeTTL: ttl,
		Keys: [][]byte{[]byte("code key 0123456789abcdef0123456")}, RefreshKey: []byte("refresh key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	redirects, _ := httpkit.NewRedirectPolicy(nil)
	return &httpkit.Env{Door: "native", Engine: e, Logger: zap.NewNop(), Mount: "/auth", Redirects: redirects,
		Keys: func(string) [][]byte { return [][]byte{make([]byte, 32)} }}
}
