// Package redis is a sessionstore.Store in Redis, shared by every passgate
// instance pointed at the same server, with an in-process cache of
// sessions fed by Redis pub/sub.
package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// DefaultTimeout bounds every Redis operation, so that a stopped or hung
// server turns into sessionstore.ErrUnavailable instead of a hanging
// request.
const DefaultTimeout = 2 * time.Second

// NewClient makes a client for a redis:// or rediss:// URL whose dial,
// read, write and pool waits are all bounded by timeout. name is sent with
// CLIENT SETNAME, so operators can find passgate's connections.
func NewClient(url string, timeout time.Duration, name string) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opts.ClientName = name
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	opts.ContextTimeoutEnabled = true
	// No command is ever sent twice: a connection lost after Redis ran a
	// script but before its reply arrived would run it again (rotate a
	// refresh token twice, count a try twice). Connections the server
	// closed while idle (a restart) are found and dropped by the pool's
	// check before use, so a restart needs no retry. (In go-redis, 0
	// means the default of 3; -1 means none.) A failed dial sends nothing,
	// so one more dial is safe.
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.DisableIdentity = true
	return goredis.NewClient(opts), nil
}

// Store is a sessionstore.Store in Redis, shared by every instance pointed
// at it. Every key starts with the prefix, so several deployments can share
// one database. Multi-key changes run as Lua scripts, so they are atomic.
type Store struct {
	client  goredis.UniversalClient
	prefix  string
	timeout time.Duration
	cache   *SessionCache // nil: every lookup reads Redis
}

// New returns a Store using client, which it does not own: closing the
// client is the caller's business. Each operation is bounded by timeout
// (DefaultTimeout if zero).
func New(client goredis.UniversalClient, prefix string, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Store{client: client, prefix: prefix, timeout: timeout}
}

func (r *Store) attemptKey(id string) string { return r.prefix + "a:" + id }
func (r *Store) tokenKey(hash []byte) string { return r.prefix + "t:" + hex.EncodeToString(hash) }
func (r *Store) userKey(id string) string    { return r.prefix + "u:" + id }
func (r *Store) identityKey(channel, identifier string) string {
	return r.prefix + "i:" + channel + ":" + identifier
}
func (r *Store) sessionKey(id string) string { return r.prefix + "s:" + id }
func (r *Store) latestKey(channel, identifier string) string {
	return r.prefix + "n:" + channel + ":" + identifier
}

// A user's sessions are indexed in the user's own hash, as fields named
// sessionField + session id with an empty value: a field in a small hash
// costs far less than a set of its own.
//
// The Lua scripts spell it out too ('s:', two bytes, as string.sub
// assumes): createSessionScript, deleteUserSessionsScript and
// rotateRefreshScript; change them together.
const sessionField = "s:"

// userFields are the user record's own fields, read by name so that the
// session index in the same hash never reaches decodeUser.
var userFields = []string{"id", "ch", "idf", "c", "r", "l", "md"}

func (r *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.timeout)
}

func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return sessionstore.ErrNotFound
	default:
		return fmt.Errorf("%w: %v", sessionstore.ErrUnavailable, err)
	}
}

// CreateAttempt implements sessionstore.AttemptStore.
func (r *Store) CreateAttempt(ctx context.Context, a sessionstore.Attempt) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	key := r.attemptKey(a.ID)
	// The attempt names its token index, so that deleting the attempt can
	// delete the index in the same script.
	tokenIndex := ""
	if len(a.TokenHash) > 0 {
		tokenIndex = r.tokenKey(a.TokenHash)
	}
	_, err := r.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, key,
			"ch", a.Channel,
			"idf", a.Identifier,
			"mac", a.CodeMAC,
			"th", tokenIndex,
			"rt", a.RedirectTo,
			"cu", strconv.FormatBool(a.CreateUser),
			"d", a.Data,
			"c", a.CreatedAt.UnixMilli(),
			"x", a.ExpiresAt.UnixMilli(),
			"t", 0,
		)
		p.PExpireAt(ctx, key, a.ExpiresAt)
		if tokenIndex != "" {
			p.Set(ctx, tokenIndex, a.ID, 0)
			p.PExpireAt(ctx, tokenIndex, a.ExpiresAt)
		}
		latest := r.latestKey(a.Channel, a.Identifier)
		p.Set(ctx, latest, a.ID, 0)
		p.PExpireAt(ctx, latest, a.ExpiresAt)
		return nil
	})
	return storeErr(err)
}

// LatestAttempt implements sessionstore.AttemptStore.
func (r *Store) LatestAttempt(ctx context.Context, channel, identifier string) (sessionstore.Attempt, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	id, err := r.client.Get(ctx, r.latestKey(channel, identifier)).Result()
	if err != nil {
		return sessionstore.Attempt{}, storeErr(err)
	}
	f, err := r.client.HGetAll(ctx, r.attemptKey(id)).Result()
	if err != nil {
		return sessionstore.Attempt{}, storeErr(err)
	}
	if len(f) == 0 {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	return decodeAttempt(id, f), nil
}

// attemptByTokenScript: KEYS[1] token index; ARGV[1] attempt key prefix.
// Returns the attempt id followed by its fields.
var attemptByTokenScript = goredis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
local f = redis.call('HGETALL', ARGV[1] .. id)
if #f == 0 then return false end
table.insert(f, 1, id)
return f
`)

// AttemptByToken implements sessionstore.AttemptStore.
func (r *Store) AttemptByToken(ctx context.Context, tokenHash []byte) (sessionstore.Attempt, error) {
	if len(tokenHash) == 0 {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	res, err := attemptByTokenScript.Run(ctx, r.client, []string{r.tokenKey(tokenHash)}, r.attemptKey("")).StringSlice()
	if err != nil {
		return sessionstore.Attempt{}, storeErr(err)
	}
	a := decodeAttempt(res[0], pairs(res[1:]))
	a.TokenHash = append([]byte(nil), tokenHash...)
	return a, nil
}

// tryAttemptScript: KEYS[1] attempt. A failed attempt (field f) counts
// no try.
var tryAttemptScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if redis.call('HGET', KEYS[1], 'f') ~= '1' then redis.call('HINCRBY', KEYS[1], 't', 1) end
return redis.call('HGETALL', KEYS[1])
`)

// TryAttempt implements sessionstore.AttemptStore.
func (r *Store) TryAttempt(ctx context.Context, id string) (sessionstore.Attempt, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	res, err := tryAttemptScript.Run(ctx, r.client, []string{r.attemptKey(id)}).StringSlice()
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
		// The field holds the index key; the hash is its last part.
		a.TokenHash, _ = hex.DecodeString(th[strings.LastIndex(th, ":")+1:])
	}
	return a
}

// deleteAttemptScript: KEYS[1] attempt. The token index it names goes with
// it, so a consumed code leaves no usable link and the reverse.
var deleteAttemptScript = goredis.NewScript(`
local ti = redis.call('HGET', KEYS[1], 'th')
if ti and ti ~= '' then redis.call('DEL', ti) end
return redis.call('DEL', KEYS[1])
`)

// DeleteAttempt implements sessionstore.AttemptStore.
func (r *Store) DeleteAttempt(ctx context.Context, id string) (bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	n, err := deleteAttemptScript.Run(ctx, r.client, []string{r.attemptKey(id)}).Int()
	return n == 1, storeErr(err)
}

// failAttemptScript: KEYS[1] attempt. HSET keeps the key's expiry, so a
// failed attempt still ends with its code's TTL.
var failAttemptScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ti = redis.call('HGET', KEYS[1], 'th')
if ti and ti ~= '' then redis.call('DEL', ti) end
redis.call('HSET', KEYS[1], 'f', '1', 'mac', '', 'th', '')
return 1
`)

// FailAttempt implements sessionstore.AttemptStore.
func (r *Store) FailAttempt(ctx context.Context, id string) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	return storeErr(failAttemptScript.Run(ctx, r.client, []string{r.attemptKey(id)}).Err())
}

// UserByIdentifier implements sessionstore.UserStore.
func (r *Store) UserByIdentifier(ctx context.Context, channel, identifier string) (sessionstore.User, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	id, err := r.client.Get(ctx, r.identityKey(channel, identifier)).Result()
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
	vals, err := r.client.HMGet(ctx, r.userKey(id), userFields...).Result()
	if err != nil {
		return sessionstore.User{}, storeErr(err)
	}
	if vals[0] == nil {
		return sessionstore.User{}, sessionstore.ErrNotFound
	}
	f := make([]string, len(vals))
	for i, v := range vals {
		f[i], _ = v.(string)
	}
	return decodeUserFields(f)
}

// recordSignInScript: KEYS[1] identity index; ARGV: new id, user key
// prefix, channel, identifier, roles (JSON), time (ms). Returns the user's
// fields id, ch, idf, c, r, l, md in that order (userFields).
var recordSignInScript = goredis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then
  id = ARGV[1]
  redis.call('SET', KEYS[1], id)
  redis.call('HSET', ARGV[2] .. id, 'id', id, 'ch', ARGV[3], 'idf', ARGV[4], 'c', ARGV[6])
end
redis.call('HSET', ARGV[2] .. id, 'r', ARGV[5], 'l', ARGV[6])
local f = redis.call('HMGET', ARGV[2] .. id, 'id', 'ch', 'idf', 'c', 'r', 'l', 'md')
for i = 1, #f do if not f[i] then f[i] = '' end end
return f
`)

// RecordSignIn implements sessionstore.UserStore.
func (r *Store) RecordSignIn(ctx context.Context, channel, identifier, newID string, roles []string, at time.Time) (sessionstore.User, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	rolesJSON, err := json.Marshal(nonNil(roles))
	if err != nil {
		return sessionstore.User{}, err
	}
	res, err := recordSignInScript.Run(ctx, r.client,
		[]string{r.identityKey(channel, identifier)},
		newID, r.userKey(""), channel, identifier, rolesJSON, at.UnixMilli(),
	).StringSlice()
	if err != nil {
		return sessionstore.User{}, storeErr(err)
	}
	if len(res) != len(userFields) {
		return sessionstore.User{}, fmt.Errorf("%w: sign-in script returned %d fields", sessionstore.ErrUnavailable, len(res))
	}
	return decodeUserFields(res)
}

// setUserMetadataScript: KEYS[1] user. Only an existing user gets it.
var setUserMetadataScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'md', ARGV[1])
return 1
`)

// SetUserMetadata implements sessionstore.UserStore.
func (r *Store) SetUserMetadata(ctx context.Context, id string, metadata []byte) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	n, err := setUserMetadataScript.Run(ctx, r.client, []string{r.userKey(id)}, metadata).Int()
	if err == nil && n == 0 {
		return sessionstore.ErrNotFound
	}
	return storeErr(err)
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
	u := sessionstore.User{ID: f["id"], CreatedAt: millis(f["c"]), LastSignInAt: millis(f["l"])}
	if md := f["md"]; md != "" {
		u.Metadata = []byte(md)
	}
	u.SetIdentifier(f["ch"], f["idf"])
	if rs := f["r"]; rs != "" {
		if err := json.Unmarshal([]byte(rs), &u.Roles); err != nil {
			return sessionstore.User{}, fmt.Errorf("%w: corrupt user record: %v", sessionstore.ErrUnavailable, err)
		}
	}
	return u, nil
}

// redisSession is the stored form of a Session: only what is the
// session's own, the user and the times, in short names (its id is the
// key, not repeated here). Identity and roles are the user's record's,
// joined on read.
type redisSession struct {
	UserID   string `json:"u"`
	Created  int64  `json:"c"`
	Expires  int64  `json:"x"`
	LastSeen int64  `json:"s"`
}

func encodeSession(s sessionstore.Session) ([]byte, error) {
	return json.Marshal(redisSession{
		UserID:  s.UserID,
		Created: s.CreatedAt.UnixMilli(), Expires: s.ExpiresAt.UnixMilli(), LastSeen: s.LastSeenAt.UnixMilli(),
	})
}

// createSessionScript: KEYS[1] session, KEYS[2] user; ARGV: session id,
// encoded session, expiry (ms), session key prefix. Index fields whose
// session is gone are pruned, so the index stays as small as the live
// sessions.
var createSessionScript = goredis.NewScript(`
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(f, 1, 2) == 's:' and redis.call('EXISTS', ARGV[4] .. string.sub(f, 3)) == 0 then
    redis.call('HDEL', KEYS[2], f)
  end
end
redis.call('HSET', KEYS[2], 's:' .. ARGV[1], '')
return 1
`)

// CreateSession implements sessionstore.SessionStore.
func (r *Store) CreateSession(ctx context.Context, s sessionstore.Session, until time.Time) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	val, err := encodeSession(s)
	if err != nil {
		return err
	}
	err = createSessionScript.Run(ctx, r.client,
		[]string{r.sessionKey(s.ID), r.userKey(s.UserID)},
		s.ID, val, until.UnixMilli(), r.sessionKey(""),
	).Err()
	return storeErr(err)
}

// Session implements sessionstore.SessionStore.
func (r *Store) Session(ctx context.Context, id string) (sessionstore.Session, error) {
	if r.cache == nil {
		return r.readSession(ctx, id)
	}
	key := r.sessionKey(id)
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

// readSessionScript: KEYS[1] session; ARGV[1] user key prefix. Returns the
// stored session and its user's channel, identifier and roles, or nil if
// either is gone.
var readSessionScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local ok, s = pcall(cjson.decode, v)
if not ok or type(s) ~= 'table' or type(s.u) ~= 'string' then
  return redis.error_reply('corrupt session record')
end
local f = redis.call('HMGET', ARGV[1] .. s.u, 'ch', 'idf', 'r')
if not f[1] then return false end
return {v, f[1], f[2] or '', f[3] or ''}
`)

func (r *Store) readSession(ctx context.Context, id string) (sessionstore.Session, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	res, err := readSessionScript.Run(ctx, r.client, []string{r.sessionKey(id)}, r.userKey("")).StringSlice()
	if err != nil {
		return sessionstore.Session{}, storeErr(err)
	}
	if len(res) != 4 {
		return sessionstore.Session{}, fmt.Errorf("%w: session script returned %d values", sessionstore.ErrUnavailable, len(res))
	}
	var rs redisSession
	if err := json.Unmarshal([]byte(res[0]), &rs); err != nil {
		return sessionstore.Session{}, fmt.Errorf("%w: corrupt session record: %v", sessionstore.ErrUnavailable, err)
	}
	s := sessionstore.Session{
		ID: id, UserID: rs.UserID,
		CreatedAt:  time.UnixMilli(rs.Created),
		ExpiresAt:  time.UnixMilli(rs.Expires),
		LastSeenAt: time.UnixMilli(rs.LastSeen),
	}
	u, err := decodeUser(map[string]string{"ch": res[1], "idf": res[2], "r": res[3]})
	if err != nil {
		return sessionstore.Session{}, err
	}
	s.Email, s.Phone, s.Roles = u.Email, u.Phone, u.Roles
	return s, nil
}

// TouchSession implements sessionstore.SessionStore.
func (r *Store) TouchSession(ctx context.Context, s sessionstore.Session, until time.Time) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	val, err := encodeSession(s)
	if err != nil {
		return err
	}
	var gen uint64
	if r.cache != nil {
		gen = r.cache.generation()
	}
	// XX: only while the session still exists, so a logout is never undone.
	err = r.client.SetArgs(ctx, r.sessionKey(s.ID), val, goredis.SetArgs{Mode: "XX", ExpireAt: until}).Err()
	if err == nil && r.cache != nil {
		r.cache.put(r.sessionKey(s.ID), s, gen)
	}
	return storeErr(err)
}

// DeleteSession implements sessionstore.SessionStore.
func (r *Store) DeleteSession(ctx context.Context, id, userID string) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	_, err := r.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, r.sessionKey(id))
		p.HDel(ctx, r.userKey(userID), sessionField+id)
		p.Publish(ctx, InvalidationChannel, r.sessionKey(id))
		return nil
	})
	if r.cache != nil {
		r.cache.forget(r.sessionKey(id))
	}
	return storeErr(err)
}

// deleteUserSessionsScript: KEYS[1] user; ARGV[1] session key prefix,
// ARGV[2] invalidation channel. Returns how many sessions it deleted.
var deleteUserSessionsScript = goredis.NewScript(`
local n = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 's:' then
    local k = ARGV[1] .. string.sub(f, 3)
    n = n + redis.call('DEL', k)
    redis.call('PUBLISH', ARGV[2], k)
    redis.call('HDEL', KEYS[1], f)
  end
end
return n
`)

// DeleteUserSessions implements sessionstore.SessionStore.
func (r *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	n, err := deleteUserSessionsScript.Run(ctx, r.client,
		[]string{r.userKey(userID)}, r.sessionKey(""), InvalidationChannel).Int()
	if r.cache != nil {
		r.cache.forgetUser(r.sessionKey(""), userID)
	}
	return n, storeErr(err)
}

// UserSessions implements sessionstore.SessionStore.
func (r *Store) UserSessions(ctx context.Context, userID string) ([]sessionstore.Session, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	var fields *goredis.StringSliceCmd
	var user *goredis.SliceCmd
	if _, err := r.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		user = p.HMGet(ctx, r.userKey(userID), "ch", "idf", "r")
		fields = p.HKeys(ctx, r.userKey(userID))
		return nil
	}); err != nil {
		return nil, storeErr(err)
	}
	vals := user.Val()
	if vals[0] == nil {
		return nil, nil
	}
	str := func(v any) string { s, _ := v.(string); return s }
	u, err := decodeUser(map[string]string{"ch": str(vals[0]), "idf": str(vals[1]), "r": str(vals[2])})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range fields.Val() {
		if id, ok := strings.CutPrefix(f, sessionField); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.sessionKey(id)
	}
	vs, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	var out []sessionstore.Session
	for i, v := range vs {
		val, ok := v.(string)
		if !ok {
			continue
		}
		var rs redisSession
		if err := json.Unmarshal([]byte(val), &rs); err != nil || rs.UserID != userID {
			continue
		}
		out = append(out, sessionstore.Session{
			ID: ids[i], UserID: userID, Email: u.Email, Phone: u.Phone, Roles: slices.Clone(u.Roles),
			CreatedAt:  time.UnixMilli(rs.Created),
			ExpiresAt:  time.UnixMilli(rs.Expires),
			LastSeenAt: time.UnixMilli(rs.LastSeen),
		})
	}
	sessionstore.SortSessions(out)
	return out, nil
}

func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var _ sessionstore.Store = (*Store)(nil)
