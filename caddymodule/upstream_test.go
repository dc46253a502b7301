package caddymodule

import (
	"net/http"
	"slices"
	"testing"
)

func TestSessionCookieNotForwarded(t *testing.T) {
	c := sessionCookie{name: "passgate_session"}
	tests := []struct {
		name string
		in   []string
		want []string // nil: no Cookie header
	}{
		{"only the session", []string{"passgate_session=abc"}, nil},
		{"with others", []string{"a=1; passgate_session=abc; b=2"}, []string{"a=1; b=2"}},
		{"last", []string{"a=1;passgate_session=abc"}, []string{"a=1"}},
		{"several lines", []string{"a=1", "passgate_session=abc", "b=2"}, []string{"a=1", "b=2"}},
		{"similar names kept", []string{"xpassgate_session=1; passgate_sessionx=2"}, []string{"xpassgate_session=1; passgate_sessionx=2"}},
		{"none", nil, nil},
		{"other cookies only", []string{"a=1"}, []string{"a=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.in != nil {
				h["Cookie"] = slices.Clone(tt.in)
			}
			c.dropFrom(h)
			got, ok := h["Cookie"]
			if tt.want == nil {
				if ok {
					t.Fatalf("Cookie %q left, want none", got)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Cookie %q, want %q", got, tt.want)
			}
		})
	}
}
