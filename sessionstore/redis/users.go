package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// userFields are the user record's own fields, read by name so that the
// sessions in the same hash never reach decodeUser: id, ch (channel), idf
// (identifier), c (created, ms), r (roles, JSON), l (last sign-in, ms),
// md (metadata given at sign-up, JSON), b ("1" while blocked).
var userFields = []string{"id", "ch", "idf", "c", "r", "l", "md", "b"}

// UserByIdentifier implements sessionstore.UserStore.
func (r *Store) UserByIdentifier(ctx context.Context, channel, identifier string) (sessionstore.User, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	id, err := r.client.Get(ctx, r.keys.Identity(channel, identifier)).Result()
	if err != nil {
		return sessionstore.User{}, storeErr(err)
	}
	return r.user(ctx, id)
}

// User implements sessionstore.UserStore.
func (r *Store) User(ctx context.Context, id string) (sessionstore.User, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	return r.user(ctx, id)
}

func (r *Store) user(ctx context.Context, id string) (sessionstore.User, error) {
	vals, err := r.client.HMGet(ctx, r.keys.User(id), userFields...).Result()
	if err != nil {
		return sessionstore.User{}, storeErr(err)
	}
	if vals[0] == nil {
		return sessionstore.User{}, sessionstore.ErrNotFound
	}
	f := make([]string, len(vals))
	for i, v := range vals {
		f[i] = str(v)
	}
	return decodeUserFields(f)
}

// recordSignInScript: KEYS[1] user; ARGV: id, channel, identifier, roles
// (JSON), time (ms). Makes the record if there is none (the first sign-in,
// or one whose identity index was written and the record not), sets roles
// and last sign-in unless the user is blocked, and returns the fields of
// userFields in that order.
var recordSignInScript = newScript("recordSignIn", `#!lua
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'ch', ARGV[2], 'idf', ARGV[3], 'c', ARGV[5])
end
if redis.call('HEXISTS', KEYS[1], 'b') == 0 then
  redis.call('HSET', KEYS[1], 'r', ARGV[4], 'l', ARGV[5])
end
local f = redis.call('HMGET', KEYS[1], 'id', 'ch', 'idf', 'c', 'r', 'l', 'md', 'b')
for i = 1, #f do if not f[i] then f[i] = '' end end
return f
`)

// RecordSignIn implements sessionstore.UserStore. The identity index and
// the user are in two slots: the index is claimed first (SET NX, so of
// concurrent first sign-ins one id wins), then the user's record is made
// or updated.
func (r *Store) RecordSignIn(ctx context.Context, channel, identifier, newID string, roles []string, at time.Time) (sessionstore.User, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if roles == nil {
		roles = []string{}
	}
	rolesJSON, err := json.Marshal(roles)
	if err != nil {
		return sessionstore.User{}, err
	}
	id, err := r.client.Do(ctx, "SET", r.keys.Identity(channel, identifier), newID, "NX", "GET").Text()
	switch {
	case err == goredis.Nil:
		id = newID
	case err != nil:
		return sessionstore.User{}, storeErr(err)
	}
	res, err := recordSignInScript.Run(ctx, r.client, []string{r.keys.User(id)},
		id, channel, identifier, rolesJSON, at.UnixMilli()).StringSlice()
	if err != nil {
		return sessionstore.User{}, storeErr(err)
	}
	if len(res) != len(userFields) {
		return sessionstore.User{}, fmt.Errorf("%w: sign-in script returned %d fields", sessionstore.ErrUnavailable, len(res))
	}
	return decodeUserFields(res)
}

// setUserMetadataScript: KEYS[1] user. Only an existing user gets it.
var setUserMetadataScript = newScript("setUserMetadata", `#!lua
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'md', ARGV[1])
return 1
`)

// SetUserMetadata implements sessionstore.UserStore.
func (r *Store) SetUserMetadata(ctx context.Context, id string, metadata []byte) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	n, err := setUserMetadataScript.Run(ctx, r.client, []string{r.keys.User(id)}, metadata).Int()
	if err == nil && n == 0 {
		return sessionstore.ErrNotFound
	}
	return storeErr(err)
}

// setBlockedScript: KEYS[1] user; ARGV: "1" to block, "" to unblock.
// Only an existing user is marked.
var setBlockedScript = newScript("setBlocked", `#!lua
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'b', '1') else redis.call('HDEL', KEYS[1], 'b') end
return 1
`)

// SetBlocked implements sessionstore.UserStore: the mark (field b of the
// user's hash), then the sessions' removal, announced on
// InvalidationChannel as every removal is, so each instance's cache
// forgets them at once.
func (r *Store) SetBlocked(ctx context.Context, id string, blocked bool) (int, error) {
	bctx, cancel := r.bound(ctx)
	flag := ""
	if blocked {
		flag = "1"
	}
	n, err := setBlockedScript.Run(bctx, r.client, []string{r.keys.User(id)}, flag).Int()
	cancel()
	switch {
	case err != nil:
		return 0, storeErr(err)
	case n == 0:
		return 0, sessionstore.ErrNotFound
	case !blocked:
		return 0, nil
	}
	return r.DeleteUserSessions(ctx, id)
}

// decodeUserFields decodes the values of userFields, in that order.
func decodeUserFields(vals []string) (sessionstore.User, error) {
	f := make(map[string]string, len(userFields))
	for i, name := range userFields {
		f[name] = vals[i]
	}
	return decodeUser(f)
}

func decodeUser(f map[string]string) (sessionstore.User, error) {
	u := sessionstore.User{ID: f["id"], CreatedAt: millis(f["c"]), LastSignInAt: millis(f["l"]), Blocked: f["b"] == "1"}
	if md := f["md"]; md != "" {
		u.Metadata = []byte(md)
	}
	u.SetIdentifier(f["ch"], f["idf"])
	if rs := f["r"]; rs != "" {
		if err := json.Unmarshal([]byte(rs), &u.Roles); err != nil {
			return sessionstore.User{}, corrupt("user record", err)
		}
	}
	return u, nil
}
