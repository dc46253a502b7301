package verify

import (
	"fmt"
	"time"
)

// SettingError is a setting outside the security floor. Option names it as
// the Caddyfile does ("code ttl", "limits sends_per_hour"), so that a
// parser can point at its line.
type SettingError struct {
	Option string
	Msg    string
}

func (e *SettingError) Error() string { return e.Msg }

func settingErrf(option, format string, args ...any) error {
	return &SettingError{Option: option, Msg: fmt.Sprintf(format, args...)}
}

// Floor is the settings the security floor bounds; zero values stand for
// the defaults.
type Floor struct {
	CodeLength      int
	CodeTTL         time.Duration
	MaxAttempts     int
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	Limits          Limits
}

// Check says whether the settings may only be safer than the defaults:
// codes at least as long, as short-lived and with as few tries, sessions
// with an idle timeout within their lifetime, and limits within their
// bounds (Limits.Check). Its errors are *SettingError.
func (f Floor) Check() error {
	length := cmp(f.CodeLength, DefaultCodeLength)
	tries := cmp(f.MaxAttempts, DefaultMaxAttempts)
	switch {
	case length < DefaultCodeLength || length > 10:
		return settingErrf("code length", "code length %d: must be %d to 10", length, DefaultCodeLength)
	case f.CodeTTL < 0 || f.CodeTTL > DefaultCodeTTL:
		return settingErrf("code ttl", "code ttl %v: must be above 0 and at most %v", f.CodeTTL, DefaultCodeTTL)
	case tries < 1 || tries > DefaultMaxAttempts:
		return settingErrf("code max_attempts", "code max_attempts %d: must be 1 to %d", tries, DefaultMaxAttempts)
	}
	idle, lifetime := cmp(f.SessionIdle, DefaultSessionIdle), cmp(f.SessionLifetime, DefaultSessionLifetime)
	if idle <= 0 || lifetime <= 0 {
		return settingErrf("session", "session idle and lifetime must be above 0")
	}
	if idle > lifetime {
		return settingErrf("session", "session idle (%v) is longer than its lifetime (%v)", idle, lifetime)
	}
	return f.Limits.Check(length, tries)
}

// cmp is set, or def if set is the zero value (a setting left out).
func cmp[T comparable](set, def T) T {
	var zero T
	if set == zero {
		return def
	}
	return set
}
