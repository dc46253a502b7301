package wacht

import (
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// envelope is every answer's body, as Wacht's server sends it: the
// client reads data on success, and errors[0] (else message) on failure.
type envelope struct {
	Status  int          `json:"status"`
	Message string       `json:"message"`
	Data    any          `json:"data"`
	Session *sessionBody `json:"session"`
	Errors  []errorBody  `json:"errors"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Wacht's error codes (its client's ErrorCode), and passgate's own where
// Wacht has none.
const (
	codeInvalidCode      = "INVALID_CODE"
	codeBadAttempt       = "BAD_SIGN_IN_ATTEMPT"
	codeCodeExpired      = "verification_code_expired"
	codeCodeRequired     = "CODE_REQUIRED"
	codeStrategyRequired = "VERIFICATION_STRATEGY_REQUIRED"
	codeBadBody          = "BAD_REQUEST_BODY"
	codeRequiredField    = "REQUIRED_FIELD"
	codeInvalidState     = "INVALID_STATE"
	codeAlreadySignedIn  = "USER_ALREADY_SIGNED_IN"
	codeNotConfigured    = "PROVIDER_NOT_CONFIGURED"
	codeInternal         = "INTERNAL"
	// passgate's: Wacht's client shows the message of any code.
	codeRateLimited      = "RATE_LIMITED"
	codeDeliveryFailed   = "DELIVERY_FAILED"
	codeNotFound         = "NOT_FOUND"
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	codeForbidden        = "FORBIDDEN"
)

// apiError is an error answer: its status, code and message, and how long
// to wait (Retry-After) when there is something to wait for.
type apiError = httpkit.APIError

var newError = httpkit.NewError

// writeOK answers 200 with data, and the browser's Wacht session if known.
func writeOK(w http.ResponseWriter, data any, sess *sessionBody) {
	httpkit.WriteJSON(w, http.StatusOK, envelope{Status: http.StatusOK, Data: data, Session: sess, Errors: []errorBody{}})
}

// writeError answers e in the envelope.
func writeError(w http.ResponseWriter, e *apiError, sess *sessionBody) {
	e.SetHeaders(w.Header())
	httpkit.WriteJSON(w, e.Status, envelope{Status: e.Status, Message: e.Message, Session: sess,
		Errors: []errorBody{{Code: e.Code, Message: e.Message}}})
}

// bodyError is a body httpkit could not read, in Wacht's words.
func bodyError(e *httpkit.BodyError) *apiError {
	return newError(e.Status, codeBadBody, e.Message)
}

// engineError maps the engine's errors to Wacht's statuses and codes: one
// place for every door route. Never a 5xx for a client's mistake, and 503
// (not 500) for the store.
func (d *Door) engineError(err error) *apiError {
	var wrong *verify.WrongCodeError
	var limited *verify.RateLimitedError
	var e *apiError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &limited):
		wait := httpkit.WaitSeconds(limited.RetryAfter)
		e := newError(http.StatusTooManyRequests, codeRateLimited,
			fmt.Sprintf("Too many requests (%s). Try again in %d seconds.", limited.Limit, wait))
		e.RetryAfter = wait
		return e
	case errors.As(err, &wrong):
		tries := "tries"
		if wrong.AttemptsLeft == 1 {
			tries = "try"
		}
		return newError(http.StatusBadRequest, codeInvalidCode,
			fmt.Sprintf("The provided code is invalid. %d %s left.", wrong.AttemptsLeft, tries))
	case errors.Is(err, verify.ErrTooManyAttempts):
		return newError(http.StatusBadRequest, codeBadAttempt, "Too many wrong codes: this sign-in attempt has ended. Start again.")
	case errors.Is(err, verify.ErrAttemptNotFound):
		return newError(http.StatusBadRequest, codeBadAttempt, "This code or link has expired or was already used. Start again.")
	case errors.Is(err, verify.ErrInvalidIdentifier):
		return newError(http.StatusBadRequest, codeBadBody, "That is not a valid email address or phone number (phone numbers in the international form, +44 7946 095800).")
	case errors.Is(err, verify.ErrInvalidInput):
		return newError(http.StatusBadRequest, codeBadBody, errors.Unwrap(err).Error())
	case errors.Is(err, verify.ErrChannelNotConfigured):
		return newError(http.StatusBadRequest, codeNotConfigured, "This sign-in method is not enabled.")
	case errors.Is(err, verify.ErrDeliveryFailed):
		// Logged when the delivery failed, not at every check.
		return newError(http.StatusBadGateway, codeDeliveryFailed, "The code could not be sent. Ask for a new one.")
	case errors.Is(err, verify.ErrUnavailable):
		d.env.Logger.Error("store unavailable", zap.Error(err))
		e := newError(http.StatusServiceUnavailable, codeInternal, "The session store is unavailable. Try again shortly.")
		e.RetryAfter = 1
		return e
	default:
		d.env.Logger.Error("wacht door", zap.Error(err))
		return newError(http.StatusInternalServerError, codeInternal, "Internal error.")
	}
}

var (
	errNotSignedIn = newError(http.StatusUnauthorized, codeInvalidState, "No active sign in.")
	errCrossSite   = newError(http.StatusForbidden, codeForbidden, "Cross-site request refused.")
	errNoAttempt   = newError(http.StatusBadRequest, codeBadAttempt,
		"No such sign-in attempt in this browser. Start again.")
	errAttemptDone = newError(http.StatusBadRequest, codeBadAttempt,
		"This sign-in attempt is already complete.")
	errNotPrepared = newError(http.StatusBadRequest, codeBadAttempt,
		"No code or link was sent for this attempt yet: call prepare-verification first.")
	errExpired = newError(http.StatusBadRequest, codeCodeExpired,
		"The verification code has expired. Ask for a new one.")
)
