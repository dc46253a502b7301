package nhost

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// ticketPrefix starts Nhost's magic-link tickets; the token after it is
// passgate's (256 bits, where Nhost's is a UUID).
const ticketPrefix = "passwordlessEmail:"

// codeTTL bounds the life of a PKCE code from the link's redirect; the
// link's own expiry bounds it too, since exchanging it uses the link up.
const codeTTL = 5 * time.Minute

// serveLinkPage answers GET /verify, the emailed link. It only looks: mail
// scanners and link previews fetch links before people do, so a GET never
// signs in or uses anything up. A live link shows the continue page, whose
// POST signs in; a dead one redirects as Nhost does, with the error.
func (d *Door) serveLinkPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ticket := q.Get("ticket")
	challenge := q.Get("codeChallenge")
	token, _ := strings.CutPrefix(ticket, ticketPrefix)
	a, err := d.env.Engine.PeekLink(r.Context(), token)
	if err == nil && challenge != "" && !validChallenge(challenge) {
		err = verify.ErrAttemptNotFound
	}
	if err != nil {
		d.linkFailed(w, r, err, q.Get("redirectTo"))
		return
	}
	fields := []httpkit.Field{{Name: "ticket", Value: ticket}, {Name: "redirectTo", Value: q.Get("redirectTo")}}
	if challenge != "" {
		fields = append(fields, httpkit.Field{Name: "codeChallenge", Value: challenge})
	}
	d.render(w, http.StatusOK, httpkit.LinkPage{Email: a.Identifier, Fields: fields, Auto: httpkit.UserOpened(r.Header)})
}

// serveLinkContinue answers the continue page's POST: it signs in with the
// link and redirects to the redirectTo the sign-in was started with, with
// ?refreshToken=…&type=passwordlessEmail, or, for a link started with a
// PKCE challenge, with ?code=… for POST /token/exchange.
func (d *Door) serveLinkContinue(w http.ResponseWriter, r *http.Request) {
	if !d.env.SameOrigin(r) {
		d.render(w, http.StatusForbidden, httpkit.LinkPage{Error: "This sign-in was sent from another site, and refused."})
		return
	}
	isForm, berr := httpkit.ReadBody(w, r, &struct{}{})
	if berr == nil && !isForm {
		berr = &httpkit.BodyError{Status: http.StatusUnsupportedMediaType, Message: "send the continue page's form"}
	}
	if berr != nil {
		d.render(w, berr.Status, httpkit.LinkPage{Error: berr.Message})
		return
	}
	ticket, challenge, fallback := r.PostForm.Get("ticket"), r.PostForm.Get("codeChallenge"), r.PostForm.Get("redirectTo")
	token, _ := strings.CutPrefix(ticket, ticketPrefix)
	ctx := r.Context()
	a, err := d.env.Engine.PeekLink(ctx, token)
	if err == nil && challenge != "" && !validChallenge(challenge) {
		err = verify.ErrAttemptNotFound
	}
	if err != nil {
		d.linkFailed(w, r, err, fallback)
		return
	}
	target, ok := d.redirectTarget(r, a.RedirectTo)
	if !ok { // allowed when the sign-in started, no longer
		d.redirect(w, "/", "error", errRedirectToNotAllowed, "errorDescription", msgRedirectToNotAllowed)
		return
	}
	if challenge != "" {
		// The link stays unused: exchanging the code, with the verifier
		// only the app that started the sign-in holds, uses it up.
		code, err := d.sealCode(token, challenge, clock.Now().Add(codeTTL))
		if err != nil {
			d.linkFailed(w, r, err, a.RedirectTo)
			return
		}
		d.redirect(w, target, "code", code)
		return
	}
	used, err := d.env.Engine.CheckLink(ctx, token, d.env.Caller(r))
	if err != nil {
		d.linkFailed(w, r, err, a.RedirectTo)
		return
	}
	in, err := d.env.Engine.SignIn(ctx, verify.SignInRequest{Attempt: used, Method: verify.MethodLink, Refresh: true, Caller: d.env.Caller(r)})
	if err != nil {
		d.linkFailed(w, r, err, a.RedirectTo)
		return
	}
	d.redirect(w, target, "refreshToken", in.RefreshToken, "type", "passwordlessEmail")
}

// linkFailed answers a link that cannot sign in: a redirect with Nhost's
// error to target (if allowed; else the site's root), or, when the store
// is out of reach, a page that says to try again, since nothing is lost.
func (d *Door) linkFailed(w http.ResponseWriter, r *http.Request, err error, target string) {
	if errors.Is(err, verify.ErrUnavailable) {
		d.env.Logger.Error("store unavailable", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		d.render(w, http.StatusServiceUnavailable, httpkit.LinkPage{Error: "Signing in is unavailable for a moment. Open the link again shortly."})
		return
	}
	code, msg := errInvalidTicket, msgInvalidTicket
	if !errors.Is(err, verify.ErrAttemptNotFound) {
		e := d.failure(err, "")
		code, msg = e.Code, e.Message
	}
	to, ok := d.redirectTarget(r, target)
	if !ok {
		to = "/"
	}
	d.redirect(w, to, "error", code, "errorDescription", msg)
}

// redirect sends the browser to target with the query parameters kv (name,
// value, ...) added, before any fragment.
func (d *Door) redirect(w http.ResponseWriter, target string, kv ...string) {
	base, frag, hasFrag := strings.Cut(target, "#")
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	if _, query, ok := strings.Cut(base, "?"); ok {
		sep = "&"
		if query == "" || strings.HasSuffix(query, "&") {
			sep = ""
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(sep)
		b.WriteString(queryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(queryEscape(kv[i+1]))
		sep = "&"
	}
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(frag)
	}
	h := w.Header()
	h.Set("Location", b.String())
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusSeeOther)
}

// queryEscape escapes a query value with %20 for a space, which every
// parser reads alike.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// render writes the continue page, whose form may end at this site or a
// redirect origin.
func (d *Door) render(w http.ResponseWriter, status int, p httpkit.LinkPage) {
	p.Action = d.env.Mount + "/verify"
	p.Nonce = rand.Text()
	if err := httpkit.WriteLinkPage(w, status, p, d.formAction); err != nil {
		writeError(w, newError(http.StatusInternalServerError, errInternalServerError, "could not render the page"))
	}
}

type exchangeBody struct {
	Code         string `json:"code"`
	CodeVerifier string `json:"codeVerifier"`
}

// serveTokenExchange turns the code of a PKCE link into a session, once:
// the verifier must match the challenge the sign-in started with, and the
// exchange uses the link up.
func (d *Door) serveTokenExchange(w http.ResponseWriter, r *http.Request) {
	var body exchangeBody
	if e := readJSON(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	invalid := newError(http.StatusBadRequest, errInvalidRequest, "Invalid or expired authorization code, or a verifier that does not match it")
	token, challenge, ok := d.openCode(body.Code, clock.Now())
	if !ok || !validVerifier(body.CodeVerifier) || subtle.ConstantTimeCompare([]byte(s256(body.CodeVerifier)), []byte(challenge)) != 1 {
		writeError(w, invalid)
		return
	}
	a, err := d.env.Engine.CheckLink(r.Context(), token, d.env.Caller(r))
	if errors.Is(err, verify.ErrAttemptNotFound) {
		writeError(w, invalid)
		return
	}
	if err != nil {
		writeError(w, d.failure(err, ""))
		return
	}
	s, e := d.signIn(r, a, verify.MethodLink)
	if e != nil {
		writeError(w, e)
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, sessionPayload{Session: s})
}

// A PKCE code seals the link's token, the challenge and an expiry with
// AES-256-GCM under a key of the door's (derived from the secret), so it
// needs no state of its own: the link it holds is used once, by the
// exchange.
const (
	tokenLen     = 43 // base64url of 256 bits: the engine's link tokens
	challengeLen = 43 // base64url of a SHA-256
	codePlainLen = 8 + tokenLen + challengeLen
	nonceLen     = 12
	gcmTagLen    = 16
)

// codeLen is the length of a code: base64url of nonce, sealed plaintext
// and tag.
var codeLen = base64.RawURLEncoding.EncodedLen(nonceLen + codePlainLen + gcmTagLen)

func (d *Door) codeAAD() []byte { return []byte("passgate nhost pkce code v1 " + d.env.Mount) }

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (d *Door) sealCode(token, challenge string, exp time.Time) (string, error) {
	if len(token) != tokenLen || len(challenge) != challengeLen {
		return "", verify.ErrAttemptNotFound
	}
	aead, err := gcm(d.codeKeys[0])
	if err != nil {
		return "", err
	}
	plain := make([]byte, 8, codePlainLen)
	binary.BigEndian.PutUint64(plain, uint64(exp.Unix()))
	plain = append(append(plain, token...), challenge...)
	nonce := make([]byte, nonceLen, nonceLen+codePlainLen+aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand never fails
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, d.codeAAD())), nil
}

// openCode returns the token and challenge a code seals, if it is one the
// door made (under any of its keys) and has not expired.
func (d *Door) openCode(code string, now time.Time) (token, challenge string, ok bool) {
	if len(code) != codeLen {
		return "", "", false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(code)
	if err != nil || len(raw) < nonceLen {
		return "", "", false
	}
	for _, k := range d.codeKeys {
		aead, err := gcm(k)
		if err != nil {
			continue
		}
		plain, err := aead.Open(nil, raw[:nonceLen], raw[nonceLen:], d.codeAAD())
		if err != nil || len(plain) != codePlainLen {
			continue
		}
		exp := time.Unix(int64(binary.BigEndian.Uint64(plain)), 0)
		if !now.Before(exp) {
			return "", "", false
		}
		return string(plain[8 : 8+tokenLen]), string(plain[8+tokenLen:]), true
	}
	return "", "", false
}

// s256 is PKCE's S256 challenge of a verifier.
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// validChallenge: an S256 challenge, the only method nhost-js makes.
func validChallenge(s string) bool {
	if len(s) != challengeLen {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// validVerifier: RFC 7636's code_verifier, 43 to 128 unreserved characters.
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
