// Package redis is a sessionstore.Store in Redis, shared by every passgate
// instance pointed at the same Redis: one server, a master found through
// Sentinel, or a Cluster. It has an in-process cache of sessions fed by
// Redis pub/sub (SessionCache).
//
// # Keys
//
// Every key starts with the store's prefix (P below). Each script touches
// one key, or the two keys of one refresh-token chain, which share a hash
// tag; every key a script touches is in its KEYS; so no script or
// transaction spans two hash slots, whatever the cluster's layout:
//
//	P a:<attempt id>            hash: an attempt (channel, identifier, code MAC, token hash, tries, ...); expires with it
//	P t:<token hash, hex>       string: the attempt id of a magic-link token; expires with the attempt
//	P n:<channel>:<identifier>  string: the id of the latest attempt for an address; expires with it
//	P i:<channel>:<identifier>  string: the user id of an address
//	P u:<user id>               hash: the user (id, ch, idf, c, r, l) and each of its sessions, field s:<session id>
//	P p:<session id, 22 chars>  string: the user id of a session; expires with it
//	P r:{<chain>}<token hash>   hash: a refresh token (session, user, AMR, end, spent); expires with its chain
//	P l:<limit key>             sorted set: the events of a rate limit
//
// Everything of one user that must change together is one key, the user's
// hash: its identity and roles, and its sessions with their times, so a
// sign-out everywhere, the list of a user's sessions and a session's
// identity are each one command on one key. A session is found from its id
// through its pointer (p:), which costs a second round trip on a read; the
// session cache saves most of them. The pointer is named by the first 132
// bits of the id, to keep it small; the session itself, checked after it,
// is named by the whole id. Revocation notices (and the session cache)
// name a session P s:<session id>; no key has that name.
package redis

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Store is a sessionstore.Store in Redis, shared by every instance pointed
// at it. Every key starts with the prefix, so several deployments can share
// one database.
type Store struct {
	client  goredis.UniversalClient
	keys    Keys
	timeout time.Duration
	cache   *SessionCache // nil: every lookup reads Redis
	now     func() time.Time
}

// New returns a Store using client, which it does not own: closing the
// client is the caller's business. Each operation is bounded by timeout
// (DefaultTimeout if zero).
func New(client goredis.UniversalClient, prefix string, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Store{client: client, keys: Keys{prefix}, timeout: timeout, now: time.Now}
}

// Keys names the keys of a store with a prefix (see the package comment).
type Keys struct{ Prefix string }

func (k Keys) Attempt(id string) string { return k.Prefix + "a:" + id }

func (k Keys) Token(hash []byte) string { return k.Prefix + "t:" + hex.EncodeToString(hash) }

func (k Keys) Latest(channel, identifier string) string {
	return k.Prefix + "n:" + channel + ":" + identifier
}

func (k Keys) Identity(channel, identifier string) string {
	return k.Prefix + "i:" + channel + ":" + identifier
}

func (k Keys) User(id string) string { return k.Prefix + "u:" + id }

// Pointer is the key of the session's pointer to its user.
func (k Keys) Pointer(id string) string { return k.Prefix + "p:" + id[:min(len(id), pointerLen)] }

// pointerLen is how much of a session id names its pointer: 22 base64url
// characters, 132 bits, so that no two sessions' pointers ever meet.
const pointerLen = 22

// Session is the name revocation notices and the session cache give the
// session (no key has it).
func (k Keys) Session(id string) string { return k.Prefix + "s:" + id }

// Refresh is the key of a refresh token's hash: behind its chain's hash
// tag, so that every token of a chain is in one slot.
func (k Keys) Refresh(hash string) string {
	return k.Prefix + "r:{" + sessionstore.RefreshChain(hash) + "}" + hash
}

func (k Keys) Limit(key string) string { return k.Prefix + "l:" + key }

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

func corrupt(what string, err error) error {
	return fmt.Errorf("%w: corrupt %s: %v", sessionstore.ErrUnavailable, what, err)
}

// scripts are every Lua script of the store, for the tests that check
// them (each starts with a #!lua line, so Redis 7 refuses a key outside
// the declared ones' slot; each touches only keys from KEYS) and run each
// against a cluster.
var (
	scripts = map[string]*goredis.Script{}
	sources = map[string]string{}
)

func newScript(name, src string) *goredis.Script {
	if !strings.HasPrefix(src, "#!lua") {
		panic("script " + name + " lacks its #!lua line")
	}
	s := goredis.NewScript(src)
	scripts[name], sources[name] = s, src
	return s
}

// runPiped runs script in one pipeline with other commands (each of which
// may safely run twice: see noResend): EVALSHA in the pipeline and, if the
// server does not know the script yet (the first call, or a replica just
// promoted), EVAL after it. It returns the script's command, whose error
// the caller reads, and the first error of the others.
func runPiped(ctx context.Context, c goredis.UniversalClient, script *goredis.Script, keys []string, args []any,
	more func(p goredis.Pipeliner)) (*goredis.Cmd, error) {
	var cmd *goredis.Cmd
	cmds, _ := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		cmd = script.EvalSha(ctx, p, keys, args...)
		more(p)
		return nil
	})
	var err error
	for _, o := range cmds {
		if o != goredis.Cmder(cmd) && o.Err() != nil {
			err = o.Err()
			break
		}
	}
	if goredis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = script.Eval(ctx, c, keys, args...)
	}
	return cmd, err
}

func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func str(v any) string { s, _ := v.(string); return s }

func pairs(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

var _ sessionstore.Store = (*Store)(nil)

// Ping sends PING, bounded by the store's timeout (for a cluster, to one
// node: readiness asks whether passgate can reach Redis, not whether every
// slot is served).
func (r *Store) Ping(ctx context.Context) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: %v", sessionstore.ErrUnavailable, err)
	}
	return nil
}
