package verify

import (
	"errors"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means refused
	}{
		{"+447946095800", "+447946095800"},
		{"  +44 7946 095800 ", "+447946095800"},
		{"+44 (20) 7946-0958", "+442079460958"},
		{"+1.415.555.0100", "+14155550100"},
		{"+1-415-555-0100", "+14155550100"},
		{"+12345678", "+12345678"},               // 8 digits: shortest allowed
		{"+123456789012345", "+123456789012345"}, // 15 digits: longest allowed
		{"+1234567", ""},                         // 7 digits
		{"+1234567890123456", ""},                // 16 digits
		{"447946095800", ""},                     // no +
		{"0044 7946 095800", ""},                 // international prefix, no +
		{"+0447946095800", ""},                   // country code cannot start with 0
		{"++447946095800", ""},
		{"+44 7946 O95800", ""},              // letter O
		{"+44 7946 095800 ext 1", ""},        // letters
		{"+44\t7946095800", ""},              // tab inside
		{"+447946095800\n", "+447946095800"}, // trailing newline is trimmed space
		{"+4479460\x0095800", ""},            // NUL
		{"+44 ٧٩٤٦ ٠٩٥٨٠٠", ""},              // Arabic-Indic digits
		{"+44７９４６０９５８００", ""},                // full-width digits
		{"+44/7946095800", ""},
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
		}
	}
}
