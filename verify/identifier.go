package verify

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Channels a code can be sent over.
const (
	ChannelEmail = "email"
	ChannelPhone = "phone"
)

// ErrInvalidIdentifier means an address that cannot be a real one.
var ErrInvalidIdentifier = errors.New("invalid address")

// RFC 5321 limits: 64 octets of local part, 255 of domain, and 254 for the
// whole address as it can appear in a path.
const (
	maxLocalLen   = 64
	maxDomainLen  = 255
	maxAddressLen = 254
)

// NormalizeEmail returns the canonical form of an email address: trimmed,
// Unicode NFC, lower-cased. One user exists per canonical form. It accepts
// internationalised addresses (UTF-8 in either part, RFC 6531) under one
// rule: no white space, control characters, or characters that would let
// the address break out of a mail header or SMTP command.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", ErrInvalidIdentifier
	}
	s = strings.ToLower(norm.NFC.String(s))
	if len(s) > maxAddressLen {
		return "", ErrInvalidIdentifier
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", ErrInvalidIdentifier
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > maxLocalLen || len(domain) > maxDomainLen {
		return "", ErrInvalidIdentifier
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`<>()[]\,;:"`, r) ||
			r == utf8.RuneError || unicode.In(r, unicode.Cf) {
			return "", ErrInvalidIdentifier
		}
	}
	if strings.Contains(local, "@") || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") ||
		strings.Contains(local, "..") {
		return "", ErrInvalidIdentifier
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", ErrInvalidIdentifier
		}
	}
	return s, nil
}
