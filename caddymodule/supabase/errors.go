package supabase

import (
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// apiError is a GoTrue error answer.
type apiError = httpkit.APIError

var newError = httpkit.NewError

// Messages GoTrue answers, which apps show or match.
const (
	msgOTPExpired  = "Token has expired or is invalid"
	msgLinkExpired = "Email link is invalid or has expired"
)

// writeError answers e with both of GoTrue's bodies at once: `code` (read
// with the version header) and `error_code` (read without it, as a
// browser on another origin may be unable to see the header), and the
// message as `msg` and `message`.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("X-Sb-Error-Code", e.Code)
	e.SetHeaders(h)
	writeJSON(w, e.Status, map[string]string{"code": e.Code, "error_code": e.Code, "msg": e.Message, "message": e.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("X-Supabase-Api-Version", apiVersion)
	httpkit.WriteJSON(w, status, v)
}

// bodyError is an unreadable body as GoTrue would name it; the status
// (400, 408, 413, 415) stays ReadBody's.
func bodyError(e *httpkit.BodyError) *apiError {
	switch e.Status {
	case http.StatusRequestTimeout:
		return newError(e.Status, "request_timeout", e.Message)
	default:
		return newError(e.Status, "bad_json", "Could not parse request body as JSON: "+e.Message)
	}
}

func validation(msg string) *apiError {
	return newError(http.StatusBadRequest, "validation_failed", msg)
}

// engineError maps the engine's errors to GoTrue's, for a start (/otp,
// /resend) or a check (/verify) on channel. Every failed check is the one
// answer GoTrue gives for a wrong or used code, so it tells nothing.
func (d *Door) engineError(err error, channel string, check bool) *apiError {
	var limited *verify.RateLimitedError
	var wrong *verify.WrongCodeError
	switch {
	case errors.As(err, &limited):
		wait := httpkit.WaitSeconds(limited.RetryAfter)
		e := newError(http.StatusTooManyRequests, "over_request_rate_limit", "Request rate limit reached")
		if !check && limited.Limit != "starts per client" {
			e.Code = "over_email_send_rate_limit"
			if channel == verify.ChannelPhone {
				e.Code = "over_sms_send_rate_limit"
			}
			e.Message = fmt.Sprintf("For security purposes, you can only request this after %d seconds.", wait)
		}
		e.RetryAfter = wait
		return e
	case errors.As(err, &wrong), errors.Is(err, verify.ErrAttemptNotFound), errors.Is(err, verify.ErrTooManyAttempts):
		return newError(http.StatusForbidden, "otp_expired", msgOTPExpired)
	case errors.Is(err, verify.ErrInvalidIdentifier) && channel == verify.ChannelPhone:
		return validation("Invalid phone number format (E.164 required)")
	case errors.Is(err, verify.ErrInvalidIdentifier) && check:
		return newError(http.StatusUnprocessableEntity, "validation_failed", "Unable to validate email address: invalid format")
	case errors.Is(err, verify.ErrInvalidIdentifier):
		return validation("Unable to validate email address: invalid format")
	case errors.Is(err, verify.ErrInvalidInput):
		return validation(errors.Unwrap(err).Error())
	case errors.Is(err, verify.ErrChannelNotConfigured) && channel == verify.ChannelPhone:
		return newError(http.StatusBadRequest, "phone_provider_disabled", "Unsupported phone provider")
	case errors.Is(err, verify.ErrChannelNotConfigured):
		return newError(http.StatusUnprocessableEntity, "email_provider_disabled", "Email logins are disabled")
	case errors.Is(err, verify.ErrDeliveryFailed) && channel == verify.ChannelPhone:
		return newError(http.StatusBadGateway, "sms_send_failed", "Error sending the SMS code; ask for a new one")
	case errors.Is(err, verify.ErrDeliveryFailed):
		return newError(http.StatusBadGateway, "unexpected_failure", "Error sending the email; ask for a new one")
	default:
		return d.serverError(err)
	}
}

// serverError answers a failure of passgate's own: 503 when the store is
// out of reach (the client retries its refreshes), 500 otherwise.
func (d *Door) serverError(err error) *apiError {
	if errors.Is(err, verify.ErrUnavailable) {
		d.env.Logger.Error("store unavailable", zap.Error(err))
		e := newError(http.StatusServiceUnavailable, "unexpected_failure", "The session store is unavailable; try again shortly")
		e.RetryAfter = 1
		return e
	}
	d.env.Logger.Error("supabase door", zap.Error(err))
	return newError(http.StatusInternalServerError, "unexpected_failure", "Internal error")
}
