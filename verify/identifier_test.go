package verify_test

import (
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/verify"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ann@example.com", "ann@example.com", true},
		{"  Ann.Lee@Example.COM \t", "ann.lee@example.com", true},
		{"a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk", true},
		{"josé@example.com", "josé@example.com", true},
		{"jose\u0301@example.com", "josé@example.com", true}, // decomposed é composes under NFC
		{"ÜBER@Bücher.example", "über@bücher.example", true},
		{"user@localhost", "user@localhost", true},
		{"", "", false},
		{"plain", "", false},
		{"@example.com", "", false},
		{"ann@", "", false},
		{"a@b@c.com", "", false},
		{"ann @example.com", "", false},
		{"ann@example.com\r\nBcc: x@y.z", "", false},
		{"ann@exa\nmple.com", "", false},
		{"<ann@example.com>", "", false},
		{"ann@example..com", "", false},
		{".ann@example.com", "", false},
		{"an..n@example.com", "", false},
		{"ann@-example.com", "", false},
		{"ann\u200b@example.com", "", false}, // zero-width space
		{"ann\x00@example.com", "", false},
		{"\xff@example.com", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com", true},
		{"a@" + strings.Repeat("b", 250) + ".com", "", false},
	}
	for _, tc := range tests {
		got, err := verify.NormalizeEmail(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPolicy(t *testing.T) {
	mustPattern := func(ch, g string) verify.Pattern {
		p, err := verify.NewPattern(ch, g)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := verify.Policy{
		Allow: []verify.Pattern{mustPattern("email", "*@Example.com"), mustPattern("email", "boss@partner.org")},
		Roles: []verify.Role{
			{Name: "admin", Patterns: []verify.Pattern{mustPattern("email", "root@example.com")}},
			{Name: "staff", Patterns: []verify.Pattern{mustPattern("email", "*@example.com")}},
		},
	}
	for _, tc := range []struct {
		ch, id string
		want   bool
	}{
		{"email", "ann@example.com", true},
		{"email", "boss@partner.org", true},
		{"email", "other@partner.org", false},
		{"email", "ann@example.com.evil", false},
		{"email", "ann@notexample.com", false},
		{"phone", "ann@example.com", false},
	} {
		if got := p.Allowed(tc.ch, tc.id); got != tc.want {
			t.Errorf("Allowed(%s, %s) = %v, want %v", tc.ch, tc.id, got, tc.want)
		}
	}
	if got := strings.Join(p.RolesFor("email", "root@example.com"), ","); got != "admin,staff" {
		t.Errorf("roles of root = %q", got)
	}
	if got := p.RolesFor("email", "x@partner.org"); len(got) != 0 {
		t.Errorf("roles of outsider = %v", got)
	}
	if (verify.Policy{}).Allowed("email", "ann@example.com") {
		t.Error("an empty allow list lets someone in")
	}
	if _, err := verify.NewPattern("email", "[a-"); err == nil {
		t.Error("bad glob accepted")
	}
	if _, err := verify.NewPattern("fax", "*"); err == nil {
		t.Error("unknown channel accepted")
	}
}
