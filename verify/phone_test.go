package verify

import (
	"errors"
	"strings"
	"testing"
)

// The ways people in the UK write one London number are one identifier.
func TestNormalizePhoneTrunkPrefix(t *testing.T) {
	const want = "+442079460958"
	for _, in := range []string{
		"+44 20 7946 0958",
		"+44 (0)20 7946 0958",
		"+44 (0) 20 7946 0958",
		"+44 020 7946 0958",
		"+4402079460958",
		"+44 (20) 7946-0958",
		"+442079460958",
	} {
		if got, err := NormalizePhone(in); err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means refused
	}{
		// United Kingdom
		{"+447946095800", "+447946095800"},
		{"  +44 7946 095800 ", "+447946095800"},
		{"+44 (7946) 095-800", "+447946095800"},
		{"+44 (0)7946 095800", "+447946095800"},
		{"+447946095800\n", "+447946095800"},  // trailing newline is trimmed space
		{"+44 20 7946 095", ""},               // one digit short
		{"+44 20 7946 09581", ""},             // one digit long
		{"+44 6 1234 5678", ""},               // 06 is not a UK number range
		{"+44 20 7946 0000", "+442079460000"}, // Ofcom's drama range in London: valid
		{"+44 7700 900123", ""},               // Ofcom's drama mobile range: not in libphonenumber's UK ranges (README says so)
		// United States
		{"+1 415 555 0100", "+14155550100"},
		{"+1.415.555.0100", "+14155550100"},
		{"+1-415-555-0100", "+14155550100"},
		{"+1 (415) 555-0100", "+14155550100"},
		{"+1 1 415 555 0100", "+14155550100"}, // with the NANP trunk 1
		{"+1 202 555 0100", "+12025550100"},
		{"+1 415 555 010", ""},    // one digit short
		{"+1 555 010 9999", ""},   // 555 is no area code
		{"+1 (123) 456-7890", ""}, // area codes do not start with 1
		{"+1 415 155 0100", ""},   // exchanges do not start with 1
		// Germany
		{"+49 30 901820", "+4930901820"},
		{"+49 (0)30 901820", "+4930901820"},
		{"+49 1512 3456789", "+4915123456789"},
		{"+49 (0)151 23456789", "+4915123456789"},
		{"+49 151 234", ""},                        // mobile number too short
		{"+49 1512 34567890", ""},                  // mobile number too long
		{"+49 201 0000000000", "+492010000000000"}, // 15 digits
		{"+49 201 00000000000", ""},                // valid in Germany, but 16 digits: longer than E.164 allows
		// France
		{"+33 6 12 34 56 78", "+33612345678"},
		{"+33 (0)6 12 34 56 78", "+33612345678"},
		{"+33 06 12 34 56 78", "+33612345678"},
		{"+33 1 23 45 67 89", "+33123456789"},
		{"+33 6 12 34 56 7", ""},
		{"+33 6 12 34 56 789", ""},
		// India
		{"+91 98765 43210", "+919876543210"},
		{"+91 (0)22 2345 6789", "+912223456789"},
		{"+91 98765 4321", ""},
		{"+91 5 1234 5678", ""},
		// Brazil
		{"+55 11 91234-5678", "+5511912345678"},
		{"+55 (11) 3456-7890", "+551134567890"},
		{"+55 (0)11 91234-5678", "+5511912345678"},
		{"+55 11 91234-567", ""},
		{"+55 11 1234-5678", ""}, // landlines do not start with 1
		// Italy keeps the 0: it is part of the number, not a trunk prefix.
		{"+39 06 1234 5678", "+390612345678"},
		// Niue: seven digits in all, valid though shorter than most.
		{"+683 4002", "+6834002"},

		// Shapes that were never numbers.
		{"+12345678", ""},
		{"+123456789012345", ""},
		{"+1234567", ""},
		{"+1234567890123456", ""},
		{"+4479", ""},
		{"447946095800", ""},     // no +: passgate has no default region
		{"0044 7946 095800", ""}, // international prefix, no +
		{"020 7946 0958", ""},    // national form
		{"+0447946095800", ""},   // country codes do not start with 0
		{"++447946095800", ""},
		{"+44 7946 O95800", ""}, // letter O
		{"+44 7946 095800 ext 1", ""},
		{"+44 7946 095800 x12", ""},
		{"+44 7946 095800#", ""},
		{"+44 7946 095800;ext=1", ""},
		{"+1 800 FLOWERS", ""}, // letters are not dialled for
		{"tel:+447946095800", ""},
		{"+44\t7946095800", ""},      // tab inside
		{"+4479460\x0095800", ""},    // NUL
		{"+44 7946\u00a0095800", ""}, // no-break space inside
		{"+44 ٧٩٤٦ ٠٩٥٨٠٠", ""},      // Arabic-Indic digits
		{"+44７９４６０９５８００", ""},        // full-width digits
		{"+44/7946095800", ""},
		{"+44 [7946] 095800", ""},
		{"+44 7946 095800;", ""},
		{"+", ""},
		{"", ""},
		{"+\xff447946095800", ""}, // invalid UTF-8
	} {
		got, err := NormalizePhone(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidIdentifier) {
				t.Errorf("NormalizePhone(%q) = %q, %v; want ErrInvalidIdentifier", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		if again, err := NormalizePhone(got); err != nil || again != got {
			t.Errorf("NormalizePhone(%q) = %q, %v; want it unchanged", got, again, err)
		}
	}
}

// The input is bounded before it is parsed, however it is padded.
func TestNormalizePhoneInputBound(t *testing.T) {
	padded := func(n int) string { // a valid number, n bytes long
		return "+44" + strings.Repeat(" ", n-len("+44")-len("7946095800")) + "7946095800"
	}
	if got, err := NormalizePhone(padded(maxPhoneInput)); err != nil || got != "+447946095800" {
		t.Errorf("%d bytes: %q, %v; want +447946095800", maxPhoneInput, got, err)
	}
	for _, in := range []string{padded(maxPhoneInput + 1), "+44" + strings.Repeat("0", 1<<20) + "7946095800"} {
		if got, err := NormalizePhone(in); !errors.Is(err, ErrInvalidIdentifier) {
			t.Errorf("%d bytes: %q, %v; want ErrInvalidIdentifier", len(in), got, err)
		}
	}
	// White space around the number does not count towards the bound.
	in := strings.Repeat(" ", 1000) + "+44 7946 095800" + strings.Repeat("\n", 1000)
	if got, err := NormalizePhone(in); err != nil || got != "+447946095800" {
		t.Errorf("padded with white space: %q, %v", got, err)
	}
}

// allow and role globs are written in E.164 and match however the user
// wrote the number.
func TestPhonePatternsMatchE164(t *testing.T) {
	london, err := NewPattern(ChannelPhone, "+4420*")
	if err != nil {
		t.Fatal(err)
	}
	mobile, err := NewPattern(ChannelPhone, "+447*")
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Allow: []Pattern{london}, Roles: []Role{{Name: "mobile", Patterns: []Pattern{mobile}}}}
	for _, tc := range []struct {
		in      string
		allowed bool
		roles   string
	}{
		{"+44 (0)20 7946 0958", true, ""},
		{"+44 20 7946 0958", true, ""},
		{"+44 (0)7946 095800", false, "mobile"},
		{"+33 (0)6 12 34 56 78", false, ""},
	} {
		id, err := NormalizePhone(tc.in)
		if err != nil {
			t.Fatalf("NormalizePhone(%q): %v", tc.in, err)
		}
		if got := p.Allowed(ChannelPhone, id); got != tc.allowed {
			t.Errorf("%q (%s) allowed by +4420*: %v, want %v", tc.in, id, got, tc.allowed)
		}
		if got := strings.Join(p.RolesFor(ChannelPhone, id), ","); got != tc.roles {
			t.Errorf("%q (%s) roles %q, want %q", tc.in, id, got, tc.roles)
		}
	}
}

func BenchmarkNormalizePhone(b *testing.B) {
	for b.Loop() {
		if _, err := NormalizePhone("+44 (0)20 7946 0958"); err != nil {
			b.Fatal(err)
		}
	}
}
