package logto

import (
	"regexp"
	"strings"

	"github.com/passgate/caddy-passgate/verify"
)

// identifier is Logto's VerificationCodeIdentifier, {type, value}.
type identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Logto's own checks of a value (its @logto/core-kit regexes): an email
// address of at most 256 characters, a phone number of digits only.
var (
	emailRegex = regexp.MustCompile(`^\S+@\S+\.\S+$`)
	phoneRegex = regexp.MustCompile(`^\d+$`)
)

const maxEmailLen = 256

// address returns the channel and the engine's form of an identifier: the
// address as given (the engine normalises it), or the E.164 form of
// Logto's digits-only phone number. msg says what is wrong when ok is
// false.
func (id identifier) address() (channel, address, msg string, ok bool) {
	switch id.Type {
	case "email":
		if len(id.Value) > maxEmailLen || !emailRegex.MatchString(id.Value) {
			return "", "", msgInvalidEmail, false
		}
		return verify.ChannelEmail, id.Value, "", true
	case "phone":
		if !phoneRegex.MatchString(id.Value) {
			return "", "", msgInvalidPhone, false
		}
		return verify.ChannelPhone, "+" + id.Value, "", true
	}
	return "", "", `identifier.type must be "email" or "phone".`, false
}

// logtoPhone is Logto's form of an E.164 number: its digits, without '+'.
func logtoPhone(e164 string) string { return strings.TrimPrefix(e164, "+") }

// normalized is the engine's normal form of an address on its channel, or
// "" if it has none.
func normalized(channel, address string) string {
	var n string
	var err error
	switch channel {
	case verify.ChannelEmail:
		n, err = verify.NormalizeEmail(address)
	case verify.ChannelPhone:
		n, err = verify.NormalizePhone(address)
	}
	if err != nil {
		return ""
	}
	return n
}
