package httpkit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORS(t *testing.T) {
	c, err := NewCORS([]string{"https://app.example.com", "http://localhost:3000"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"https://*.example.com", "app.example.com", "https://app.example.com/path", "javascript://x"} {
		if _, err := NewCORS([]string{bad}); err == nil {
			t.Errorf("cors origin %q accepted", bad)
		}
	}
	rules := CORSRules{Methods: []string{"GET", "POST"}, AllowHeaders: []string{"authorization", "apikey"},
		ExposeHeaders: []string{"X-Api-Version"}, Credentials: true}
	for _, tc := range []struct {
		name, method, origin string
		preflight, allowed   bool
	}{
		{"allowed request", "POST", "https://app.example.com", false, true},
		{"allowed, default port written", "POST", "https://app.example.com:443", false, true},
		{"allowed preflight", "OPTIONS", "http://localhost:3000", true, true},
		{"other origin", "POST", "https://evil.example", false, false},
		{"other origin's preflight", "OPTIONS", "https://evil.example", true, false},
		{"other scheme", "POST", "http://app.example.com", false, false},
		{"other port", "POST", "http://localhost:3001", false, false},
		{"a path is no origin", "POST", "https://app.example.com/", false, false},
		{"null", "POST", "null", false, false},
		{"no origin", "POST", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/auth/v1/token", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", "authorization, apikey")
			}
			w := httptest.NewRecorder()
			answered := c.Apply(w, r, rules)
			h := w.Header()
			if answered != tc.preflight || tc.preflight && w.Code != http.StatusNoContent {
				t.Fatalf("answered %v (%d), want %v", answered, w.Code, tc.preflight)
			}
			if got := h.Get("Access-Control-Allow-Origin"); tc.allowed && got != tc.origin || !tc.allowed && got != "" {
				t.Fatalf("Allow-Origin %q", got)
			}
			if !tc.allowed && len(h) > 1 { // Vary only
				t.Fatalf("headers for a refused origin: %v", h)
			}
			if tc.allowed {
				if h.Get("Access-Control-Allow-Credentials") != "true" || h.Values("Vary")[0] != "Origin" {
					t.Fatalf("headers %v", h)
				}
				if tc.preflight && (h.Get("Access-Control-Allow-Headers") != "authorization, apikey" || h.Get("Access-Control-Allow-Methods") != "GET, POST") {
					t.Fatalf("preflight headers %v", h)
				}
				if !tc.preflight && h.Get("Access-Control-Expose-Headers") != "X-Api-Version" {
					t.Fatalf("expose %v", h)
				}
			}
		})
	}
	if !c.Enabled() || (CORS{}).Enabled() {
		t.Fatal("Enabled is wrong")
	}
	if (CORS{}).Allows("https://app.example.com") {
		t.Fatal("no cors configured, and an origin is allowed")
	}
}
