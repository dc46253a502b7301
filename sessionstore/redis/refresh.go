package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// A refresh token's hash has the fields sid, uid, amr (JSON), x (the
// chain's end, ms), rot ("1" once spent), nx (the hash it was rotated to)
// and at (when, ms). Every token of a chain is under the chain's hash tag
// (Keys.Refresh), so a rotation's two keys are one slot.

// CreateRefresh implements sessionstore.RefreshStore.
func (r *Store) CreateRefresh(ctx context.Context, rt sessionstore.RefreshToken) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	amr := rt.AMR
	if amr == nil {
		amr = []string{}
	}
	amrJSON, err := json.Marshal(amr)
	if err != nil {
		return err
	}
	key := r.keys.Refresh(rt.Hash)
	_, err = r.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, key, "sid", rt.SessionID, "uid", rt.UserID, "amr", amrJSON,
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
	f, err := r.client.HMGet(ctx, r.keys.Refresh(hash), "sid", "uid", "amr", "x").Result()
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
	rt := sessionstore.RefreshToken{Hash: hash, SessionID: str(f[0]), UserID: str(f[1]), ExpiresAt: millis(str(f[3]))}
	if err := json.Unmarshal([]byte(str(f[2])), &rt.AMR); err != nil {
		return sessionstore.RefreshToken{}, corrupt("refresh record", err)
	}
	return rt, nil
}

// Results of rotateRefreshScript.
const (
	rotUnknown = 0 // no such token
	rotDone    = 1 // rotated now
	rotReused  = 2 // spent before, otherwise than asked now
	rotAgain   = 3 // the same rotation asked again within the grace, the new token unspent
)

// rotateRefreshScript: KEYS[1] old token, KEYS[2] new token (one chain, so
// one slot); ARGV: now (ms), grace (ms), new token's hash, "1" if the
// token's session lives. Returns {status} or {status, sid, uid, amr, x}.
// The spent token keeps its successor's hash (nx) and when it was spent
// (at). Times are the caller's, as in takeSlotScript. A token of a session
// that is gone is neither spent nor handed out again, but its reuse is
// still reuse.
var rotateRefreshScript = newScript("rotateRefresh", `#!lua
local f = redis.call('HMGET', KEYS[1], 'sid', 'uid', 'amr', 'x', 'rot', 'nx', 'at')
if not f[1] then return {0} end
if f[5] == '1' then
  local age = tonumber(ARGV[1]) - (tonumber(f[7]) or -math.huge)
  local grace = tonumber(ARGV[2])
  if f[6] == ARGV[3] and age > -grace and age < grace and redis.call('HGET', KEYS[2], 'rot') == '0' then
    if ARGV[4] ~= '1' then return {0} end
    return {3, f[1], f[2], f[3], f[4]}
  end
  return {2, f[1], f[2], f[3], f[4]}
end
if ARGV[4] ~= '1' then return {0} end
redis.call('HSET', KEYS[1], 'rot', 1, 'nx', ARGV[3], 'at', ARGV[1])
redis.call('HSET', KEYS[2], 'sid', f[1], 'uid', f[2], 'amr', f[3], 'x', f[4], 'rot', 0)
redis.call('PEXPIREAT', KEYS[2], f[4])
return {1, f[1], f[2], f[3], f[4]}
`)

// RotateRefresh implements sessionstore.RefreshStore. The session lives in
// its user's hash, another slot: it is read before the rotation, and
// revoked after it on reuse. A session ended between the read and the
// rotation leaves a successor that cannot be used; a revocation lost to a
// broken connection is made again by the next presentation of the spent
// token, which is reuse again.
func (r *Store) RotateRefresh(ctx context.Context, oldHash, newHash string, now time.Time) (sessionstore.RefreshToken, error) {
	if sessionstore.RefreshChain(oldHash) != sessionstore.RefreshChain(newHash) {
		return sessionstore.RefreshToken{}, sessionstore.ErrOtherChain
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	old, err := r.client.HMGet(ctx, r.keys.Refresh(oldHash), "sid", "uid").Result()
	if err != nil {
		return sessionstore.RefreshToken{}, storeErr(err)
	}
	if old[0] == nil {
		return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
	}
	live, err := r.sessionLive(ctx, str(old[0]), str(old[1]))
	if err != nil {
		return sessionstore.RefreshToken{}, err
	}
	res, err := rotateRefreshScript.Run(ctx, r.client,
		[]string{r.keys.Refresh(oldHash), r.keys.Refresh(newHash)},
		now.UnixMilli(), sessionstore.RefreshRetryGrace.Milliseconds(), newHash, live,
	).Slice()
	if err != nil {
		return sessionstore.RefreshToken{}, storeErr(err)
	}
	status, _ := res[0].(int64)
	if status == rotUnknown {
		return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
	}
	if len(res) != 5 {
		return sessionstore.RefreshToken{}, fmt.Errorf("%w: rotation script returned %d values", sessionstore.ErrUnavailable, len(res))
	}
	if status == rotReused {
		rt, err := refreshFrom(oldHash, res[1:])
		if err != nil {
			return sessionstore.RefreshToken{}, err
		}
		if err := r.DeleteSession(ctx, rt.SessionID, rt.UserID); err != nil {
			return sessionstore.RefreshToken{}, err
		}
		return rt, sessionstore.ErrRefreshReused
	}
	return refreshFrom(newHash, res[1:])
}

// sessionLive says whether the session is in its user's hash and has not
// ended.
func (r *Store) sessionLive(ctx context.Context, id, userID string) (bool, error) {
	v, err := r.client.HGet(ctx, r.keys.User(userID), sessionField+id).Result()
	if err == goredis.Nil {
		return false, nil
	}
	if err != nil {
		return false, storeErr(err)
	}
	until, err := decodeTimes(&sessionstore.Session{}, v)
	if err != nil {
		return false, err
	}
	return r.now().Before(until), nil
}
