package tokens_test

import (
	"errors"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify/tokens"
)

// A token verified once is remembered, but never past its exp: the same
// token is refused once expired (and beyond the leeway) although it was
// accepted, and cached, before.
func TestVerifiedTokenCacheHonoursExpiry(t *testing.T) {
	c := new(clock)
	iss := newIssuer(t, c, derived(t, 0))
	tok, exp, err := iss.IssueAccess(ann)
	must(t, err)
	for range 3 {
		claims, err := iss.VerifyAccess(tok)
		must(t, err)
		if claims.Subject != ann.UserID || claims.SessionID != ann.SessionID ||
			len(claims.Roles) == 0 || claims.Roles[0] != ann.Roles[0] {
			t.Fatalf("claims %+v", claims)
		}
		// Callers may not reach into the cache through the claims, their
		// slices included.
		claims.Subject = "mallory"
		claims.Roles[0] = "root"
	}
	c.advance(time.Until(exp) + tokens.DefaultLeeway + time.Second)
	if _, err := iss.VerifyAccess(tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("expired token accepted from the cache: %v", err)
	}
	// A token altered by one character is not the cached one.
	c2 := new(clock)
	iss2 := newIssuer(t, c2, derived(t, 0))
	tok2, _, err := iss2.IssueAccess(ann)
	must(t, err)
	_, err = iss2.VerifyAccess(tok2)
	must(t, err)
	bad := tok2[:len(tok2)-2] + string('A'+(tok2[len(tok2)-2]-'A'+1)%26) + tok2[len(tok2)-1:]
	if _, err := iss2.VerifyAccess(bad); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("altered token accepted: %v", err)
	}
}
