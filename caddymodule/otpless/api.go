package otpless

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// initiateBody is the body of initiate/otp and initiate/magiclink.
// metadata is accepted and not kept: nothing reports it back.
type initiateBody struct {
	PhoneNumber *string         `json:"phoneNumber"`
	Email       *string         `json:"email"`
	Channels    []string        `json:"channels"`
	Expiry      *int            `json:"expiry"`
	OTPLength   *int            `json:"otpLength"`
	RedirectURI *string         `json:"redirectURI"`
	Metadata    json.RawMessage `json:"metadata"`
}

// Channels OTPless names for a phone and for an address; passgate sends
// to a phone by SMS only.
var (
	phoneChannels = []string{"WHATSAPP", "SMS", "VOICE_CALL", "VIBER"}
	emailChannels = []string{"EMAIL"}
)

// readJSON reads a JSON body (no form: OTPless's API takes JSON only).
func readJSON(w http.ResponseWriter, r *http.Request, dst any) *apiError {
	if be := httpkit.ReadJSON(w, r, dst); be != nil {
		return bodyError(be)
	}
	return nil
}

// start is a parsed initiate request: what to send where.
type start struct {
	channel, identifier string
	ttl                 time.Duration
}

// parseInitiate checks an initiate body: one of phoneNumber and email,
// channels passgate can send over, an expiry in seconds, and no code
// length but the engine's.
func (d *Door) parseInitiate(b initiateBody) (start, *apiError) {
	var s start
	switch {
	case b.PhoneNumber != nil && b.Email != nil:
		return s, badParam(codeBadParams, "Give phoneNumber or email, not both")
	case b.PhoneNumber != nil:
		s.channel, s.identifier = verify.ChannelPhone, *b.PhoneNumber
		for _, c := range b.Channels {
			if !slices.Contains(phoneChannels, c) {
				return s, badParam(codeBadPhoneChan, "Invalid channel %q for phoneNumber (want %s)", c, strings.Join(phoneChannels, ", "))
			}
		}
		if len(b.Channels) > 0 && !slices.Contains(b.Channels, "SMS") {
			return s, &apiError{Status: http.StatusBadRequest, ErrorCode: codeChannelOff, Description: descChannelOff,
				Message: "passgate sends codes to phones by SMS only: include SMS in channels"}
		}
	case b.Email != nil:
		s.channel, s.identifier = verify.ChannelEmail, *b.Email
		for _, c := range b.Channels {
			if !slices.Contains(emailChannels, c) {
				return s, badParam(codeBadEmailChan, "Invalid channel %q for email (want EMAIL)", c)
			}
		}
	default:
		return s, badParam(codeNoIdentity, "phoneNumber or email is required")
	}
	if s.identifier == "" {
		return s, badParam(codeNoIdentity, "phoneNumber or email is required")
	}
	if b.Expiry != nil {
		if *b.Expiry <= 0 {
			return s, badParam(codeBadExpiry, "Invalid expiry %d: a number of seconds above 0", *b.Expiry)
		}
		// The configured code ttl bounds it: a code lives as long as
		// asked, or that, whichever is shorter.
		s.ttl = d.env.Engine.CodeTTL()
		if *b.Expiry < int(s.ttl/time.Second) {
			s.ttl = time.Duration(*b.Expiry) * time.Second
		}
	}
	if n := d.env.Engine.CodeLength(); b.OTPLength != nil && *b.OTPLength != n {
		return s, badParam(codeOTPLength, "otpLength %d is not supported: passgate keeps %d-digit codes (its security floor); "+
			"send otpLength %d or leave it out", *b.OTPLength, n, n)
	}
	return s, nil
}

// serveInitiateOTP answers POST /auth/v1/initiate/otp: send a code.
func (d *Door) serveInitiateOTP(w http.ResponseWriter, r *http.Request, client string) {
	var b initiateBody
	if e := readJSON(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.RedirectURI != nil {
		writeError(w, badParams("redirectURI belongs to initiate/magiclink"))
		return
	}
	s, e := d.parseInitiate(b)
	if e != nil {
		writeError(w, e)
		return
	}
	st, err := d.env.Engine.Start(r.Context(), verify.StartRequest{Channel: s.channel, Identifier: s.identifier,
		CreateUser: true, TTL: s.ttl, Caller: d.env.BackendCaller(r, client)})
	if err != nil {
		writeError(w, d.engineError(err, s.channel))
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]string{"requestId": d.requestID(st.AttemptID, client, kindOTP)})
}

type verifyOTPBody struct {
	RequestID string `json:"requestId"`
	OTP       string `json:"otp"`
}

// serveVerifyOTP answers POST /auth/v1/verify/otp: check a code, once.
func (d *Door) serveVerifyOTP(w http.ResponseWriter, r *http.Request, client string) {
	var b verifyOTPBody
	if e := readJSON(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.RequestID == "" || b.OTP == "" {
		writeError(w, badParams("requestId and otp are required"))
		return
	}
	notVerified := false
	attemptID, ok := d.openRequestID(b.RequestID, client, kindOTP)
	if !ok {
		writeError(w, &apiError{Status: http.StatusBadRequest, ErrorCode: codeIncorrect, Description: descIncorrect,
			Message: msgRequestNotFound, RequestID: b.RequestID, Verified: &notVerified})
		return
	}
	_, err := d.env.Engine.CheckCode(r.Context(), verify.CheckRequest{AttemptID: attemptID, Code: b.OTP, Caller: d.env.BackendCaller(r, client)})
	if err != nil {
		e := d.engineError(err, "")
		if e.Status == http.StatusBadRequest {
			e.RequestID, e.Verified = b.RequestID, &notVerified
		}
		writeError(w, e)
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]any{"requestId": b.RequestID, "isOTPVerified": true, "message": "OTP verified successfully"})
}

// linkState is the magic link's attempt data: that it is this door's
// link, who asked, and where the browser goes.
type linkState struct {
	Kind        string `json:"k"`
	Client      string `json:"c"`
	RedirectURI string `json:"r"`
}

// serveInitiateLink answers POST /auth/v1/initiate/magiclink: send a link
// to passgate's landing page, which sends the browser to redirectURI with
// ?code=.
func (d *Door) serveInitiateLink(w http.ResponseWriter, r *http.Request, client string) {
	var b initiateBody
	if e := readJSON(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.RedirectURI == nil || *b.RedirectURI == "" {
		writeError(w, badParams("redirectURI is required"))
		return
	}
	if !d.allowedRedirect(*b.RedirectURI) {
		writeError(w, badParams("redirectURI must be an absolute http(s) URL on an origin of this server's redirect_origins"))
		return
	}
	s, e := d.parseInitiate(b)
	if e != nil {
		writeError(w, e)
		return
	}
	base := d.env.LinkBase(r, "/"+routeLink)
	if base == "" {
		writeError(w, badParams("The link's origin is unknown: send a Host header, or set link_origin"))
		return
	}
	data, _ := json.Marshal(linkState{Kind: kindLink, Client: client, RedirectURI: *b.RedirectURI})
	st, err := d.env.Engine.Start(r.Context(), verify.StartRequest{Channel: s.channel, Identifier: s.identifier,
		CreateUser: true, TTL: s.ttl, Data: data, Caller: d.env.BackendCaller(r, client),
		Link: func(token string) string { return base + "?token=" + url.QueryEscape(token) }})
	if err != nil {
		writeError(w, d.engineError(err, s.channel))
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]string{"requestId": d.requestID(st.AttemptID, client, kindLink)})
}

// allowedRedirect: an absolute http(s) URL on an allowed origin (not a
// path: the app, not this site, receives the code).
func (d *Door) allowedRedirect(u string) bool {
	lower := strings.ToLower(u)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") {
		return false
	}
	return d.env.Redirects.Safe(u) == u
}

type verifyCodeBody struct {
	Code string `json:"code"`
}

// serveVerifyCode answers POST /auth/v1/verify/code: the ?code= the
// browser brought, exchanged once, by the client that sent the link, for
// what the landing page recorded.
func (d *Door) serveVerifyCode(w http.ResponseWriter, r *http.Request, client string) {
	var b verifyCodeBody
	if e := readJSON(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.Code == "" {
		writeError(w, badParams("code is required"))
		return
	}
	var got handoff
	raw, err := d.env.Engine.RedeemHandoff(r.Context(), b.Code, d.env.BackendCaller(r, client), func(data []byte) bool {
		return json.Unmarshal(data, &got) == nil && got.Client == client
	})
	if err != nil {
		e := d.engineError(err, "")
		if e.Status == http.StatusBadRequest {
			e.Message = "Invalid code: it is unknown, expired, already used or another client's"
		}
		writeError(w, e)
		return
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		writeError(w, d.engineError(err, ""))
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, got.answer())
}

// handoff is what the landing page records for verify/code.
type handoff struct {
	Client    string     `json:"c"`
	RequestID string     `json:"q"`
	Channel   string     `json:"ch"`
	Value     string     `json:"v"`
	At        int64      `json:"t"` // epoch ms
	IP        string     `json:"ip,omitempty"`
	Device    deviceInfo `json:"d"`
}

// deviceInfo is what the browser that completed the link told: its
// User-Agent header, and what the landing page's script read. Fields it
// did not give are left out.
type deviceInfo struct {
	UserAgent        string   `json:"userAgent,omitempty"`
	Platform         string   `json:"platform,omitempty"`
	Language         string   `json:"language,omitempty"`
	ScreenWidth      int      `json:"screenWidth,omitempty"`
	ScreenHeight     int      `json:"screenHeight,omitempty"`
	DevicePixelRatio *float64 `json:"devicePixelRatio,omitempty"`
}

// answer is verify/code's body, in OTPless's shape.
func (h handoff) answer() map[string]any {
	identityType, method := "EMAIL", "EMAIL"
	value := h.Value
	if h.Channel == verify.ChannelPhone {
		// OTPless writes a number as its digits, without the +.
		identityType, method, value = "MOBILE", "SMS", strings.TrimPrefix(value, "+")
	}
	details := map[string]any{
		"status":      "SUCCESS",
		"completedAt": h.At,
		"identities": []map[string]any{{
			"identityType":      identityType,
			"identityValue":     value,
			"channel":           "MAGIC_LINK",
			"methods":           []string{method},
			"verified":          true,
			"verifiedTimestamp": h.At,
		}},
		"deviceInfo": h.Device,
	}
	if h.IP != "" {
		details["network"] = map[string]string{"ip": h.IP}
	}
	return map[string]any{"requestId": h.RequestID, "message": "Code verified successfully", "userDetails": details}
}
