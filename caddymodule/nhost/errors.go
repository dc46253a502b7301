package nhost

import (
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// Nhost Auth's error codes (its controller/errors.go), and passgate's own
// for what Nhost does not have: rate limits, a store out of reach, routes
// and methods that do not exist, a bearer token refused.
const (
	errInvalidRequest         = "invalid-request"
	errInvalidOTP             = "invalid-otp"
	errOTPTooManyAttempts     = "otp-too-many-attempts"
	errInvalidRefreshToken    = "invalid-refresh-token"
	errInvalidTicket          = "invalid-ticket"
	errRedirectToNotAllowed   = "redirectTo-not-allowed"
	errRoleNotAllowed         = "role-not-allowed"
	errDefaultRoleNotAllowed  = "default-role-must-be-in-allowed-roles"
	errDisabledEndpoint       = "disabled-endpoint"
	errCannotSendSMS          = "cannot-send-sms"
	errCannotSendEmail        = "cannot-send-email"
	errInternalServerError    = "internal-server-error"
	errTooManyRequests        = "too-many-requests"
	errServiceUnavailable     = "service-unavailable"
	errUnauthorized           = "unauthorized"
	errNotFound               = "not-found"
	errMethodNotAllowed       = "method-not-allowed"
	errForbidden              = "forbidden"
	msgInvalidOTP             = "Invalid or expired OTP"
	msgInvalidRefreshToken    = "Invalid or expired refresh token"
	msgInvalidTicket          = "Invalid ticket"
	msgRedirectToNotAllowed   = `The value of "options.redirectTo" is not allowed.`
	msgServiceUnavailable     = "The session store is unavailable; try again shortly"
	msgInternalServerError    = "Internal server error"
	msgTooManyAttempts        = "Too many incorrect attempts, please request a new OTP"
	msgDisabledEndpoint       = "This endpoint is disabled"
	msgCannotSendSMS          = "Cannot send SMS, check your phone number is correct"
	msgUnauthorized           = "Invalid or expired access token"
	msgDefaultRoleNotInRoles  = "Default role must be in allowed roles"
	msgInvalidRequestPhone    = "That is not a valid phone number: use the international form, +44 7946 095800"
	msgInvalidRequestEmail    = "That is not a valid email address"
	msgCannotSendEmail        = "The email could not be sent; ask for a new one"
	msgRoleNotAllowedTemplate = "Role not allowed: passgate gives every user the default role %q"
)

// apiError is an answer in Nhost's error body, {status, message, error},
// with the same HTTP status.
type apiError = httpkit.APIError

var newError = httpkit.NewError

type errorBody struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Code    string `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	e.SetHeaders(w.Header())
	if e.Status == http.StatusUnauthorized && e.Code == errUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	httpkit.WriteJSON(w, e.Status, errorBody{Status: e.Status, Message: e.Message, Code: e.Code})
}

// failure maps the engine's errors to Nhost's answers, in one place.
// channel is the one the request was for, when it matters to the answer.
// A client's mistake is never a 5xx, and the store out of reach is 503.
func (d *Door) failure(err error, channel string) *apiError {
	var wrong *verify.WrongCodeError
	var limited *verify.RateLimitedError
	switch {
	case errors.As(err, &limited):
		wait := httpkit.WaitSeconds(limited.RetryAfter)
		e := newError(http.StatusTooManyRequests, errTooManyRequests,
			fmt.Sprintf("Too many requests (%s); try again in %d seconds", limited.Limit, wait))
		e.RetryAfter = wait
		return e
	case errors.As(err, &wrong), errors.Is(err, verify.ErrAttemptNotFound):
		return newError(http.StatusBadRequest, errInvalidOTP, msgInvalidOTP)
	case errors.Is(err, verify.ErrTooManyAttempts):
		return newError(http.StatusBadRequest, errOTPTooManyAttempts, msgTooManyAttempts)
	case errors.Is(err, verify.ErrInvalidGrant):
		// Every dead refresh token is 401: nhost-js drops its session on
		// nothing else.
		return newError(http.StatusUnauthorized, errInvalidRefreshToken, msgInvalidRefreshToken)
	case errors.Is(err, verify.ErrUnauthenticated):
		return newError(http.StatusUnauthorized, errUnauthorized, msgUnauthorized)
	case errors.Is(err, verify.ErrInvalidIdentifier) && channel == verify.ChannelPhone:
		return newError(http.StatusBadRequest, errInvalidRequest, msgInvalidRequestPhone)
	case errors.Is(err, verify.ErrInvalidIdentifier):
		return newError(http.StatusBadRequest, errInvalidRequest, msgInvalidRequestEmail)
	case errors.Is(err, verify.ErrInvalidInput):
		return newError(http.StatusBadRequest, errInvalidRequest, errors.Unwrap(err).Error())
	case errors.Is(err, verify.ErrChannelNotConfigured):
		return newError(http.StatusConflict, errDisabledEndpoint, msgDisabledEndpoint)
	case errors.Is(err, verify.ErrDeliveryFailed) && channel == verify.ChannelPhone:
		return newError(http.StatusBadRequest, errCannotSendSMS, msgCannotSendSMS)
	case errors.Is(err, verify.ErrDeliveryFailed):
		// Logged when the delivery failed, not at every check.
		return newError(http.StatusBadGateway, errCannotSendEmail, msgCannotSendEmail)
	case errors.Is(err, verify.ErrUnavailable):
		d.env.Logger.Error("store unavailable", zap.Error(err))
		e := newError(http.StatusServiceUnavailable, errServiceUnavailable, msgServiceUnavailable)
		e.RetryAfter = 1
		return e
	default:
		d.env.Logger.Error("nhost door", zap.Error(err))
		return newError(http.StatusInternalServerError, errInternalServerError, msgInternalServerError)
	}
}
