package httpkit

import (
	"fmt"
	"net/http"
	"strings"
)

// CORS is the cross-origin policy the operator set (`cors <origin>...`):
// the exact origins browser apps may call the APIs from. Any other origin
// gets no CORS headers.
type CORS struct {
	origins map[string]bool // scheme://host[:port], default port dropped
}

// NewCORS checks and keeps the allowed origins.
func NewCORS(origins []string) (CORS, error) {
	c := CORS{origins: map[string]bool{}}
	for _, o := range origins {
		scheme, hostport, err := ParseOrigin(o)
		if err != nil {
			return CORS{}, err
		}
		if strings.Contains(hostport, "*") {
			return CORS{}, fmt.Errorf("cors origin %q: no wildcard: list each origin", o)
		}
		c.origins[scheme+"://"+hostport] = true
	}
	return c, nil
}

// Enabled reports whether any origin is allowed: a door whose cookie must
// then reach a frontend on another site makes it SameSite=None.
func (c CORS) Enabled() bool { return len(c.origins) > 0 }

// Allows reports whether origin (an Origin header's value) may call.
func (c CORS) Allows(origin string) bool {
	if len(c.origins) == 0 || origin == "" {
		return false
	}
	scheme, hostport, err := ParseOrigin(origin)
	return err == nil && !strings.HasSuffix(origin, "/") && c.origins[scheme+"://"+hostport]
}

// CORSRules are what a door's clients send and read across origins.
type CORSRules struct {
	Methods []string
	// AllowHeaders are the request headers its clients send (lower case).
	AllowHeaders []string
	// ExposeHeaders are the answer headers its clients must read.
	ExposeHeaders []string
	// Credentials: the door uses cookies, so a browser must send them.
	Credentials bool
}

// Apply sets the CORS headers of an answer to an allowed origin, and
// answers a preflight (OPTIONS with Access-Control-Request-Method) itself,
// saying so: then the door has nothing more to do. A preflight from any
// other origin is answered 204 without CORS headers, which the browser
// reads as a refusal.
func (c CORS) Apply(w http.ResponseWriter, r *http.Request, rules CORSRules) (answered bool) {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	h := w.Header()
	h.Add("Vary", "Origin")
	if c.Allows(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		if rules.Credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if len(rules.ExposeHeaders) > 0 && !preflight {
			h.Set("Access-Control-Expose-Headers", strings.Join(rules.ExposeHeaders, ", "))
		}
		if preflight {
			h.Set("Access-Control-Allow-Methods", strings.Join(rules.Methods, ", "))
			h.Set("Access-Control-Allow-Headers", strings.Join(rules.AllowHeaders, ", "))
			h.Set("Access-Control-Max-Age", "600")
		}
	}
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
		w.WriteHeader(http.StatusNoContent)
	}
	return preflight
}
