package verify

import "context"

// Readiness states of the store, as Ready last found it.
const (
	storeUnknown int32 = iota
	storeUp
	storeDown
)

// Ready pings the store within its timeout: nil if it answers, an error
// wrapping ErrUnavailable if not. A change since the last check (and a
// first check that fails) emits EventStoreDown or EventStoreUp, so that a
// load balancer's probe every second logs and counts the changes only.
func (e *Engine) Ready(ctx context.Context, c Caller) error {
	err := e.store.Ping(ctx)
	now, kind := storeUp, EventStoreUp
	if err != nil {
		now, kind = storeDown, EventStoreDown
	}
	if was := e.ready.Swap(now); was != now && (was != storeUnknown || now == storeDown) {
		e.emit(Event{Kind: kind, Caller: c, Err: err})
	}
	return err
}

// Denied emits EventAccessDenied for a session refused on path by a rule
// asking for any of required: the engine decides nothing here, but its
// listeners (the audit log, the metrics) hear every refusal in one place.
func (e *Engine) Denied(c Caller, s Session, path string, required []string) {
	e.emit(Event{Kind: EventAccessDenied, Caller: c, UserID: s.UserID, Path: path, Required: required})
}
