package sessionstore_test

import (
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Every token of a chain carries the first token's chain tag, whatever the
// generation; successors are derived (the same key gives the same one,
// another key another) and their hashes say nothing of the token.
func TestRefreshChain(t *testing.T) {
	root, rootHash := sessionstore.NewRefreshToken()
	if len(root) < 43 || strings.Contains(root, ".") || strings.Contains(rootHash, ".") {
		t.Fatalf("first token %q (hash %q): want 256 random bits and no tag", root, rootHash)
	}
	chain := sessionstore.RefreshChain(rootHash)
	if len(chain) != sessionstore.RefreshChainLen || strings.Contains(root, chain) {
		t.Fatalf("chain tag %q of %q", chain, root)
	}
	key := []byte("k")
	tok, hash := root, rootHash
	for i := range 5 {
		next, nextHash := sessionstore.NextRefreshToken(key, tok)
		if again, againHash := sessionstore.NextRefreshToken(key, tok); again != next || againHash != nextHash {
			t.Fatalf("generation %d: the successor is not derived: %q then %q", i, next, again)
		}
		if other, _ := sessionstore.NextRefreshToken([]byte("other"), tok); other == next {
			t.Fatalf("generation %d: two keys give one successor", i)
		}
		if !strings.HasPrefix(next, chain+".") || !strings.HasPrefix(nextHash, chain+".") ||
			sessionstore.RefreshChain(nextHash) != chain || nextHash != sessionstore.RefreshHash(next) ||
			strings.Contains(nextHash, next[len(chain)+1:]) {
			t.Fatalf("generation %d: token %q hash %q, want both behind chain %q and the hash not the token", i, next, nextHash, chain)
		}
		if nextHash == hash {
			t.Fatal("a successor hashes as its predecessor")
		}
		tok, hash = next, nextHash
	}
}

// Whatever a client sends as a refresh token, its successor is of the
// chain its hash names, so a rotation never spans two chains.
func FuzzRefreshChain(f *testing.F) {
	for _, s := range []string{"", ".", "abc.def", "AAAAAAAAAAAA.x", "AAAAAAAAAAAA.", "AAAAAAAAAAA!.x",
		"AAAAAAAAAAAA.AAAAAAAAAAAA.x", "\xff\x00.\xfe", strings.Repeat("a", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		hash := sessionstore.RefreshHash(tok)
		next, nextHash := sessionstore.NextRefreshToken([]byte("k"), tok)
		if nextHash != sessionstore.RefreshHash(next) {
			t.Fatalf("successor %q hashes to %q, NextRefreshToken said %q", next, sessionstore.RefreshHash(next), nextHash)
		}
		if c, n := sessionstore.RefreshChain(hash), sessionstore.RefreshChain(nextHash); c != n || len(c) != sessionstore.RefreshChainLen {
			t.Fatalf("token %q: chain %q, its successor's %q", tok, c, n)
		}
	})
}
