package otpless

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// apiError is an answer in OTPless's error shape: `message` always (the
// only field its Node SDK reads), `errorCode` and `description` where
// OTPless has a code for the case.
type apiError struct {
	Status      int    `json:"-"`
	Message     string `json:"message"`
	ErrorCode   string `json:"errorCode,omitempty"`
	Description string `json:"description,omitempty"`
	// RequestID and Verified are verify/otp's, on its refusals.
	RequestID  string        `json:"requestId,omitempty"`
	Verified   *bool         `json:"isOTPVerified,omitempty"`
	RetryAfter time.Duration `json:"-"`
}

func (e *apiError) Error() string { return e.Message }

// OTPless's error codes, as its front-end SDK reports them.
const (
	codeBadParams      = "7101"
	codeBadPhone       = "7102"
	codeBadPhoneChan   = "7103"
	codeBadEmail       = "7104"
	codeBadEmailChan   = "7105"
	codeNoIdentity     = "7106"
	codeBadExpiry      = "7113"
	codeOTPLength      = "7116"
	codeRateIdentity   = "7022"
	codeRateApp        = "7024"
	codeIncorrect      = "4000"
	codeChannelOff     = "4003"
	codeUnauthorized   = "401"
	descBadParams      = "Request error: Invalid parameters values or Required parameters are missing."
	descIncorrect      = "The request values are incorrect"
	descChannelOff     = "Channel not enabled"
	descRateLimited    = "Too many requests"
	descUnauthorized   = "Invalid clientId or clientSecret"
	msgRequestNotFound = "The request was not found: it is unknown, expired or already verified"
)

func badParams(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), ErrorCode: codeBadParams, Description: descBadParams}
}

func badParam(code, format string, args ...any) *apiError {
	e := badParams(format, args...)
	e.ErrorCode = code
	return e
}

var (
	errNoClient = &apiError{Status: http.StatusUnauthorized, Message: "The clientId and clientSecret headers are required",
		ErrorCode: codeUnauthorized, Description: descUnauthorized}
	errBadClient = &apiError{Status: http.StatusUnauthorized, Message: "Invalid clientId or clientSecret",
		ErrorCode: codeUnauthorized, Description: descUnauthorized}
	errNotFound = &apiError{Status: http.StatusNotFound, Message: "Not found"}
	errMethod   = &apiError{Status: http.StatusMethodNotAllowed, Message: "Method not allowed"}
)

// writeError answers e.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	httpkit.WriteJSON(w, e.Status, e)
}

// bodyError is a body httpkit could not read, in OTPless's shape.
func bodyError(be *httpkit.BodyError) *apiError {
	return &apiError{Status: be.Status, Message: be.Message, ErrorCode: codeBadParams, Description: descBadParams}
}

// engineError maps the engine's errors to OTPless's statuses and codes,
// for a request on channel ("" if unknown). A client error is never a
// 5xx; the store out of reach is a 503.
func (d *Door) engineError(err error, channel string) *apiError {
	var wrong *verify.WrongCodeError
	var limited *verify.RateLimitedError
	switch {
	case errors.As(err, &wrong):
		return &apiError{Status: http.StatusBadRequest, ErrorCode: codeIncorrect, Description: descIncorrect,
			Message: fmt.Sprintf("Incorrect OTP; %d attempts left", wrong.AttemptsLeft)}
	case errors.Is(err, verify.ErrTooManyAttempts):
		return &apiError{Status: http.StatusBadRequest, ErrorCode: codeIncorrect, Description: descIncorrect,
			Message: "Incorrect OTP, and too many of them: this request is over; send a new OTP"}
	case errors.Is(err, verify.ErrAttemptNotFound):
		return &apiError{Status: http.StatusBadRequest, ErrorCode: codeIncorrect, Description: descIncorrect, Message: msgRequestNotFound}
	case errors.As(err, &limited):
		code := codeRateIdentity
		if limited.Limit == "starts per client" || limited.Limit == "verifies per client" {
			code = codeRateApp
		}
		return &apiError{Status: http.StatusTooManyRequests, ErrorCode: code, Description: descRateLimited, RetryAfter: limited.RetryAfter,
			Message: fmt.Sprintf("Too many requests (%s); retry after %d seconds", limited.Limit, int(math.Ceil(limited.RetryAfter.Seconds())))}
	case errors.Is(err, verify.ErrDeliveryFailed):
		return &apiError{Status: http.StatusBadGateway, Message: "The OTP could not be delivered; send a new one"}
	case errors.Is(err, verify.ErrChannelNotConfigured):
		what := "SMS"
		if channel == verify.ChannelEmail {
			what = "email"
		}
		return &apiError{Status: http.StatusBadRequest, ErrorCode: codeChannelOff, Description: descChannelOff,
			Message: "This server sends no codes by " + what}
	case errors.Is(err, verify.ErrInvalidIdentifier):
		if channel == verify.ChannelEmail {
			return badParam(codeBadEmail, "Invalid email")
		}
		return badParam(codeBadPhone, "Invalid phoneNumber: give it in international form, like +15551234567")
	case errors.Is(err, verify.ErrInvalidInput):
		return badParams("%v", err)
	case errors.Is(err, verify.ErrUnavailable):
		d.env.Logger.Error("store unavailable", zap.Error(err))
		return &apiError{Status: http.StatusServiceUnavailable, Message: "Service unavailable; try again shortly", RetryAfter: time.Second}
	}
	d.env.Logger.Error("compat otpless: unexpected error", zap.Error(err))
	return &apiError{Status: http.StatusInternalServerError, Message: "Internal error"}
}
