package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// A session is a field of its user's hash, sessionField + its id, whose
// value is its times, "u,c,x,s", then where it signed in from, ",d,n":
// when the store may forget it (u) and when it was created (c), in
// milliseconds, then its absolute end (x) and when it was last seen (s) as
// milliseconds after c, each in base 36, as short as it gets; then its
// Device (d) and Network (n) codes, without commas, which only its
// creation writes (a touch keeps them). A field in the user's small hash
// costs far less than a key of its own, and a sign-out everywhere is one
// command on one key. Redis has no expiry for a hash's fields (before
// 7.4), so a session's field is read as gone from its u on, and removed by
// the next session made for the user. Its pointer (p:, to the user's id)
// does expire at u. A value of four parts (a session made before devices
// were recorded) reads as a session from nowhere in particular; parts
// after the sixth are left for later and ignored.
//
// The Lua scripts spell the field out too ('s:', two bytes, as string.sub
// assumes, and u first, and four times before the first part they keep);
// change them together.
const sessionField = "s:"

// encodeTimes is the first four parts of a session's value.
func encodeTimes(s sessionstore.Session, until time.Time) string {
	b36 := func(ms int64) string { return strconv.FormatInt(ms, 36) }
	c := s.CreatedAt.UnixMilli()
	return b36(until.UnixMilli()) + "," + b36(c) + "," + b36(s.ExpiresAt.UnixMilli()-c) + "," + b36(s.LastSeenAt.UnixMilli()-c)
}

// encodeSession is a new session's whole value.
func encodeSession(s sessionstore.Session, until time.Time) string {
	v := encodeTimes(s, until)
	if s.Device != "" || s.Network != "" {
		v += "," + strings.ReplaceAll(s.Device, ",", "") + "," + strings.ReplaceAll(s.Network, ",", "")
	}
	return v
}

// decodeTimes fills s's times, device and network from a session field's
// value and says until when it lives.
func decodeTimes(s *sessionstore.Session, v string) (until time.Time, err error) {
	parts := strings.Split(v, ",")
	if len(parts) < 4 {
		return time.Time{}, corrupt("session", fmt.Errorf("%d times", len(parts)))
	}
	var ms [4]int64
	for i, p := range parts[:4] {
		if ms[i], err = strconv.ParseInt(p, 36, 64); err != nil {
			return time.Time{}, corrupt("session", err)
		}
	}
	c := ms[1]
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt = time.UnixMilli(c), time.UnixMilli(c+ms[2]), time.UnixMilli(c+ms[3])
	if len(parts) > 4 {
		s.Device = parts[4]
	}
	if len(parts) > 5 {
		s.Network = parts[5]
	}
	return time.UnixMilli(ms[0]), nil
}

// createSessionScript: KEYS[1] user; ARGV: field, times, now (ms). Adds
// the session to a user that exists, and removes the user's sessions that
// have ended, so the hash stays as small as the live sessions. Running it
// twice writes the same. Returns 1, or 0 for a user who does not exist.
var createSessionScript = newScript("createSession", `#!lua
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
local now = tonumber(ARGV[3])
local f = redis.call('HGETALL', KEYS[1])
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 2) == 's:' then
    local u = tonumber(string.match(f[i + 1], '^(%w+)') or '', 36)
    if not u or u <= now then redis.call('HDEL', KEYS[1], f[i]) end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// CreateSession implements sessionstore.SessionStore. A session of a user
// who does not exist is not stored: it would never be found anyway.
func (r *Store) CreateSession(ctx context.Context, s sessionstore.Session, until time.Time) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	cmd, err := runPiped(ctx, r.client, createSessionScript, []string{r.keys.User(s.UserID)},
		[]any{sessionField + s.ID, encodeSession(s, until), r.now().UnixMilli()},
		func(p goredis.Pipeliner) {
			p.SetArgs(ctx, r.keys.Pointer(s.ID), s.UserID, goredis.SetArgs{ExpireAt: until})
		})
	if err == nil {
		err = cmd.Err()
	}
	return storeErr(err)
}

// Session implements sessionstore.SessionStore.
func (r *Store) Session(ctx context.Context, id string) (sessionstore.Session, error) {
	if r.cache == nil {
		return r.readSession(ctx, id)
	}
	key := r.keys.Session(id)
	if s, ok := r.cache.get(key); ok {
		return s, nil
	}
	gen := r.cache.generation()
	s, err := r.readSession(ctx, id)
	if err == nil {
		r.cache.put(key, s, gen)
	}
	return s, err
}

// readSession reads the session's pointer, then its user's identity,
// roles and the session's times, in two round trips (two slots).
func (r *Store) readSession(ctx context.Context, id string) (sessionstore.Session, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	uid, err := r.client.Get(ctx, r.keys.Pointer(id)).Result()
	if err != nil {
		return sessionstore.Session{}, storeErr(err)
	}
	vals, err := r.client.HMGet(ctx, r.keys.User(uid), "ch", "idf", "r", sessionField+id).Result()
	if err != nil {
		return sessionstore.Session{}, storeErr(err)
	}
	if vals[0] == nil || vals[3] == nil {
		return sessionstore.Session{}, sessionstore.ErrNotFound
	}
	u, err := decodeUser(map[string]string{"ch": str(vals[0]), "idf": str(vals[1]), "r": str(vals[2])})
	if err != nil {
		return sessionstore.Session{}, err
	}
	s := sessionstore.Session{ID: id, UserID: uid, Email: u.Email, Phone: u.Phone, Roles: u.Roles}
	until, err := decodeTimes(&s, str(vals[3]))
	if err != nil {
		return sessionstore.Session{}, err
	}
	if !r.now().Before(until) {
		return sessionstore.Session{}, sessionstore.ErrNotFound
	}
	return s, nil
}

// touchSessionScript: KEYS[1] user; ARGV: field, times, now (ms). Replaces
// the session's times only while it lives, so a logout is never undone,
// and keeps what follows them (its device and network).
var touchSessionScript = newScript("touchSession", `#!lua
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local u = tonumber(string.match(v, '^(%w+)') or '', 36)
if not u or u <= tonumber(ARGV[3]) then return 0 end
local rest = string.match(v, '^[^,]*,[^,]*,[^,]*,[^,]*(,.*)$') or ''
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. rest)
return 1
`)

// TouchSession implements sessionstore.SessionStore.
func (r *Store) TouchSession(ctx context.Context, s sessionstore.Session, until time.Time) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	var gen uint64
	if r.cache != nil {
		gen = r.cache.generation()
	}
	n, err := touchSessionScript.Run(ctx, r.client, []string{r.keys.User(s.UserID)},
		sessionField+s.ID, encodeTimes(s, until), r.now().UnixMilli()).Int()
	if err != nil {
		return storeErr(err)
	}
	if n == 0 {
		return sessionstore.ErrNotFound
	}
	if err := r.client.PExpireAt(ctx, r.keys.Pointer(s.ID), until).Err(); err != nil {
		return storeErr(err)
	}
	if r.cache != nil {
		r.cache.put(r.keys.Session(s.ID), s, gen)
	}
	return nil
}

// deleteSessionScript: KEYS[1] user; ARGV: field, invalidation channel,
// notice (the session's key). Running it twice only says it again.
var deleteSessionScript = newScript("deleteSession", `#!lua
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n
`)

// DeleteSession implements sessionstore.SessionStore.
func (r *Store) DeleteSession(ctx context.Context, id, userID string) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	key := r.keys.Session(id)
	cmd, err := runPiped(ctx, r.client, deleteSessionScript, []string{r.keys.User(userID)},
		[]any{sessionField + id, InvalidationChannel, key},
		func(p goredis.Pipeliner) { p.Del(ctx, r.keys.Pointer(id)) })
	if r.cache != nil {
		r.cache.forget(key)
	}
	if err == nil {
		err = cmd.Err()
	}
	return storeErr(err)
}

// deleteUserSessionsScript: KEYS[1] user; ARGV: now (ms), invalidation
// channel, session key prefix. Removes every session of the user and
// announces each; returns how many were live, then every session's id.
var deleteUserSessionsScript = newScript("deleteUserSessions", `#!lua
local live, ids = 0, {}
local f = redis.call('HGETALL', KEYS[1])
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 2) == 's:' then
    local id = string.sub(f[i], 3)
    local u = tonumber(string.match(f[i + 1], '^(%w+)') or '', 36)
    if u and u > tonumber(ARGV[1]) then live = live + 1 end
    redis.call('HDEL', KEYS[1], f[i])
    redis.call('PUBLISH', ARGV[2], ARGV[3] .. id)
    table.insert(ids, id)
  end
end
table.insert(ids, 1, live)
return ids
`)

// DeleteUserSessions implements sessionstore.SessionStore. The sessions'
// pointers go after them (other slots); one left behind by a lost
// connection points to a session that is gone, and expires with it.
func (r *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	res, err := deleteUserSessionsScript.Run(ctx, r.client, []string{r.keys.User(userID)},
		r.now().UnixMilli(), InvalidationChannel, r.keys.Session("")).Slice()
	if r.cache != nil {
		r.cache.forgetUser(r.keys.Session(""), userID)
	}
	if err != nil {
		return 0, storeErr(err)
	}
	live, _ := res[0].(int64)
	if len(res) > 1 {
		_, err = r.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, id := range res[1:] {
				p.Del(ctx, r.keys.Pointer(str(id)))
			}
			return nil
		})
	}
	return int(live), storeErr(err)
}

// UserSessions implements sessionstore.SessionStore: one read of the
// user's hash.
func (r *Store) UserSessions(ctx context.Context, userID string) ([]sessionstore.Session, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	f, err := r.client.HGetAll(ctx, r.keys.User(userID)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if f["id"] == "" {
		return nil, nil
	}
	u, err := decodeUser(f)
	if err != nil {
		return nil, err
	}
	now := r.now()
	var out []sessionstore.Session
	for k, v := range f {
		id, ok := strings.CutPrefix(k, sessionField)
		if !ok {
			continue
		}
		s := sessionstore.Session{ID: id, UserID: userID, Email: u.Email, Phone: u.Phone, Roles: slices.Clone(u.Roles)}
		until, err := decodeTimes(&s, v)
		if err != nil {
			return nil, err
		}
		if now.Before(until) {
			out = append(out, s)
		}
	}
	sessionstore.SortSessions(out)
	return out, nil
}
