package supabase

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// maxMetadata bounds the sign-up metadata (`data`) kept with a user.
const maxMetadata = 4 << 10

// otpRequest is the body of POST /otp (signInWithOtp) and, with Type, of
// POST /resend. Unknown fields (gotrue_meta_security) are ignored.
type otpRequest struct {
	Email               string          `json:"email"`
	Phone               string          `json:"phone"`
	Type                string          `json:"type"`
	Data                json.RawMessage `json:"data"`
	CreateUser          *bool           `json:"create_user"`
	Channel             string          `json:"channel"`
	CodeChallenge       string          `json:"code_challenge"`
	CodeChallengeMethod string          `json:"code_challenge_method"`
}

// readJSON reads a JSON body into dst; a form is no JSON to GoTrue.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) *apiError {
	isForm, err := httpkit.ReadBody(w, r, dst)
	switch {
	case err != nil:
		return bodyError(err)
	case isForm:
		return newError(http.StatusBadRequest, "bad_json", "Could not parse request body as JSON: send application/json")
	}
	return nil
}

// serveOTP answers POST /otp: it sends a code (and, by email, a link).
// Whether the address may sign in, or has an account when create_user is
// false, the answer is the same: {} (GoTrue tells with 422 otp_disabled).
func (d *Door) serveOTP(w http.ResponseWriter, r *http.Request) {
	var req otpRequest
	if e := readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := d.start(r, req, req.CreateUser == nil || *req.CreateUser); e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// serveResend answers POST /resend: a new code for a sign-up (by email) or
// an SMS sign-in. GoTrue's other types change an address, which passgate
// does not do. Unknown addresses get {} as others do.
func (d *Door) serveResend(w http.ResponseWriter, r *http.Request) {
	var req otpRequest
	if e := readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	switch {
	case req.Email != "" && req.Type != "signup":
		writeError(w, validation("Unsupported resend type: only signup is supported for an email address"))
		return
	case req.Phone != "" && req.Type != "sms":
		writeError(w, validation("Unsupported resend type: only sms is supported for a phone number"))
		return
	}
	req.Data = nil // not part of a resend
	if e := d.start(r, req, true); e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// pkceChallenge is RFC 7636's code challenge: 43 to 128 unreserved
// characters (an S256 challenge is 43).
var pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

func (d *Door) start(r *http.Request, req otpRequest, createUser bool) *apiError {
	sr := verify.StartRequest{CreateUser: createUser, Caller: d.env.Caller(r)}
	switch {
	case req.Email != "" && req.Phone != "":
		return validation("Only an email address or phone number should be provided")
	case req.Email != "":
		sr.Channel, sr.Identifier = verify.ChannelEmail, req.Email
	case req.Phone != "":
		if req.Channel != "" && req.Channel != "sms" {
			return validation("Unsupported channel: only sms is supported")
		}
		sr.Channel, sr.Identifier = verify.ChannelPhone, phoneInput(req.Phone)
	default:
		return validation("You must provide either an email or phone number")
	}
	var data attemptData
	if req.CodeChallenge != "" || req.CodeChallengeMethod != "" {
		method := strings.ToLower(req.CodeChallengeMethod)
		switch {
		case req.CodeChallenge == "" || req.CodeChallengeMethod == "":
			return validation("PKCE flow requires code_challenge_method and code_challenge")
		case method != "s256" && method != "plain":
			return validation("code_challenge_method must be s256 or plain")
		case !pkceChallenge.MatchString(req.CodeChallenge):
			return validation("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 . _ ~ -")
		}
		data.Challenge, data.Method = req.CodeChallenge, method
	}
	md, e := metadata(req.Data)
	if e != nil {
		return e
	}
	data.Metadata = md
	sr.Data = data.encode()
	redirectTo := d.env.Redirects.Safe(r.URL.Query().Get("redirect_to"))
	sr.RedirectTo = redirectTo
	if base := d.env.LinkBase(r, "/verify"); base != "" && sr.Channel == verify.ChannelEmail {
		prefix := ""
		if data.pkce() {
			prefix = pkcePrefix
		}
		tail := "&type=magiclink&redirect_to=" + url.QueryEscape(redirectTo)
		sr.Link = func(token string) string { return base + "?token=" + prefix + token + tail }
	}
	if _, err := d.env.Engine.Start(r.Context(), sr); err != nil {
		return d.engineError(err, sr.Channel, false)
	}
	return nil
}

// pkcePrefix marks the link of a PKCE sign-in, as GoTrue's does, so that
// an error on it is redirected in both of PKCE's places.
const pkcePrefix = "pkce_"

// phoneInput takes a number as GoTrue does: with or without its "+".
func phoneInput(p string) string {
	p = strings.TrimSpace(p)
	if p != "" && p[0] >= '0' && p[0] <= '9' {
		return "+" + p
	}
	return p
}

// metadata checks the sign-up data: a JSON object (null and {} are none),
// compacted, at most maxMetadata bytes.
func metadata(raw json.RawMessage) (json.RawMessage, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, validation("data must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, validation("data must be a JSON object")
	}
	if buf.String() == "{}" {
		return nil, nil
	}
	if buf.Len() > maxMetadata {
		return nil, validation("data is too large (at most 4 KiB)")
	}
	return buf.Bytes(), nil
}
