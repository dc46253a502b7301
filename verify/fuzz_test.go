package verify_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/passgate/caddy-passgate/verify"
)

// Seeds are in testdata/fuzz/<FuzzName>/ as well as here.

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", " Ann@Example.COM ", "jose\u0301@example.com", "a@b", "a\r\n@b.c", "@", "", "\xff@x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := verify.NormalizeEmail(in)
		if err != nil {
			return
		}
		if !utf8.ValidString(out) || len(out) > 254 || strings.ContainsAny(out, " \t\r\n<>\x00") ||
			strings.Count(out, "@") != 1 || out != strings.ToLower(out) {
			t.Fatalf("NormalizeEmail(%q) = %q: not a canonical address", in, out)
		}
		again, err := verify.NormalizeEmail(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

// E.164: a +, a country code not starting with 0, at most 15 digits in all.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+44 7946 095800", "+44 (0)20 7946 0958", "+1 (415) 555-0100", "+1 (555) 010-9999", "+33 (0)6 12 34 56 78",
		"+683 4002", "+39 06 1234 5678", "0044123", "+0123456789", "+４４1234567890", "+44\n7946095800", "+44 7946 095800 x1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := verify.NormalizePhone(in)
		if err != nil {
			return
		}
		if !e164.MatchString(out) {
			t.Fatalf("NormalizePhone(%q) = %q: not E.164", in, out)
		}
		again, err := verify.NormalizePhone(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}
