package supabase

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/passgate/caddy-passgate/verify"
)

// verifyRequest is the body of POST /verify (verifyOtp). Unknown fields
// (options, gotrue_meta_security) are ignored.
type verifyRequest struct {
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	Token     string `json:"token"`
	TokenHash string `json:"token_hash"`
	Type      string `json:"type"`
}

// emailTypes are the verification types of an email sign-in code or link;
// "sms" is the phone's. GoTrue's others (recovery, invite, email_change,
// phone_change) belong to passwords and address changes.
var emailTypes = map[string]bool{"email": true, "magiclink": true, "signup": true}

// serveVerify answers POST /verify: a code with the address it was sent
// to, or a link's token as token_hash. Right: the session; anything else
// that could be a guess: 403 otp_expired, whatever the reason.
func (d *Door) serveVerify(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	if e := readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	attempt, method, e := d.check(r, req)
	if e != nil {
		writeError(w, e)
		return
	}
	body, e := d.signIn(r.Context(), r, attempt, method)
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// check consumes the attempt req proves, by code or by link token.
func (d *Door) check(r *http.Request, req verifyRequest) (verify.Attempt, string, *apiError) {
	switch {
	case req.Type == "":
		return verify.Attempt{}, "", validation("Verify requires a verification type")
	case req.Token != "" && req.TokenHash != "", req.Token == "" && req.TokenHash == "":
		return verify.Attempt{}, "", validation("Verify requires either a token or a token hash")
	case req.Type != "sms" && !emailTypes[req.Type]:
		return verify.Attempt{}, "", validation("Unsupported verification type: passgate signs in with email and sms codes only")
	}
	if req.TokenHash != "" {
		if !emailTypes[req.Type] || req.Email != "" || req.Phone != "" {
			return verify.Attempt{}, "", validation("Only the token hash and an email type should be provided")
		}
		a, err := d.env.Engine.CheckLink(r.Context(), strings.TrimPrefix(req.TokenHash, pkcePrefix), d.env.Caller(r))
		if errors.Is(err, verify.ErrAttemptNotFound) {
			return verify.Attempt{}, "", newError(http.StatusForbidden, "otp_expired", msgLinkExpired)
		}
		if err != nil {
			return verify.Attempt{}, "", d.engineError(err, verify.ChannelEmail, true)
		}
		return a, verify.MethodLink, nil
	}
	cr := verify.CheckRequest{Code: req.Token, Caller: d.env.Caller(r)}
	switch {
	case req.Email != "" && req.Phone != "":
		return verify.Attempt{}, "", validation("Only an email address or phone number should be provided on verify")
	case req.Type == "sms" && req.Phone != "":
		cr.Channel, cr.Identifier = verify.ChannelPhone, phoneInput(req.Phone)
	case req.Type != "sms" && req.Email != "":
		cr.Channel, cr.Identifier = verify.ChannelEmail, req.Email
	case req.Type == "sms":
		return verify.Attempt{}, "", validation("Verify of an sms code requires the phone number")
	default:
		return verify.Attempt{}, "", validation("Verify of an email code requires the email address")
	}
	a, err := d.env.Engine.CheckCode(r.Context(), cr)
	if errors.Is(err, verify.ErrInvalidInput) {
		// A code of the wrong length is a wrong code to GoTrue.
		err = verify.ErrAttemptNotFound
	}
	if err != nil {
		return verify.Attempt{}, "", d.engineError(err, cr.Channel, true)
	}
	return a, verify.MethodCode, nil
}

// signIn turns a consumed attempt into a session with a refresh token;
// a new user gets the metadata given at /otp.
func (d *Door) signIn(ctx context.Context, r *http.Request, a verify.Attempt, method string) (sessionBody, *apiError) {
	in, err := d.env.Engine.SignIn(ctx, verify.SignInRequest{
		Attempt: a, Method: method, Refresh: true,
		UserMetadata: decodeAttemptData(a.Data).Metadata, Caller: d.env.Caller(r),
	})
	if err != nil {
		return sessionBody{}, d.serverError(err)
	}
	body, err := d.session(in.Session, in.User, in.AMR, in.RefreshToken)
	if err != nil {
		return sessionBody{}, d.serverError(err)
	}
	return body, nil
}
