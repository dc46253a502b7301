package httpkit

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// maxRedirectLen bounds a redirect target; longer ones are refused.
const maxRedirectLen = 2048

// SafeRedirect returns target if it is a path on this site, and "/"
// otherwise. Browsers read `//host`, `/\host` and paths with tabs or
// newlines in them as other origins, so anything that is not a plain
// absolute path is refused rather than repaired.
func SafeRedirect(target string) string {
	if !plainASCII(target) || target[0] != '/' {
		return "/"
	}
	if len(target) > 1 && (target[1] == '/' || target[1] == '\\') {
		return "/"
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	if !safePath(u.Path) {
		return "/"
	}
	return target
}

// plainASCII: not empty, not too long, and only printable ASCII without
// spaces or backslashes. Browsers strip or rewrite tabs, newlines and
// backslashes, and map Unicode lookalikes (fullwidth or division slashes)
// in ways a server cannot predict, so a target holding any is refused;
// a browser's own navigation sends them percent-encoded anyway.
func plainASCII(s string) bool {
	if s == "" || len(s) > maxRedirectLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// safePath checks a decoded path. One that decodes to //host, a
// backslash, a control character or dot segments is harmless to the
// browser but not always to what sits behind (a proxy or framework that
// decodes before routing): refuse it too.
func safePath(p string) bool {
	if strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// RedirectPolicy accepts, besides same-site paths, absolute URLs on the
// origins the operator allowed (`redirect_origins`).
type RedirectPolicy struct {
	exact  map[string]bool // "https://app.example.com"
	suffix []originSuffix  // from "https://*.example.com"
}

type originSuffix struct {
	scheme string
	suffix string // ".example.com" or ".example.com:8443"
}

// NewRedirectPolicy parses allowed origins: scheme://host[:port], where
// host may start with "*." to allow every subdomain (not the domain
// itself). Nothing else (no path, no user, no other wildcard) is accepted.
func NewRedirectPolicy(origins []string) (RedirectPolicy, error) {
	rp := RedirectPolicy{exact: map[string]bool{}}
	for _, o := range origins {
		scheme, hostport, err := ParseOrigin(o)
		if err != nil {
			return rp, fmt.Errorf("redirect_origins: %v", err)
		}
		if rest, ok := strings.CutPrefix(hostport, "*."); ok {
			if strings.Contains(rest, "*") || !strings.Contains(strings.Split(rest, ":")[0], ".") {
				return rp, fmt.Errorf("redirect origin %q: a wildcard must be *.<domain with a dot>", o)
			}
			rp.suffix = append(rp.suffix, originSuffix{scheme: scheme, suffix: "." + rest})
			continue
		}
		if strings.Contains(hostport, "*") {
			return rp, fmt.Errorf("redirect origin %q: a wildcard is only allowed as *.<domain>", o)
		}
		rp.exact[scheme+"://"+hostport] = true
	}
	return rp, nil
}

// ParseOrigin splits scheme://host[:port] into the lower-case scheme and
// host with the default port dropped.
func ParseOrigin(o string) (scheme, hostport string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("origin %q: %s (want https://host[:port])", o, why)
	}
	scheme, rest, ok := strings.Cut(o, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "https" && scheme != "http") {
		return bad("scheme must be http or https")
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@\\%") || !plainASCII(rest) {
		return bad("an origin has no path, query, user or escapes")
	}
	return scheme, CanonicalHostPort(scheme, strings.ToLower(rest)), nil
}

func CanonicalHostPort(scheme, hostport string) string {
	switch {
	case scheme == "https" && strings.HasSuffix(hostport, ":443"):
		return strings.TrimSuffix(hostport, ":443")
	case scheme == "http" && strings.HasSuffix(hostport, ":80"):
		return strings.TrimSuffix(hostport, ":80")
	}
	return hostport
}

// safe returns target if it is a same-site path or a URL on an allowed
// origin, and "/" otherwise.
func (rp RedirectPolicy) Safe(target string) string {
	if strings.HasPrefix(target, "/") || len(rp.exact)+len(rp.suffix) == 0 {
		return SafeRedirect(target)
	}
	if !plainASCII(target) {
		return "/"
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" {
		return "/"
	}
	// The text must read scheme://host literally: what the browser parses
	// is then the host checked here, with no room for parser differences.
	if !strings.HasPrefix(strings.ToLower(target), u.Scheme+"://"+strings.ToLower(u.Host)) {
		return "/"
	}
	if !validHostPort(u.Host) || (u.Path != "" && !safePath(u.Path)) {
		return "/"
	}
	if rp.allows(u.Scheme, CanonicalHostPort(u.Scheme, strings.ToLower(u.Host))) {
		return target
	}
	return "/"
}

func (rp RedirectPolicy) allows(scheme, hostport string) bool {
	if rp.exact[scheme+"://"+hostport] {
		return true
	}
	for _, s := range rp.suffix {
		if s.scheme != scheme {
			continue
		}
		if label, ok := strings.CutSuffix(hostport, s.suffix); ok && label != "" &&
			!strings.HasPrefix(label, ".") && !strings.HasSuffix(label, ".") && !strings.Contains(label, ":") {
			return true
		}
	}
	return false
}

// validHostPort accepts a DNS name or IPv4 address with an optional port:
// letters, digits, dots, hyphens and one colon. IPv6 literals and
// percent-encoded hosts are refused.
func validHostPort(hp string) bool {
	host, port, hasPort := strings.Cut(hp, ":")
	if host == "" || hasPort && (port == "" || strings.Trim(port, "0123456789") != "") {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c == '.' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return !strings.HasPrefix(host, ".") && !strings.Contains(host, "..")
}

// FormActionSources lists the allowed origins as CSP source expressions,
// so a form whose answer redirects to one of them is not blocked by the
// page's form-action directive.
func (rp RedirectPolicy) FormActionSources() string {
	var srcs []string
	for o := range rp.exact {
		srcs = append(srcs, o)
	}
	for _, s := range rp.suffix {
		srcs = append(srcs, s.scheme+"://*"+s.suffix)
	}
	slices.Sort(srcs) // a stable header
	var b strings.Builder
	for _, s := range srcs {
		b.WriteString(" " + s)
	}
	return b.String()
}
