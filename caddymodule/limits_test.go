package caddymodule

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// The bounds on limit windows hold for a JSON config too, which never
// passes through the Caddyfile parser's own checks.
func TestLimitWindowsBoundedInJSON(t *testing.T) {
	day := caddy.Duration(24 * time.Hour)
	for _, tc := range []struct {
		name    string
		limits  LimitsConfig
		wantErr string
	}{
		{"a day is fine", LimitsConfig{ResendCooldown: day, StartsPerIP: &Rate{Count: 5, Window: day}, VerifiesPerIP: &Rate{Count: 5, Window: day}}, ""},
		{"cooldown over a day", LimitsConfig{ResendCooldown: day + caddy.Duration(time.Second)}, "resend_cooldown"},
		{"starts window over a day", LimitsConfig{StartsPerIP: &Rate{Count: 5, Window: 2 * day}}, "starts_per_ip"},
		{"verifies window over a day", LimitsConfig{VerifiesPerIP: &Rate{Count: 5, Window: 2 * day}}, "verifies_per_ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.limits.validate(CodeConfig{Length: 6, MaxAttempts: 5})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one about %s", err, tc.wantErr)
			}
		})
	}
}
