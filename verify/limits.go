package verify

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Limits bound what one address or one client can do. They are kept in the
// store, so every instance sharing it enforces them together.
//
// The cooldown and SendsPerHour count codes to one address asked for from
// one client network (ClientKey), so that starts from one network cannot
// keep an address's owner, elsewhere, from signing in; the overall
// SendsPerHourPerAddress bounds what every network together may send to
// one address.
type Limits struct {
	// ResendCooldown is the least time between two codes to one address
	// asked for from one client network.
	ResendCooldown time.Duration
	// SendsPerHour caps codes to one address asked for from one client
	// network in any hour.
	SendsPerHour int
	// SendsPerHourPerAddress caps codes to one address in any hour, from
	// every network together. Above SendsPerHour, or one network could use
	// it up alone.
	SendsPerHourPerAddress int
	// StartsPerIP caps sign-in starts from one client in StartsPerIPWindow.
	StartsPerIP       int
	StartsPerIPWindow time.Duration
	// VerifiesPerIP caps code checks from one client in VerifiesPerIPWindow.
	VerifiesPerIP       int
	VerifiesPerIPWindow time.Duration
	// WrongCodesPerDay caps code comparisons that may fail for one address
	// in any 24 hours; it is what bounds a guesser across attempts.
	WrongCodesPerDay int
	// StartsPerClient and VerifiesPerClient take the place of StartsPerIP
	// and VerifiesPerIP for an authenticated backend client (Caller.Client),
	// which calls from one address for all its users. The per-address
	// limits still hold for every start and check it makes.
	StartsPerClient         int
	StartsPerClientWindow   time.Duration
	VerifiesPerClient       int
	VerifiesPerClientWindow time.Duration
}

// DefaultLimits are the limits of the security floor. With 6-digit codes,
// 50 wrong codes a day give a guesser at most 50/(10^6-4) < 5.1e-5 chance
// of getting into one address in 24 hours.
var DefaultLimits = Limits{
	ResendCooldown:          60 * time.Second,
	SendsPerHour:            5,
	SendsPerHourPerAddress:  20,
	StartsPerIP:             60,
	StartsPerIPWindow:       10 * time.Minute,
	VerifiesPerIP:           120,
	VerifiesPerIPWindow:     10 * time.Minute,
	WrongCodesPerDay:        50,
	StartsPerClient:         600,
	StartsPerClientWindow:   10 * time.Minute,
	VerifiesPerClient:       1200,
	VerifiesPerClientWindow: 10 * time.Minute,
}

// MaxGuessChance is the most a guesser may win into one address in 24
// hours; configurations above it are refused.
const MaxGuessChance = 1e-4

// GuessChance bounds the chance that WrongCodesPerDay guesses at codes of
// codeLength digits hit one: each guess is at most 1 in 10^len - (tries
// before it in its attempt), so the union bound is wrong/(10^len - max).
func GuessChance(codeLength, wrongCodesPerDay, maxAttempts int) float64 {
	return float64(wrongCodesPerDay) / (math.Pow10(codeLength) - float64(maxAttempts))
}

// RateLimitedError says a limit was reached and when to try again.
type RateLimitedError struct {
	Limit      string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited (%s); retry after %v", e.Limit, e.RetryAfter)
}

const day = 24 * time.Hour

// ClientKey groups client addresses the way limits count them: an IPv4
// address alone, an IPv6 address by its /64, which one subscriber usually
// holds whole. Anything unparsable counts as itself.
func ClientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
	return addr.String()
}

// limiter takes slots in the store's sliding windows.
type limiter struct {
	store sessionstore.LimitStore
	now   time.Time
	taken []takenSlot
}

type takenSlot struct{ key, slot string }

// take takes a slot under key, or returns a *RateLimitedError. A limit of
// zero or less is off.
func (l *limiter) take(ctx context.Context, name, key string, limit int, window time.Duration) error {
	if limit <= 0 || window <= 0 {
		return nil
	}
	slot, retry, err := l.store.TakeSlot(ctx, key, limit, window, l.now)
	if err != nil {
		return err
	}
	if slot == "" {
		return &RateLimitedError{Limit: name, RetryAfter: retry}
	}
	l.taken = append(l.taken, takenSlot{key, slot})
	return nil
}

// releaseAll gives back every slot taken, for work that did not happen.
func (l *limiter) releaseAll(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for _, t := range l.taken {
		_ = l.store.ReleaseSlot(ctx, t.key, t.slot)
	}
	l.taken = nil
}

// Bounds on limits. Per-client caps may be raised (many users can share one
// address behind a NAT); per-address limits only within these bounds.
const (
	MinResendCooldown = 10 * time.Second
	// MaxSendsPerHour bounds the codes one address gets in an hour from
	// every network together: what mail bombing can reach.
	MaxSendsPerHour = 20
	// MaxLimitWindow bounds the cooldown and the per-client windows: a
	// day is as long as any limit needs, and the memory store keeps
	// events for at most twice that.
	MaxLimitWindow = 24 * time.Hour
)

func limitErrf(option, format string, args ...any) error {
	return &SettingError{Option: "limits " + option, Msg: "limits " + option + fmt.Sprintf(format, args...)}
}

// Check checks the limits against the bounds of the security floor, for
// codes of codeLength digits burned after maxAttempts wrong ones.
func (l Limits) Check(codeLength, maxAttempts int) error {
	if l.ResendCooldown < MinResendCooldown || l.ResendCooldown > MaxLimitWindow {
		return limitErrf("resend_cooldown", " %v: %v to %v", l.ResendCooldown, MinResendCooldown, MaxLimitWindow)
	}
	if l.SendsPerHourPerAddress < 2 || l.SendsPerHourPerAddress > MaxSendsPerHour {
		return limitErrf("sends_per_hour", " %d per address: 2 to %d", l.SendsPerHourPerAddress, MaxSendsPerHour)
	}
	if l.SendsPerHour < 1 || l.SendsPerHour >= l.SendsPerHourPerAddress {
		return limitErrf("sends_per_hour", " %d per network: 1 to %d, below the per-address cap of %d, so that no one network can use up an address's hour",
			l.SendsPerHour, l.SendsPerHourPerAddress-1, l.SendsPerHourPerAddress)
	}
	for _, r := range []struct {
		name   string
		n      int
		window time.Duration
	}{
		{"starts_per_ip", l.StartsPerIP, l.StartsPerIPWindow}, {"verifies_per_ip", l.VerifiesPerIP, l.VerifiesPerIPWindow},
		{"starts_per_client", l.StartsPerClient, l.StartsPerClientWindow}, {"verifies_per_client", l.VerifiesPerClient, l.VerifiesPerClientWindow},
	} {
		if r.n < 1 || r.window <= 0 || r.window > MaxLimitWindow {
			return limitErrf(r.name, ": a count of 1 or more and a window above 0, at most %v", MaxLimitWindow)
		}
	}
	if l.WrongCodesPerDay < 1 {
		return limitErrf("wrong_codes_per_day", " %d: at least 1", l.WrongCodesPerDay)
	}
	if chance := GuessChance(codeLength, l.WrongCodesPerDay, maxAttempts); chance > MaxGuessChance {
		most := int(math.Floor(MaxGuessChance * (math.Pow10(codeLength) - float64(maxAttempts))))
		return limitErrf("wrong_codes_per_day", " %d: with %d-digit codes a guesser's chance would be %.2g a day; at most %d keeps it within %g",
			l.WrongCodesPerDay, codeLength, chance, most, MaxGuessChance)
	}
	return nil
}
