package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
)

func (r *Store) refreshKey(hash string) string { return r.prefix + "r:" + hash }

// CreateRefresh implements sessionstore.RefreshStore.
func (r *Store) CreateRefresh(ctx context.Context, rt sessionstore.RefreshToken) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	amr, err := json.Marshal(nonNil(rt.AMR))
	if err != nil {
		return err
	}
	key := r.refreshKey(rt.Hash)
	_, err = r.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, key, "sid", rt.SessionID, "uid", rt.UserID, "amr", amr,
			"x", rt.ExpiresAt.UnixMilli(), "rot", 0)
		p.PExpireAt(ctx, key, rt.ExpiresAt)
		return nil
	})
	return storeErr(err)
}

// Refresh implements sessionstore.RefreshStore.
func (r *Store) Refresh(ctx context.Context, hash string) (sessionstore.RefreshToken, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	f, err := r.client.HMGet(ctx, r.refreshKey(hash), "sid", "uid", "amr", "x").Result()
	if err != nil {
		return sessionstore.RefreshToken{}, storeErr(err)
	}
	if f[0] == nil {
		return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
	}
	return refreshFrom(hash, f)
}

// refreshFrom decodes a refresh record's fields sid, uid, amr and x.
func refreshFrom(hash string, f []any) (sessionstore.RefreshToken, error) {
	str := func(v any) string { s, _ := v.(string); return s }
	rt := sessionstore.RefreshToken{Hash: hash, SessionID: str(f[0]), UserID: str(f[1]), ExpiresAt: millis(str(f[3]))}
	if err := json.Unmarshal([]byte(str(f[2])), &rt.AMR); err != nil {
		return sessionstore.RefreshToken{}, fmt.Errorf("%w: corrupt refresh record: %v", sessionstore.ErrUnavailable, err)
	}
	return rt, nil
}

// rotateRefreshScript: KEYS[1] old token, KEYS[2] new token; ARGV: session
// key prefix, user key prefix, invalidation channel, now (ms), grace (ms),
// new token's hash. Returns {0} unknown or session gone, {1, sid, uid,
// amr, x} rotated (or the same rotation asked again within the grace, new
// token unspent), {2, sid, uid, amr, x} reused (the session is deleted).
// The spent token keeps its successor's hash (nx) and when it was spent
// (at). Times are the caller's, as in takeSlotScript.
var rotateRefreshScript = goredis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'sid', 'uid', 'amr', 'x', 'rot', 'nx', 'at')
if not f[1] then return {0} end
if f[5] == '1' then
  local age = tonumber(ARGV[4]) - (tonumber(f[7]) or -math.huge)
  local grace = tonumber(ARGV[5])
  if f[6] == ARGV[6] and age > -grace and age < grace and redis.call('HGET', KEYS[2], 'rot') == '0' then
    if redis.call('EXISTS', ARGV[1] .. f[1]) == 0 then return {0} end
    return {1, f[1], f[2], f[3], f[4]}
  end
  redis.call('DEL', ARGV[1] .. f[1])
  redis.call('HDEL', ARGV[2] .. f[2], 's:' .. f[1])
  redis.call('PUBLISH', ARGV[3], ARGV[1] .. f[1])
  return {2, f[1], f[2], f[3], f[4]}
end
if redis.call('EXISTS', ARGV[1] .. f[1]) == 0 then return {0} end
redis.call('HSET', KEYS[1], 'rot', 1, 'nx', ARGV[6], 'at', ARGV[4])
redis.call('HSET', KEYS[2], 'sid', f[1], 'uid', f[2], 'amr', f[3], 'x', f[4], 'rot', 0)
redis.call('PEXPIREAT', KEYS[2], f[4])
return {1, f[1], f[2], f[3], f[4]}
`)

// RotateRefresh implements sessionstore.RefreshStore.
func (r *Store) RotateRefresh(ctx context.Context, oldHash, newHash string, now time.Time) (sessionstore.RefreshToken, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	res, err := rotateRefreshScript.Run(ctx, r.client,
		[]string{r.refreshKey(oldHash), r.refreshKey(newHash)},
		r.sessionKey(""), r.userKey(""), InvalidationChannel,
		now.UnixMilli(), sessionstore.RefreshRetryGrace.Milliseconds(), newHash,
	).Slice()
	if err != nil {
		return sessionstore.RefreshToken{}, storeErr(err)
	}
	status, _ := res[0].(int64)
	if status == 0 {
		return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
	}
	if len(res) != 5 {
		return sessionstore.RefreshToken{}, fmt.Errorf("%w: rotation script returned %d values", sessionstore.ErrUnavailable, len(res))
	}
	if status == 2 {
		rt, err := refreshFrom(oldHash, res[1:])
		if err == nil {
			err = sessionstore.ErrRefreshReused
			if r.cache != nil {
				r.cache.forget(r.sessionKey(rt.SessionID))
			}
		}
		return rt, err
	}
	return refreshFrom(newHash, res[1:])
}
