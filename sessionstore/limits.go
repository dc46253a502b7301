package sessionstore

import (
	"context"
	"crypto/rand"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A limit key is a sorted set of event handles scored by their time in
// milliseconds; events older than the window are dropped before counting.
// The handle carries the time, so that two events in one millisecond stay
// two members.

func newSlot(now time.Time) string {
	return strconv.FormatInt(now.UnixMilli(), 10) + "-" + rand.Text()[:10]
}

type memEvent struct {
	slot string
	at   time.Time
}

// TakeSlot implements LimitStore.
func (m *Memory) TakeSlot(_ context.Context, key string, limit int, window time.Duration, now time.Time) (string, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	events := liveEvents(m.limits[key], now, window)
	if len(events) >= limit {
		m.limits[key] = events
		return "", events[0].at.Add(window).Sub(now), nil
	}
	slot := newSlot(now)
	// Callers read their clocks before taking the lock, so events can
	// arrive out of order; keep them sorted, as the window needs.
	i, _ := slices.BinarySearchFunc(events, now, func(e memEvent, t time.Time) int { return e.at.Compare(t) })
	m.limits[key] = slices.Insert(events, i, memEvent{slot: slot, at: now})
	return slot, 0, nil
}

// ReleaseSlot implements LimitStore.
func (m *Memory) ReleaseSlot(_ context.Context, key, slot string) error {
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

// takeSlotScript: KEYS[1] the limit; ARGV: now (ms), window (ms), limit,
// slot. Returns the slot, or the milliseconds until one frees.
var takeSlotScript = redis.NewScript(`
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}
`)

// TakeSlot implements LimitStore.
func (r *Redis) TakeSlot(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (string, time.Duration, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	slot := newSlot(now)
	res, err := takeSlotScript.Run(ctx, r.client, []string{r.limitKey(key)},
		now.UnixMilli(), window.Milliseconds(), limit, slot).Int64Slice()
	if err != nil {
		return "", 0, storeErr(err)
	}
	if res[0] == 0 {
		return "", time.Duration(res[1]) * time.Millisecond, nil
	}
	return slot, 0, nil
}

// ReleaseSlot implements LimitStore.
func (r *Redis) ReleaseSlot(ctx context.Context, key, slot string) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	return storeErr(r.client.ZRem(ctx, r.limitKey(key), slot).Err())
}

func (r *Redis) limitKey(k string) string { return r.prefix + "l:" + k }
