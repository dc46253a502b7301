package verify

import "strings"

// E.164 allows at most 15 digits after the +; fewer than 8 is no real
// subscriber number anywhere.
const (
	minPhoneDigits = 8
	maxPhoneDigits = 15
)

// NormalizePhone returns the E.164 form of a phone number: a + and 8 to 15
// ASCII digits, the first not 0. Spaces, dashes, dots and parentheses are
// dropped, as people type them ("+44 (20) 7946-0958"); anything else
// (letters, other scripts' digits, control characters, a missing +) is
// refused rather than guessed at, so one number has exactly one form.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "+") {
		return "", ErrInvalidIdentifier
	}
	var b strings.Builder
	b.WriteByte('+')
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			// Bytes, not runes: any non-ASCII byte lands here, which
			// refuses non-ASCII digits and invalid UTF-8 alike.
			return "", ErrInvalidIdentifier
		}
	}
	out := b.String()
	digits := len(out) - 1
	if digits < minPhoneDigits || digits > maxPhoneDigits || out[1] == '0' {
		return "", ErrInvalidIdentifier
	}
	return out, nil
}
