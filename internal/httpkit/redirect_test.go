package httpkit

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The payload corpus in testdata/open-redirects.txt: every payload is
// either refused (becomes "/") or kept unchanged, with two allowed origins
// configured, and every one is refused with none.
func TestOpenRedirectCorpus(t *testing.T) {
	rp, err := NewRedirectPolicy([]string{"https://app.example.com", "https://*.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	none, _ := NewRedirectPolicy(nil)
	f, err := os.Open("testdata/open-redirects.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verdict, quoted, _ := strings.Cut(line, " ")
		payload, err := strconv.Unquote(quoted)
		if err != nil || (verdict != "keep" && verdict != "refuse") {
			t.Fatalf("bad corpus line %q", line)
		}
		n++
		want := "/"
		if verdict == "keep" {
			want = payload
		}
		if got := rp.Safe(payload); got != want {
			t.Errorf("safe(%q) = %q, want %q", payload, got, want)
		}
		// Without redirect_origins only same-site paths survive.
		if !strings.HasPrefix(payload, "/") {
			want = "/"
		}
		if got := none.Safe(payload); got != want {
			t.Errorf("without origins: safe(%q) = %q, want %q", payload, got, want)
		}
	}
	if n < 50 {
		t.Fatalf("only %d payloads in the corpus", n)
	}
}

func TestRedirectOriginsConfig(t *testing.T) {
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://app.example.com", true},
		{"https://app.example.com/", true},
		{"http://localhost:3000", true},
		{"https://*.example.com", true},
		{"HTTPS://App.Example.com", true},
		{"app.example.com", false},
		{"//app.example.com", false},
		{"javascript://x", false},
		{"https://app.example.com/path", false},
		{"https://user@app.example.com", false},
		{"https://*", false},
		{"https://*.com", false},
		{"https://a.*.example.com", false},
		{"https://*example.com", false},
		{"https://app.example.com?x", false},
		{"https://app.example.com%2f", false},
		{"https://", false},
	} {
		_, err := NewRedirectPolicy([]string{tc.origin})
		if (err == nil) != tc.ok {
			t.Errorf("origin %q: err %v, want ok=%v", tc.origin, err, tc.ok)
		}
	}
}

func TestSafeRedirect(t *testing.T) {
	for in, want := range map[string]string{
		"/app":                          "/app",
		"/app/x?y=1#frag":               "/app/x?y=1#frag",
		"/":                             "/",
		"":                              "/",
		"app":                           "/",
		"//evil.example":                "/",
		"/\\evil.example":               "/",
		"\\\\evil.example":              "/",
		"https://evil.example/":         "/",
		"javascript:alert(1)":           "/",
		"JaVaScRiPt:alert(1)":           "/",
		"/\t/evil.example":              "/",
		"/\n/evil.example":              "/",
		" /app":                         "/",
		"/%2F%2Fevil.example":           "/",
		"/%5Cevil.example":              "/",
		"http:/evil.example":            "/",
		"/app/../..//evil.example":      "/",
		"/app/%2e%2e/x":                 "/",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		if got := SafeRedirect(in); got != want {
			t.Errorf("SafeRedirect(%q) = %q, want %q", in, got, want)
		}
	}
}
