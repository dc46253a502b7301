package native

import (
	"net/http"
	"strconv"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// Error codes of the native API (CONTRACT section 4).
const (
	errInvalidRequest       = "invalid_request"
	errInvalidCode          = "invalid_code"
	errAttemptNotFound      = "attempt_not_found"
	errTooManyAttempts      = "too_many_attempts"
	errRateLimited          = "rate_limited"
	errUnauthorized         = "unauthorized"
	errChannelNotConfigured = "channel_not_configured"
	errDeliveryFailed       = "delivery_failed"
	errStoreUnavailable     = "store_unavailable"
	errNotFound             = "not_found"
	errMethodNotAllowed     = "method_not_allowed"
	errForbidden            = "forbidden"
	errInternal             = "internal_error"
	errInvalidGrant         = "invalid_grant"
	errUserBlocked          = "user_blocked"
)

// apiError is an error answer: a status, a code and a message, with
// optional extra fields (attempts_left, retry_after).
type apiError struct {
	Status  int
	Code    string
	Message string
	Extra   map[string]any
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newAPIError(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func (e *apiError) body() map[string]any {
	b := make(map[string]any, 2+len(e.Extra))
	for k, v := range e.Extra {
		b[k] = v
	}
	b["error"] = e.Code
	b["message"] = e.Message
	return b
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	if ra, ok := e.Extra["retry_after"]; ok {
		w.Header().Set("Retry-After", strconv.Itoa(ra.(int)))
	}
	httpkit.WriteJSON(w, e.Status, e.body())
}
