package caddymodule

import (
	"net/url"
	"strings"
	"unicode"
)

// safeRedirect returns target if it is a path on this site, and "/"
// otherwise. Browsers read `//host`, `/\host` and paths with tabs or
// newlines in them as other origins, so anything that is not a plain
// absolute path is refused rather than repaired.
func safeRedirect(target string) string {
	if target == "" || len(target) > 2048 || target[0] != '/' {
		return "/"
	}
	if len(target) > 1 && (target[1] == '/' || target[1] == '\\') {
		return "/"
	}
	if strings.ContainsFunc(target, func(r rune) bool {
		return r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r)
	}) {
		return "/"
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	// A path that decodes to //host, or that dot segments could turn into
	// one, is harmless to the browser but not always to what sits behind:
	// refuse it too.
	if strings.HasPrefix(u.Path, "//") || strings.ContainsRune(u.Path, '\\') {
		return "/"
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "/"
		}
	}
	return target
}
