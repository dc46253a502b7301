package logto

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// Logto's error codes (packages/phrases errors), and passgate's own, in a
// namespace of their own, for what Logto has no code for: a store out of
// reach, a rate limit on checks, a message that could not be sent,
// cross-site requests, unknown routes and methods.
const (
	codeCodeMismatch        = "verification_code.code_mismatch"
	codeCodeExpired         = "verification_code.expired"
	codeExceedMaxTry        = "verification_code.exceed_max_try"
	codeCodeNotFound        = "verification_code.not_found"
	codeEmailMismatch       = "verification_code.email_mismatch"
	codePhoneMismatch       = "verification_code.phone_mismatch"
	codeRecordNotFound      = "session.verification_session_not_found"
	codeVerificationFailed  = "session.verification_failed"
	codeSessionNotFound     = "session.not_found"
	codeIdentifierNotFound  = "session.identifier_not_found"
	codeInvalidInput        = "guard.invalid_input"
	codeMessageRateLimited  = "request.message_rate_limited"
	codeConnectorNotFound   = "connector.not_found"
	codeUserNotExist        = "user.user_not_exist"
	codeEmailInUse          = "user.email_already_in_use"
	codePhoneInUse          = "user.phone_already_in_use"
	codeAuthRequired        = "auth.authorization_header_missing"
	codeUnauthorized        = "auth.unauthorized"
	codeStoreUnavailable    = "passgate.store_unavailable"
	codeRateLimited         = "passgate.rate_limited"
	codeDeliveryFailed      = "passgate.delivery_failed"
	codeCrossSite           = "passgate.cross_site_request"
	codeNotFound            = "passgate.not_found"
	codeMethodNotAllowed    = "passgate.method_not_allowed"
	msgCodeMismatch         = "Invalid verification code."
	msgCodeExpired          = "Verification code has expired. Please request a new verification code."
	msgExceedMaxTry         = "Verification code retries limitation exceeded. Please request a new verification code."
	msgCodeNotFound         = "Verification code not found. Please send verification code first."
	msgEmailMismatch        = "Email does not match the verification code's."
	msgPhoneMismatch        = "Phone number does not match the verification code's."
	msgRecordNotFound       = "Verification record not found."
	msgVerificationFailed   = "The verification was not successful. Restart the verification flow and try again."
	msgSessionNotFound      = "Session not found. Please go back and sign in again."
	msgIdentifierNotFound   = "User identifier not found. Please go back and sign in again."
	msgConnectorNotFound    = "Can not find any available connector."
	msgUserNotExist         = "User does not exist."
	msgEmailInUse           = "This email is associated with an existing account."
	msgPhoneInUse           = "This phone number is associated with an existing account."
	msgStoreUnavailable     = "The session store is unavailable; try again shortly."
	msgDeliveryFailed       = "The verification code could not be sent; request a new one."
	msgCrossSite            = "Cross-site request refused."
	msgInvalidEmail         = "That is not a valid email address."
	msgInvalidPhone         = "That is not a valid phone number: digits only, with the country code, without '+'."
	msgMessageRateLimitTmpl = "Too many messages (%s); try again in %d seconds."
	msgRateLimitTmpl        = "Too many requests (%s); try again in %d seconds."
	msgInternalServerError  = "Internal server error."
)

// apiError is Logto's error body, {code, message, data}, with its status.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
	// Error and Description are the OIDC fields Logto adds to
	// session.not_found.
	Error       string `json:"error,omitempty"`
	Description string `json:"error_description,omitempty"`
	status      int
	// retryAfter, in seconds, goes in the Retry-After header.
	retryAfter int
}

func newError(status int, code, msg string) *apiError {
	return &apiError{status: status, Code: code, Message: msg}
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	httpkit.WriteJSON(w, e.status, e)
}

// sessionNotFound is Logto's answer to a request without a live
// interaction.
func sessionNotFound() *apiError {
	e := newError(http.StatusBadRequest, codeSessionNotFound, msgSessionNotFound)
	e.Error, e.Description = "invalid_request", "interaction session not found"
	return e
}

// invalidInput is guard.invalid_input with what is wrong.
func invalidInput(msg string) *apiError {
	return newError(http.StatusBadRequest, codeInvalidInput, msg)
}

// failure maps the engine's errors to Logto's answers, in one place.
// sending says the error came from sending a code (a limit reached there
// is Logto's message rate limit). A client's mistake is never a 5xx, and
// the store out of reach is 503.
func (d *Door) failure(err error, channel string, sending bool) *apiError {
	var wrong *verify.WrongCodeError
	var limited *verify.RateLimitedError
	switch {
	case errors.As(err, &limited):
		wait := max(1, int(math.Ceil(limited.RetryAfter.Seconds())))
		e := newError(http.StatusTooManyRequests, codeRateLimited, fmt.Sprintf(msgRateLimitTmpl, limited.Limit, wait))
		if sending {
			e = newError(http.StatusTooManyRequests, codeMessageRateLimited, fmt.Sprintf(msgMessageRateLimitTmpl, limited.Limit, wait))
		}
		e.Data = map[string]any{"retryAfter": wait}
		e.retryAfter = wait
		return e
	case errors.As(err, &wrong):
		e := newError(http.StatusBadRequest, codeCodeMismatch, msgCodeMismatch)
		e.Data = map[string]any{"attemptsLeft": wrong.AttemptsLeft}
		return e
	case errors.Is(err, verify.ErrTooManyAttempts):
		return newError(http.StatusBadRequest, codeExceedMaxTry, msgExceedMaxTry)
	case errors.Is(err, verify.ErrAttemptNotFound):
		return newError(http.StatusBadRequest, codeCodeNotFound, msgCodeNotFound)
	case errors.Is(err, verify.ErrInvalidIdentifier) && channel == verify.ChannelPhone:
		return invalidInput(msgInvalidPhone)
	case errors.Is(err, verify.ErrInvalidIdentifier):
		return invalidInput(msgInvalidEmail)
	case errors.Is(err, verify.ErrInvalidInput):
		return invalidInput(errors.Unwrap(err).Error())
	case errors.Is(err, verify.ErrChannelNotConfigured):
		return newError(http.StatusNotImplemented, codeConnectorNotFound, msgConnectorNotFound)
	case errors.Is(err, verify.ErrDeliveryFailed):
		// Logged when the delivery failed, not at every check.
		return newError(http.StatusBadGateway, codeDeliveryFailed, msgDeliveryFailed)
	case errors.Is(err, verify.ErrUnavailable):
		d.env.Logger.Error("store unavailable", zap.Error(err))
		e := newError(http.StatusServiceUnavailable, codeStoreUnavailable, msgStoreUnavailable)
		e.retryAfter = 1
		return e
	default:
		d.env.Logger.Error("logto door", zap.Error(err))
		return newError(http.StatusInternalServerError, "unknown", msgInternalServerError)
	}
}
