package caddymodule

import (
	"math"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// Bounds on limits. Per-client caps may be raised (many users can share one
// address behind a NAT); per-address limits only within these bounds.
const (
	minResendCooldown = 10 * time.Second
	// maxSendsPerHour bounds the codes one address gets in an hour from
	// every network together: what mail bombing can reach.
	maxSendsPerHour = 20
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
	if lc.SendsPerHourPerAddress != 0 {
		l.SendsPerHourPerAddress = lc.SendsPerHourPerAddress
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

func limitErrf(option, format string, args ...any) error {
	return errAt("limits "+option, "limits "+option+format, args...)
}

// validate checks the limits against their bounds; the one place that
// does, for the Caddyfile and JSON alike.
func (lc LimitsConfig) validate(code CodeConfig) error {
	l := lc.limits()
	if l.ResendCooldown < minResendCooldown || l.ResendCooldown > maxLimitWindow {
		return limitErrf("resend_cooldown", " %v: %v to %v", l.ResendCooldown, minResendCooldown, maxLimitWindow)
	}
	if l.SendsPerHourPerAddress < 2 || l.SendsPerHourPerAddress > maxSendsPerHour {
		return limitErrf("sends_per_hour", " %d per address: 2 to %d", l.SendsPerHourPerAddress, maxSendsPerHour)
	}
	if l.SendsPerHour < 1 || l.SendsPerHour >= l.SendsPerHourPerAddress {
		return limitErrf("sends_per_hour", " %d per network: 1 to %d, below the per-address cap of %d, so that no one network can use up an address's hour",
			l.SendsPerHour, l.SendsPerHourPerAddress-1, l.SendsPerHourPerAddress)
	}
	for _, r := range []struct {
		name   string
		n      int
		window time.Duration
	}{{"starts_per_ip", l.StartsPerIP, l.StartsPerIPWindow}, {"verifies_per_ip", l.VerifiesPerIP, l.VerifiesPerIPWindow}} {
		if r.n < 1 || r.window <= 0 || r.window > maxLimitWindow {
			return limitErrf(r.name, ": a count of 1 or more and a window above 0, at most %v", maxLimitWindow)
		}
	}
	if l.WrongCodesPerDay < 1 {
		return limitErrf("wrong_codes_per_day", " %d: at least 1", l.WrongCodesPerDay)
	}
	if chance := verify.GuessChance(code.Length, l.WrongCodesPerDay, code.MaxAttempts); chance > verify.MaxGuessChance {
		most := int(math.Floor(verify.MaxGuessChance * (math.Pow10(code.Length) - float64(code.MaxAttempts))))
		return limitErrf("wrong_codes_per_day", " %d: with %d-digit codes a guesser's chance would be %.2g a day; at most %d keeps it within %g",
			l.WrongCodesPerDay, code.Length, chance, most, verify.MaxGuessChance)
	}
	return nil
}
