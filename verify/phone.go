package verify

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneInput bounds what reaches the parser, so a huge input costs
// nothing: a 15-digit number written with a trunk prefix, brackets and a
// separator between every digit still fits.
const maxPhoneInput = 64

// E.164, the form SMS gateways take, allows at most 15 digits after the +;
// libphonenumber also accepts some longer German fixed-line numbers.
const maxPhoneDigits = 15

// NormalizePhone returns the E.164 form of a phone number (+442079460958),
// so that one number has exactly one form whichever way it was written.
//
// The number must be in international form, starting with +: passgate has
// no default region to guess a country from. After the + only ASCII digits,
// spaces, dashes, dots and parentheses may appear (letters, digits of other
// scripts, control characters, extensions, "tel:" are refused rather than
// guessed at). The number is then parsed with libphonenumber's metadata,
// which drops a national trunk prefix written after the country code
// ("+44 (0)20 7946 0958" is "+442079460958"), and it must be a valid number
// of its country: one in a range that country has assigned, not just one of
// a plausible length. Like E.164, at most 15 digits.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxPhoneInput || !strings.HasPrefix(s, "+") {
		return "", ErrInvalidIdentifier
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			// Bytes, not runes: any non-ASCII byte lands here, which
			// refuses non-ASCII digits (which the parser would otherwise
			// fold to ASCII) and invalid UTF-8 alike.
			return "", ErrInvalidIdentifier
		}
	}
	n, err := phonenumbers.Parse(s, phonenumbers.UNKNOWN_REGION)
	if err != nil || n.GetExtension() != "" || !phonenumbers.IsValidNumber(n) {
		return "", ErrInvalidIdentifier
	}
	out := phonenumbers.Format(n, phonenumbers.E164)
	if len(out)-1 > maxPhoneDigits {
		return "", ErrInvalidIdentifier
	}
	return out, nil
}
