package config

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// The bounds on limits hold for a JSON config too, which never passes
// through the Caddyfile parser.
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
		{"sends per network below per address", LimitsConfig{SendsPerHour: 19}, ""},
		{"sends per network at the per-address default", LimitsConfig{SendsPerHour: 20}, "sends_per_hour 20 per network: 1 to 19"},
		{"sends per network above per address", LimitsConfig{SendsPerHour: 6, SendsPerHourPerAddress: 5}, "sends_per_hour 6 per network: 1 to 4"},
		{"sends per address over the bound", LimitsConfig{SendsPerHourPerAddress: 21}, "sends_per_hour 21 per address: 2 to 20"},
		{"sends per address negative", LimitsConfig{SendsPerHourPerAddress: -1}, "per address"},
		{"sends per network negative", LimitsConfig{SendsPerHour: -1}, "per network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Config{Limits: tc.limits}).Check()
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

func TestSendsPerHourReachTheVerifier(t *testing.T) {
	if l := (LimitsConfig{}).Limits(); l.SendsPerHour != 5 || l.SendsPerHourPerAddress != 20 {
		t.Fatalf("defaults: %d per network, %d per address; want 5 and 20", l.SendsPerHour, l.SendsPerHourPerAddress)
	}
	if l := (LimitsConfig{SendsPerHour: 3, SendsPerHourPerAddress: 12}).Limits(); l.SendsPerHour != 3 || l.SendsPerHourPerAddress != 12 {
		t.Fatalf("configured 3 and 12, got %d per network, %d per address", l.SendsPerHour, l.SendsPerHourPerAddress)
	}
}
