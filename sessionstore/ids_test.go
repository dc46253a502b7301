package sessionstore_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// A session id is a UUID, one per secret, that says nothing of the secret.
func TestSessionIDIsAUUID(t *testing.T) {
	a, b := sessionstore.SessionID("secret one"), sessionstore.SessionID("secret two")
	for _, id := range []string{a, b} {
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 8 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("session id %q: not a canonical version-8 UUID (%v)", id, err)
		}
	}
	if a == b || a != sessionstore.SessionID("secret one") {
		t.Fatalf("ids %q, %q: want one per secret, and stable", a, b)
	}
}
