package sessionstore

import (
	"context"
	"crypto/rand"
	"strconv"
	"time"
)

// LimitStore keeps sliding-window rate limits: at most limit events per key
// in any window-long span. Kept in the store, so every instance shares them.
type LimitStore interface {
	// TakeSlot records one event for key at now if fewer than limit happened
	// in the window before it. It returns the event's handle (for
	// ReleaseSlot) or, when the limit is reached, how long until a slot frees.
	TakeSlot(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (slot string, retryAfter time.Duration, err error)
	// ReleaseSlot forgets an event, as if it never happened.
	ReleaseSlot(ctx context.Context, key, slot string) error
}

// NewSlot returns the handle of an event at now: its time in milliseconds
// and random text, so that two events in one millisecond stay two.
func NewSlot(now time.Time) string {
	return strconv.FormatInt(now.UnixMilli(), 10) + "-" + rand.Text()[:10]
}
