package supabase

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
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

// serveToken answers POST /token: grant_type=refresh_token (rotation) and
// grant_type=pkce (the magic link's code and the app's verifier).
func (d *Door) serveToken(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("grant_type") {
	case "refresh_token":
		d.serveRefresh(w, r)
	case "pkce":
		d.serveExchange(w, r)
	default:
		writeError(w, newError(http.StatusBadRequest, "invalid_credentials", "unsupported_grant_type"))
	}
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// serveRefresh rotates the refresh token (verify.Engine.Refresh: the same
// rotation asked again within 10 s gets the same successor; any other
// reuse ends the session).
func (d *Door) serveRefresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if e := readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.RefreshToken == "" {
		writeError(w, validation("refresh_token required"))
		return
	}
	ref, err := d.env.Engine.Refresh(r.Context(), req.RefreshToken, d.env.Caller(r))
	var u verify.User
	if err == nil {
		u, err = d.env.Engine.User(r.Context(), ref.Session.UserID)
	}
	var body sessionBody
	if err == nil {
		body, err = d.session(ref.Session, u, ref.AMR, ref.RefreshToken)
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, body)
	case errors.Is(err, verify.ErrRefreshReused):
		writeError(w, newError(http.StatusBadRequest, "refresh_token_already_used", "Invalid Refresh Token: Already Used"))
	case errors.Is(err, verify.ErrInvalidGrant):
		writeError(w, newError(http.StatusBadRequest, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"))
	case errors.Is(err, verify.ErrUnauthenticated):
		writeError(w, newError(http.StatusBadRequest, "session_not_found", "Invalid Refresh Token: Session Not Found"))
	default:
		writeError(w, d.serverError(err))
	}
}

type exchangeRequest struct {
	AuthCode     string `json:"auth_code"`
	CodeVerifier string `json:"code_verifier"`
}

// flowStateTTL is how long an auth code may wait for its exchange
// (GoTrue's flow state expiry).
const flowStateTTL = 5 * time.Minute

// serveExchange answers POST /token?grant_type=pkce. The code names the
// link; the exchange consumes the link whatever the verifier, so a wrong
// verifier burns the code (GoTrue leaves it usable).
func (d *Door) serveExchange(w http.ResponseWriter, r *http.Request) {
	var req exchangeRequest
	if e := readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.AuthCode == "" || req.CodeVerifier == "" {
		writeError(w, validation("invalid request: both auth code and code verifier should be non-empty"))
		return
	}
	notFound := newError(http.StatusNotFound, "flow_state_not_found", "invalid flow state, no valid flow state found")
	token, issued, ok := d.openCode(req.AuthCode)
	if !ok {
		writeError(w, notFound)
		return
	}
	if d.now().Sub(issued) > flowStateTTL {
		writeError(w, newError(http.StatusUnprocessableEntity, "flow_state_expired", "invalid flow state, flow state has expired"))
		return
	}
	a, err := d.env.Engine.CheckLink(r.Context(), token, d.env.Caller(r))
	switch {
	case errors.Is(err, verify.ErrAttemptNotFound):
		writeError(w, notFound)
		return
	case err != nil:
		writeError(w, d.serverError(err))
		return
	}
	data := decodeAttemptData(a.Data)
	if !data.pkce() {
		writeError(w, notFound)
		return
	}
	if !verifierMatches(data, req.CodeVerifier) {
		writeError(w, newError(http.StatusBadRequest, "bad_code_verifier", "code challenge does not match previously saved code verifier"))
		return
	}
	body, e := d.signIn(r.Context(), r, a, verify.MethodLink)
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// verifierMatches checks a PKCE verifier against the challenge sent with
// /otp: S256 (RFC 7636) or, from pages without WebCrypto, plain.
func verifierMatches(data attemptData, verifier string) bool {
	if !pkceChallenge.MatchString(verifier) {
		return false
	}
	want := verifier
	if data.Method == "s256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(data.Challenge)) == 1
}

// An auth code is the link's token and when the code was issued, sealed
// (AES-256-GCM under a key derived from the secret): it names the link
// without showing it, and nobody can make one. It is usable once, since
// its exchange consumes the link.
const (
	codeAAD    = "passgate supabase auth code v1"
	maxCodeLen = 256
)

func (d *Door) sealCode(token string) (string, error) {
	aead, err := gcm(d.codeKeys[0])
	if err != nil {
		return "", err
	}
	plain := binary.BigEndian.AppendUint64(nil, uint64(d.now().UnixMilli()))
	plain = append(plain, token...)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(codeAAD+d.env.Mount))), nil
}

// openCode returns the link token and issue time of a code sealed under
// any of the keys.
func (d *Door) openCode(code string) (string, time.Time, bool) {
	if len(code) > maxCodeLen {
		return "", time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(code)
	if err != nil {
		return "", time.Time{}, false
	}
	for _, k := range d.codeKeys {
		aead, err := gcm(k)
		if err != nil || len(raw) < aead.NonceSize() {
			return "", time.Time{}, false
		}
		plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(codeAAD+d.env.Mount))
		if err != nil || len(plain) < 8 {
			continue
		}
		issued := time.UnixMilli(int64(binary.BigEndian.Uint64(plain)))
		return string(plain[8:]), issued, true
	}
	return "", time.Time{}, false
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
