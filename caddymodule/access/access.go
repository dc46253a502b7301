// Package access holds passgate's per-path access rules: which roles a
// signed-in user needs for a path. Paths match as Caddy's own `path`
// matcher matches them (it is the matcher that runs), and a path that some
// upstream could read as a covered one counts as covered.
package access

import (
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Rule asks for any one of Roles on the request paths matching any of
// Paths (patterns of Caddy's path matcher: `/admin`, `/admin/*`, `*.pdf`).
type Rule struct {
	Roles []string
	Paths []string
}

// Rules are every rule of one passgate handler. A nil *Rules has none and
// costs the gate one comparison.
type Rules struct {
	rules []rule
}

type rule struct {
	roles []string
	paths caddyhttp.MatchPath
}

// New provisions the rules; nil if there are none.
func New(ctx caddy.Context, rules []Rule) (*Rules, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	rs := &Rules{}
	for _, r := range rules {
		m := caddyhttp.MatchPath(slices.Clone(r.Paths)) // Provision lower-cases in place
		if err := m.Provision(ctx); err != nil {
			return nil, err
		}
		rs.rules = append(rs.rules, rule{roles: slices.Clone(r.Roles), paths: m})
	}
	return rs, nil
}

// Covers reports whether a rule covers r's path, so that the gate never
// lets it pass as public.
func (rs *Rules) Covers(r *http.Request) bool {
	for _, v := range readings(r) {
		for _, ru := range rs.rules {
			if ru.paths.Match(v) {
				return true
			}
		}
	}
	return false
}

// Denied returns the roles of the first rule that covers r's path and
// that none of roles satisfies, or nil if every covering rule is
// satisfied: where rules overlap, each of them must be.
func (rs *Rules) Denied(r *http.Request, roles []string) []string {
	var reads []*http.Request
	for _, ru := range rs.rules {
		if slices.ContainsFunc(ru.roles, func(want string) bool { return slices.Contains(roles, want) }) {
			continue
		}
		if reads == nil {
			reads = readings(r)
		}
		for _, v := range reads {
			if ru.paths.Match(v) {
				return ru.roles
			}
		}
	}
	return nil
}

// readings returns r, and copies of it with the other paths some server
// behind Caddy could take its path for, when there are any: a rule covers
// the request if it covers any of them. Caddy's matcher already cleans dot
// segments, merges slashes and ignores case; beyond it:
//   - `;` parameters: servlet containers read /admin;x as /admin;
//   - a backslash: IIS and some static servers read /x\admin as /x/admin;
//   - dot segments left as they are: an upstream that does not resolve
//     them routes /admin/../x, or /admin%2f.. (which arrives as
//     /admin/.. once decoded), under /admin/.
func readings(r *http.Request) []*http.Request {
	p := r.URL.Path
	if !strings.ContainsAny(p, `;\`) && !HasDotSegment(p) {
		return []*http.Request{r}
	}
	paths := []string{p}
	add := func(s string) {
		if !slices.Contains(paths, s) {
			paths = append(paths, s)
		}
	}
	if strings.Contains(p, `\`) {
		add(strings.ReplaceAll(p, `\`, "/"))
	}
	if strings.Contains(p, ";") {
		for _, s := range paths {
			add(stripParams(s))
		}
	}
	for _, s := range paths {
		if lit, ok := literalDots(s); ok {
			add(lit)
		}
	}
	out := []*http.Request{r}
	for _, s := range paths[1:] {
		u := *r.URL
		u.Path, u.RawPath = s, ""
		c := *r
		c.URL = &u
		out = append(out, &c)
	}
	return out
}

// HasDotSegment reports whether p has a "." or ".." segment, which a
// server behind Caddy may resolve differently from Caddy's matchers.
func HasDotSegment(p string) bool {
	return strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// stripParams removes each segment's `;` parameters.
func stripParams(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

// literalDots renames the dot segments of p so that cleaning keeps them,
// and reports whether there were any.
func literalDots(p string) (string, bool) {
	segs := strings.Split(p, "/")
	found := false
	for i, s := range segs {
		if s == "." || s == ".." {
			segs[i] = strings.Repeat("%2e", len(s))
			found = true
		}
	}
	return strings.Join(segs, "/"), found
}
