package caddymodule

import (
	"fmt"
	"math"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// Bounds on limits. Per-client caps may be raised (many users can share one
// address behind a NAT); per-address limits only within these bounds.
const (
	minResendCooldown = 10 * time.Second
	maxSendsPerHour   = 20
	// maxLimitWindow bounds the cooldown and the per-client windows: a
	// day is as long as any limit needs, and the memory store keeps
	// events for at most twice that.
	maxLimitWindow = 24 * time.Hour
)

// limits resolves the configuration against the defaults.
func (lc LimitsConfig) limits() verify.Limits {
	l := verify.DefaultLimits
	if lc.ResendCooldown != 0 {
		l.ResendCooldown = time.Duration(lc.ResendCooldown)
	}
	if lc.SendsPerHour != 0 {
		l.SendsPerHour = lc.SendsPerHour
	}
	if lc.StartsPerIP != nil {
		l.StartsPerIP, l.StartsPerIPWindow = lc.StartsPerIP.Count, time.Duration(lc.StartsPerIP.Window)
	}
	if lc.VerifiesPerIP != nil {
		l.VerifiesPerIP, l.VerifiesPerIPWindow = lc.VerifiesPerIP.Count, time.Duration(lc.VerifiesPerIP.Window)
	}
	if lc.WrongCodesPerDay != 0 {
		l.WrongCodesPerDay = lc.WrongCodesPerDay
	}
	return l
}

func (lc LimitsConfig) validate(code CodeConfig) error {
	l := lc.limits()
	if l.ResendCooldown < minResendCooldown || l.ResendCooldown > maxLimitWindow {
		return fmt.Errorf("limits resend_cooldown %v: %v to %v", l.ResendCooldown, minResendCooldown, maxLimitWindow)
	}
	if l.SendsPerHour < 1 || l.SendsPerHour > maxSendsPerHour {
		return fmt.Errorf("limits sends_per_hour %d: 1 to %d", l.SendsPerHour, maxSendsPerHour)
	}
	for _, r := range []struct {
		name   string
		n      int
		window time.Duration
	}{{"starts_per_ip", l.StartsPerIP, l.StartsPerIPWindow}, {"verifies_per_ip", l.VerifiesPerIP, l.VerifiesPerIPWindow}} {
		if r.n < 1 || r.window <= 0 || r.window > maxLimitWindow {
			return fmt.Errorf("limits %s: a count of 1 or more and a window above 0, at most %v", r.name, maxLimitWindow)
		}
	}
	if l.WrongCodesPerDay < 1 {
		return fmt.Errorf("limits wrong_codes_per_day %d: at least 1", l.WrongCodesPerDay)
	}
	if chance := verify.GuessChance(code.Length, l.WrongCodesPerDay, code.MaxAttempts); chance > verify.MaxGuessChance {
		most := int(math.Floor(verify.MaxGuessChance * (math.Pow10(code.Length) - float64(code.MaxAttempts))))
		return fmt.Errorf("limits wrong_codes_per_day %d: with %d-digit codes a guesser's chance would be %.2g a day; at most %d keeps it within %g",
			l.WrongCodesPerDay, code.Length, chance, most, verify.MaxGuessChance)
	}
	return nil
}
