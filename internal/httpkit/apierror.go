package httpkit

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// APIError is an error answer as a door decided it, before the door writes
// it in its service's body.
type APIError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, in whole seconds, is how long to wait before trying
	// again, for a 429 or a 503; 0: no Retry-After.
	RetryAfter int
}

// NewError is an APIError without a wait.
func NewError(status int, code, msg string) *APIError {
	return &APIError{Status: status, Code: code, Message: msg}
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Wait sets the answer's wait to d, rounded up to a whole second, at
// least 1.
func (e *APIError) Wait(d time.Duration) *APIError {
	e.RetryAfter = WaitSeconds(d)
	return e
}

// SetHeaders sets Retry-After when the answer has a wait.
func (e *APIError) SetHeaders(h http.Header) {
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
}

// WaitSeconds is d as Retry-After says it: whole seconds, rounded up, at
// least 1.
func WaitSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
