// Package otpless is the OTPless front door (`compat otpless`): the
// server-to-server REST routes an app's backend calls to send a code to a
// phone or an address and verify it, or to send a magic link that brings
// the browser back to the app with ?code=, which the backend exchanges for
// what was verified. Every call carries a backend client's clientId and
// clientSecret headers. docs/otpless.md says what differs from OTPless.
package otpless

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// DefaultMount is where the door answers unless told otherwise.
const DefaultMount = "/otpless"

// codeTTL bounds the life of the ?code= a magic link hands the browser:
// the app's backend exchanges it as the browser lands.
const codeTTL = 2 * time.Minute

// Door serves OTPless's routes under its mount.
type Door struct {
	env *httpkit.Env
	// idKeys bind a requestId to the client that asked and to its kind:
	// the first signs, all verify.
	idKeys [][]byte
	page   *template.Template
	// formAction lets the landing page's form redirect to the allowed
	// origins (CSP form-action applies to a form's redirects).
	formAction string
}

// New makes the door.
func New(env *httpkit.Env) (*Door, error) {
	d := &Door{env: env, idKeys: env.Keys("otpless request id"), formAction: env.Redirects.FormActionSources()}
	var err error
	if d.page, err = template.ParseFS(templateFS, "templates/link.html"); err != nil {
		return nil, err
	}
	if env.Backends.Len() == 0 {
		env.Logger.Warn("compat otpless: no backend client is configured ('client <id> { secret {env.X} }'), so every call is refused")
	}
	return d, nil
}

// The routes, below the mount.
const (
	routeInitiateOTP  = "auth/v1/initiate/otp"
	routeVerifyOTP    = "auth/v1/verify/otp"
	routeInitiateLink = "auth/v1/initiate/magiclink"
	routeVerifyCode   = "auth/v1/verify/code"
	routeLink         = "link"
)

// ServeHTTP answers the door's routes; anything else under the mount is
// a 404 in OTPless's shape.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, _ := d.env.Route(r)
	if path == routeLink {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			d.serveLinkPage(w, r)
		case http.MethodPost:
			d.serveLinkContinue(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			writeError(w, errMethod)
		}
		return
	}
	var serve func(http.ResponseWriter, *http.Request, string)
	switch path {
	case routeInitiateOTP:
		serve = d.serveInitiateOTP
	case routeVerifyOTP:
		serve = d.serveVerifyOTP
	case routeInitiateLink:
		serve = d.serveInitiateLink
	case routeVerifyCode:
		serve = d.serveVerifyCode
	default:
		writeError(w, errNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, errMethod)
		return
	}
	client, e := d.client(r)
	if e != nil {
		writeError(w, e)
		return
	}
	serve(w, r, client)
}

// client is the backend client the request's clientId and clientSecret
// headers (any case) prove, or the error to answer.
func (d *Door) client(r *http.Request) (string, *apiError) {
	ids, secrets := r.Header.Values("clientId"), r.Header.Values("clientSecret")
	if len(ids) != 1 || len(secrets) != 1 || ids[0] == "" || secrets[0] == "" {
		return "", errNoClient
	}
	if !d.env.Backends.Check(ids[0], secrets[0]) {
		return "", errBadClient
	}
	return ids[0], nil
}

// Request ids: the engine's attempt id, a dot, and a MAC that binds it to
// the client that asked and to its kind (an OTP, or a magic link), so
// that no other client, and no other route, can use it.
const (
	kindOTP  = "otp"
	kindLink = "magiclink"
	macLen   = 16
)

func (d *Door) requestID(attemptID, client, kind string) string {
	return attemptID + "." + base64.RawURLEncoding.EncodeToString(requestMAC(d.idKeys[0], attemptID, client, kind))
}

// openRequestID returns the attempt id of a requestId made for client and
// kind, or false.
func (d *Door) openRequestID(id, client, kind string) (string, bool) {
	attemptID, tag, ok := strings.Cut(id, ".")
	if !ok || len(id) > 128 {
		return "", false
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(tag)
	if err != nil || len(mac) != macLen {
		return "", false
	}
	match := false
	for _, k := range d.idKeys {
		// No early exit: the time taken does not say which key matched.
		if hmac.Equal(requestMAC(k, attemptID, client, kind), mac) {
			match = true
		}
	}
	return attemptID, match
}

func requestMAC(key []byte, attemptID, client, kind string) []byte {
	m := hmac.New(sha256.New, key)
	for _, f := range [...]string{"passgate otpless request v1", kind, client, attemptID} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return m.Sum(nil)[:macLen]
}
