package redis

import (
	"context"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// A limit key is a sorted set of event handles (sessionstore.NewSlot)
// scored by their time in milliseconds; events older than the window are
// dropped before counting.

// takeSlotScript: KEYS[1] the limit; ARGV: now (ms), window (ms), limit,
// slot. Returns the slot, or the milliseconds until one frees.
var takeSlotScript = newScript("takeSlot", `#!lua
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

// TakeSlot implements sessionstore.LimitStore.
func (r *Store) TakeSlot(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (string, time.Duration, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	slot := sessionstore.NewSlot(now)
	res, err := takeSlotScript.Run(ctx, r.client, []string{r.keys.Limit(key)},
		now.UnixMilli(), window.Milliseconds(), limit, slot).Int64Slice()
	if err != nil {
		return "", 0, storeErr(err)
	}
	if res[0] == 0 {
		return "", time.Duration(res[1]) * time.Millisecond, nil
	}
	return slot, 0, nil
}

// ReleaseSlot implements sessionstore.LimitStore.
func (r *Store) ReleaseSlot(ctx context.Context, key, slot string) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	return storeErr(r.client.ZRem(ctx, r.keys.Limit(key), slot).Err())
}
