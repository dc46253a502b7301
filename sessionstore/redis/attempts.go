package redis

import (
	"bytes"
	"context"
	"encoding/hex"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// An attempt's hash has the fields ch (channel), idf (identifier), mac
// (code MAC), th (token hash, hex; empty without a link), rt (redirect),
// cu (create user), c and x (created, expires; ms), t (tries) and f ("1"
// once failed). Its token index (t:) and the address's latest-attempt
// pointer (n:) live in other slots: they are written with it in one
// pipeline and only ever point to it, so a pointer left behind by a lost
// write finds an attempt that is gone or is not the one it names, which
// reads as none.

// createAttemptScript: KEYS[1] attempt; ARGV: expiry (ms), then field,
// value pairs. A script, so the hash never exists without its expiry;
// running it twice writes the same.
var createAttemptScript = newScript("createAttempt", `#!lua
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`)

// CreateAttempt implements sessionstore.AttemptStore.
func (r *Store) CreateAttempt(ctx context.Context, a sessionstore.Attempt) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	x := a.ExpiresAt.UnixMilli()
	cmd, err := runPiped(ctx, r.client, createAttemptScript, []string{r.keys.Attempt(a.ID)}, []any{x,
		"ch", a.Channel,
		"idf", a.Identifier,
		"mac", a.CodeMAC,
		"th", hex.EncodeToString(a.TokenHash),
		"rt", a.RedirectTo,
		"cu", strconv.FormatBool(a.CreateUser),
		"d", a.Data,
		"c", a.CreatedAt.UnixMilli(),
		"x", x,
		"t", 0,
	}, func(p goredis.Pipeliner) {
		if len(a.TokenHash) > 0 {
			p.SetArgs(ctx, r.keys.Token(a.TokenHash), a.ID, goredis.SetArgs{ExpireAt: a.ExpiresAt})
		}
		p.SetArgs(ctx, r.keys.Latest(a.Channel, a.Identifier), a.ID, goredis.SetArgs{ExpireAt: a.ExpiresAt})
	})
	if err == nil {
		err = cmd.Err()
	}
	return storeErr(err)
}

// attemptVia reads the attempt a pointer names. The pointer is in another
// slot, so this is two round trips.
func (r *Store) attemptVia(ctx context.Context, pointer string) (sessionstore.Attempt, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	id, err := r.client.Get(ctx, pointer).Result()
	if err != nil {
		return sessionstore.Attempt{}, storeErr(err)
	}
	f, err := r.client.HGetAll(ctx, r.keys.Attempt(id)).Result()
	if err != nil {
		return sessionstore.Attempt{}, storeErr(err)
	}
	if len(f) == 0 {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	return decodeAttempt(id, f), nil
}

// AttemptByToken implements sessionstore.AttemptStore.
func (r *Store) AttemptByToken(ctx context.Context, tokenHash []byte) (sessionstore.Attempt, error) {
	if len(tokenHash) == 0 {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	a, err := r.attemptVia(ctx, r.keys.Token(tokenHash))
	// A failed attempt has no token any more, whatever its index says.
	if err == nil && !bytes.Equal(a.TokenHash, tokenHash) {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	return a, err
}

// LatestAttempt implements sessionstore.AttemptStore.
func (r *Store) LatestAttempt(ctx context.Context, channel, identifier string) (sessionstore.Attempt, error) {
	a, err := r.attemptVia(ctx, r.keys.Latest(channel, identifier))
	if err == nil && (a.Channel != channel || a.Identifier != identifier) {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	return a, err
}

// tryAttemptScript: KEYS[1] attempt. A failed attempt (field f) counts
// no try.
var tryAttemptScript = newScript("tryAttempt", `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if redis.call('HGET', KEYS[1], 'f') ~= '1' then redis.call('HINCRBY', KEYS[1], 't', 1) end
return redis.call('HGETALL', KEYS[1])
`)

// TryAttempt implements sessionstore.AttemptStore.
func (r *Store) TryAttempt(ctx context.Context, id string) (sessionstore.Attempt, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	res, err := tryAttemptScript.Run(ctx, r.client, []string{r.keys.Attempt(id)}).StringSlice()
	if err != nil {
		return sessionstore.Attempt{}, storeErr(err)
	}
	return decodeAttempt(id, pairs(res)), nil
}

func decodeAttempt(id string, f map[string]string) sessionstore.Attempt {
	tries, _ := strconv.Atoi(f["t"])
	createUser, _ := strconv.ParseBool(f["cu"])
	a := sessionstore.Attempt{
		ID:         id,
		Channel:    f["ch"],
		Identifier: f["idf"],
		CodeMAC:    []byte(f["mac"]),
		RedirectTo: f["rt"],
		CreateUser: createUser,
		CreatedAt:  millis(f["c"]),
		ExpiresAt:  millis(f["x"]),
		Tries:      tries,
		Failed:     f["f"] == "1",
	}
	if d := f["d"]; d != "" {
		a.Data = []byte(d)
	}
	if th := f["th"]; th != "" {
		a.TokenHash, _ = hex.DecodeString(th)
	}
	return a
}

// deleteAttemptScript: KEYS[1] attempt. Returns {1 if this call deleted
// it, its token hash}.
var deleteAttemptScript = newScript("deleteAttempt", `#!lua
local th = redis.call('HGET', KEYS[1], 'th') or ''
return {redis.call('DEL', KEYS[1]), th}
`)

// DeleteAttempt implements sessionstore.AttemptStore. The token index goes
// after the attempt, so a consumed code leaves no usable link (the index
// alone finds nothing) and the reverse.
func (r *Store) DeleteAttempt(ctx context.Context, id string) (bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	res, err := deleteAttemptScript.Run(ctx, r.client, []string{r.keys.Attempt(id)}).Slice()
	if err != nil {
		return false, storeErr(err)
	}
	deleted, _ := res[0].(int64)
	return deleted == 1, r.dropTokenIndex(ctx, str(res[1]))
}

// failAttemptScript: KEYS[1] attempt. HSET keeps the key's expiry, so a
// failed attempt still ends with its code's TTL. Returns its token hash,
// or false if it is gone.
var failAttemptScript = newScript("failAttempt", `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local th = redis.call('HGET', KEYS[1], 'th') or ''
redis.call('HSET', KEYS[1], 'f', '1', 'mac', '', 'th', '')
return th
`)

// FailAttempt implements sessionstore.AttemptStore.
func (r *Store) FailAttempt(ctx context.Context, id string) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	th, err := failAttemptScript.Run(ctx, r.client, []string{r.keys.Attempt(id)}).Text()
	if err != nil {
		if err == goredis.Nil {
			return nil
		}
		return storeErr(err)
	}
	return r.dropTokenIndex(ctx, th)
}

// dropTokenIndex deletes the token index of an attempt that no longer has
// a token. Left behind (a lost connection), it would find nothing usable
// until it expired with the attempt.
func (r *Store) dropTokenIndex(ctx context.Context, th string) error {
	if th == "" {
		return nil
	}
	hash, err := hex.DecodeString(th)
	if err != nil {
		return corrupt("attempt", err)
	}
	return storeErr(r.client.Del(ctx, r.keys.Token(hash)).Err())
}
