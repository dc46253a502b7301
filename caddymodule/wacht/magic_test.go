package wacht_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
)

// linkFor prepares a magic link sign-in in b and returns the attempt id
// and the emailed link.
func linkFor(t *testing.T, s *site, b *browser, email, redirect string) (string, *url.URL) {
	t.Helper()
	n := s.count(email)
	id := b.signInStart("magic_link", "email", email, "redirect_uri", redirect)
	link, err := url.Parse(s.message(email, n)["link"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return id, link
}

// The emailed link is safe from mail scanners, which GET links before
// people do, though Wacht's client signs in with a GET of it: a
// navigation (a person or a scanner opening it) only sends the browser
// on to the app's landing page, and the client's fetch signs in only the
// browser that asked for the link, with the newest link of its attempt.
func TestMagicLink(t *testing.T) {
	s := startSite(t, siteOptions{extra: "redirect_origins https://app.example.com"})
	b := s.browser()
	email := "link@example.com"
	id, link := linkFor(t, s, b, email, "https://app.example.com/verify?next=1")
	if link.Path != "/wacht/auth/verify-magic-link" || link.Query().Get("attempt") != id || link.Query().Get("token") == "" ||
		link.Query().Get("redirect_uri") != "https://app.example.com/verify?next=1" {
		t.Fatalf("link %s", link)
	}
	fetch := func(b *browser, header ...string) answer {
		return b.get(link.String(), append([]string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Sec-Fetch-Site", "same-origin"}, header...)...)
	}

	// Opened, by anyone: a redirect to the landing page, with the
	// parameters its component reads; nothing consumed.
	for name, header := range map[string][]string{
		"a browser navigating":           {"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document", "Sec-Fetch-Site", "none", "Accept", "text/html"},
		"a scanner asking for HTML":      {"Accept", "text/html,application/xhtml+xml"},
		"a browser loading it as an img": {"Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"},
		"a prefetch":                     {"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Sec-Purpose", "prefetch"},
	} {
		for _, who := range []*browser{b, s.browser()} {
			a := who.get(link.String(), header...)
			if a.status != 303 || a.header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("%s: %d %s", name, a.status, a.body)
			}
			to, _ := url.Parse(a.header.Get("Location"))
			q := to.Query()
			if to.Host != "app.example.com" || to.Path != "/verify" || q.Get("next") != "1" || q.Get("token") != link.Query().Get("token") ||
				q.Get("attempt") != id || q.Get("redirect_uri") != "https://app.example.com/verify?next=1" {
				t.Fatalf("%s: landing %s", name, to)
			}
		}
	}
	// Fetched without the browser's cookie (a scanner, or a scanner's
	// sandbox running the landing page): refused, nothing consumed.
	wantError(t, "a fetch without the cookie", fetch(s.browser()), 400, "BAD_SIGN_IN_ATTEMPT")
	wantError(t, "a plain GET without the cookie", s.browser().get(link.String(), "Accept", "*/*"), 400, "BAD_SIGN_IN_ATTEMPT")
	// From another site's page, even with the cookie.
	wantError(t, "a fetch from another site", fetch(b, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), 403, "FORBIDDEN")
	// Another attempt's id with this token.
	other := strings.Replace(link.String(), "attempt="+id, "attempt=123", 1)
	wantError(t, "another attempt", b.get(other, "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"), 400, "BAD_SIGN_IN_ATTEMPT")

	// The browser that asked: signed in, once.
	a := fetch(b)
	if a.status != 200 || !strings.Contains(string(a.env.Data), `"active_signin":{`) {
		t.Fatalf("the client's fetch: %d %s", a.status, a.body)
	}
	if b.cookie("__session") == nil {
		t.Fatal("no __session after the link")
	}
	wantError(t, "the link again", fetch(b), 400, "BAD_SIGN_IN_ATTEMPT")

	// A resend replaces the link: the older one no longer signs in, the
	// newer does; its code works too (for another device).
	c := s.browser()
	email = "relink@example.com"
	id, first := linkFor(t, s, c, email, "/landing")
	clock.Advance(11 * time.Second) // the resend cooldown; the first link is still live
	q := url.Values{"attempt_identifier": {id}, "strategy": {"magic_link"}, "identifier_type": {"signin"}, "redirect_uri": {"/landing"}}
	if a := c.post("/auth/prepare-verification?"+q.Encode(), "", nil); a.status != 200 {
		t.Fatalf("resend: %d %s", a.status, a.body)
	}
	second := s.message(email, 1)
	replaced := c.get(first.String(), "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty")
	wantError(t, "the replaced link", replaced, 400, "BAD_SIGN_IN_ATTEMPT")
	if !strings.Contains(replaced.env.Message, "newest") {
		t.Fatalf("the replaced link refused for another reason: %s", replaced.env.Message)
	}
	if a := c.verifyCode(id, second["code"].(string)); a.status != 200 {
		t.Fatalf("the code of the magic link's message: %d %s", a.status, a.body)
	}
	// A relative redirect_uri lands on this site.
	lq := first.Query()
	if lq.Get("redirect_uri") != "/landing" {
		t.Fatalf("relative redirect_uri %q", lq.Get("redirect_uri"))
	}
	if a := s.browser().get(first.String(), "Accept", "text/html"); a.status != 303 || !strings.HasPrefix(a.header.Get("Location"), "/landing?") {
		t.Fatalf("relative landing: %d %s", a.status, a.header.Get("Location"))
	}
	// An origin redirect_origins does not allow is not landed on.
	d := s.browser()
	_, evil := linkFor(t, s, d, "evil-redirect@example.com", "https://evil.example/steal")
	if got := evil.Query().Get("redirect_uri"); got != "/" {
		t.Fatalf("redirect_uri %q in the link", got)
	}
	tampered := strings.Replace(evil.String(), "redirect_uri=%2F", "redirect_uri="+url.QueryEscape("https://evil.example/steal"), 1)
	if a := d.get(tampered, "Accept", "text/html"); a.status != 303 || !strings.HasPrefix(a.header.Get("Location"), "/?") {
		t.Fatalf("a tampered redirect_uri: %d %s", a.status, a.header.Get("Location"))
	}
}
