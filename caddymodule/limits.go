package caddymodule

import (
	"time"

	"github.com/passgate/caddy-passgate/verify"
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
