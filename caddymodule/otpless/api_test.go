package otpless

import (
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// expiry shortens a code's life and never lengthens it, however large.
func TestExpiryOnlyShortens(t *testing.T) {
	d := testDoor(t)
	email := "a@example.com"
	for _, tc := range []struct {
		expiry int
		want   time.Duration
	}{{30, 30 * time.Second}, {600, verify.DefaultCodeTTL}, {3600, verify.DefaultCodeTTL}, {1 << 62, verify.DefaultCodeTTL}} {
		s, e := d.parseInitiate(initiateBody{Email: &email, Expiry: &tc.expiry})
		if e != nil || s.ttl != tc.want {
			t.Fatalf("expiry %d: ttl %v, %v; want %v", tc.expiry, s.ttl, e, tc.want)
		}
	}
}
