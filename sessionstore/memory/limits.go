package memory

import (
	"context"
	"slices"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

type memEvent struct {
	slot string
	at   time.Time
}

// TakeSlot implements sessionstore.LimitStore.
func (m *Store) TakeSlot(_ context.Context, key string, limit int, window time.Duration, now time.Time) (string, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	events := liveEvents(m.limits[key], now, window)
	if len(events) >= limit {
		m.limits[key] = events
		return "", events[0].at.Add(window).Sub(now), nil
	}
	slot := sessionstore.NewSlot(now)
	// Callers read their clocks before taking the lock, so events can
	// arrive out of order; keep them sorted, as the window needs.
	i, _ := slices.BinarySearchFunc(events, now, func(e memEvent, t time.Time) int { return e.at.Compare(t) })
	m.limits[key] = slices.Insert(events, i, memEvent{slot: slot, at: now})
	return slot, 0, nil
}

// ReleaseSlot implements sessionstore.LimitStore.
func (m *Store) ReleaseSlot(_ context.Context, key, slot string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	events := m.limits[key]
	for i, e := range events {
		if e.slot == slot {
			m.limits[key] = append(events[:i:i], events[i+1:]...)
			break
		}
	}
	if len(m.limits[key]) == 0 {
		delete(m.limits, key)
	}
	return nil
}

// liveEvents drops the events that have left the window; events are kept
// in time order, so they are a prefix.
func liveEvents(events []memEvent, now time.Time, window time.Duration) []memEvent {
	cut := 0
	for cut < len(events) && !events[cut].at.After(now.Add(-window)) {
		cut++
	}
	return events[cut:]
}
