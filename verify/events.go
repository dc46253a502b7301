package verify

import "time"

// EventKind names what happened. Its values are the audit log's messages.
type EventKind string

// The events the engine emits. Front doors emit none themselves.
const (
	EventStarted        EventKind = "sign-in started"
	EventCodeSent       EventKind = "code sent"
	EventDeliveryFailed EventKind = "delivery failed"
	EventSignedIn       EventKind = "signed in"
	EventSignInFailed   EventKind = "sign-in failed"
	EventRateLimited    EventKind = "rate limited"
	EventSignedOut      EventKind = "signed out"
	EventRefreshReused  EventKind = "refresh token reused: session revoked"
	EventSessionRevoked EventKind = "session revoked"
	// Operator events (see admin.go).
	EventUserBlocked   EventKind = "user blocked"
	EventUserUnblocked EventKind = "user unblocked"
	EventSessionsEnded EventKind = "sessions ended by an operator"
	// EventAccessDenied: a signed-in user lacked every role a path rule
	// asks for. The gate emits it through Engine.Denied.
	EventAccessDenied EventKind = "access denied"
	// EventStoreDown and EventStoreUp: a readiness check found the store
	// unreachable after it answered (or at the first check), and
	// answering again. Emitted on the change only, never per check.
	EventStoreDown EventKind = "store unavailable"
	EventStoreUp   EventKind = "store available"
)

// Failure reasons of EventSignInFailed: a bounded set, fit for a metric
// label.
const (
	ReasonWrongCode       = "wrong_code"
	ReasonTooManyAttempts = "too_many_attempts"
	ReasonNotFound        = "attempt_not_found"
	ReasonDeliveryFailed  = "delivery_failed"
	ReasonUserBlocked     = "user_blocked"
)

// Event is one thing that happened, with what is known of it. It never
// holds a code, a link, a token or a cookie.
type Event struct {
	Kind   EventKind
	Caller Caller
	// Channel is "email" or "phone", where one is involved.
	Channel string
	// UserID, once known.
	UserID string
	// Method is how a sign-in went: "code" or "link".
	Method string
	// Reason of a failed sign-in (Reason* constants).
	Reason string
	// Limit that was reached, and when to try again.
	Limit      string
	RetryAfter time.Duration
	// Scope of a sign-out (local, global, others) and how many sessions
	// ended.
	Scope   Scope
	Revoked int
	// Sender of a delivery ("log", "smtp", "webhook", …), how long it took,
	// and, for a failed one, why (never the code or the link).
	Sender   string
	Duration time.Duration
	Err      error
	// Path of a request refused by an access rule (the audit log's, never a
	// metric label) and the roles the rule asks for, any one of which would
	// have done.
	Path     string
	Required []string
}

// Listener hears events. The audit log and the metrics are two.
type Listener interface {
	Event(Event)
}

// ListenerFunc is a function as a Listener.
type ListenerFunc func(Event)

// Event implements Listener.
func (f ListenerFunc) Event(ev Event) { f(ev) }

func (e *Engine) emit(ev Event) {
	for _, l := range e.cfg.Listeners {
		l.Event(ev)
	}
}
