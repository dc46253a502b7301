// Package verify is passgate's sign-in engine. It starts sign-ins, sends
// codes and magic links, checks them, signs people in (a session, and
// tokens when asked), authenticates credentials, refreshes tokens, logs
// out, and lists and revokes sessions. It knows nothing of HTTP or Caddy:
// each front door translates its wire format to these calls and maps the
// results and typed errors back; none of them holds a store.
//
// A code is never stored: the store keeps an HMAC of it, keyed with a
// server secret and bound to the attempt and the identifier, so a code
// sent to one address cannot be used for another. Every check counts a try
// before comparing, atomically in the store, so no amount of concurrency
// yields more than MaxAttempts comparisons for one attempt.
package verify

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/passgate/caddy-passgate/internal/boundedcache"
	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// The records a front door sees, as the store keeps them.
type (
	Attempt = sessionstore.Attempt
	User    = sessionstore.User
	Session = sessionstore.Session
)

// Defaults of the security floor.
const (
	DefaultCodeLength      = 6
	DefaultCodeTTL         = 10 * time.Minute
	DefaultMaxAttempts     = 5
	DefaultSessionIdle     = 24 * time.Hour
	DefaultSessionLifetime = 720 * time.Hour
)

// Config is everything an Engine is made of. Store, Keys and RefreshKey
// are required; zero values elsewhere take the defaults.
type Config struct {
	Store  sessionstore.Store
	Limits Limits
	Policy Policy
	// Senders by channel; a channel without one is not configured.
	Senders map[string]Sender
	// Keys for the code MAC: the first signs, all verify, so a secret can be
	// rotated without invalidating codes in flight.
	Keys [][]byte
	// RefreshKey derives a refresh token's successor from it, so that the
	// same refresh asked again gets the same new token (see Refresh).
	RefreshKey  []byte
	CodeLength  int
	CodeTTL     time.Duration
	MaxAttempts int
	// SessionIdle ends a session unused this long; SessionLifetime ends it
	// this long after sign-in, however active.
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// Tokens signs and checks access tokens and assertions; nil: none.
	Tokens *tokens.Issuer
	// Listeners hear every event, in order, on the goroutine that caused
	// it; they must not block.
	Listeners []Listener
	// MaxDeliveries bounds the messages being sent at once; 0 means
	// DefaultMaxDeliveries.
	MaxDeliveries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of every secret (codes, ids, tokens); nil means
	// crypto/rand. Tests only.
	Rand io.Reader
}

// Engine is the sign-in engine. Make one with New; it is safe for
// concurrent use.
type Engine struct {
	cfg        Config
	store      sessionstore.Store
	sessions   sessions
	decisions  *boundedcache.Cache[policyKey, policyDecision]
	deliveries deliveries
	ready      atomic.Int32 // the store's state as Ready last found it
	noJitter   bool         // tests that make many deliveries (export_test.go)
}

// New checks cfg, fills in the defaults and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("verify: a store is required")
	}
	if len(cfg.Keys) == 0 || len(cfg.RefreshKey) == 0 {
		return nil, errors.New("verify: code and refresh keys are required")
	}
	if cfg.CodeLength == 0 {
		cfg.CodeLength = DefaultCodeLength
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	e := &Engine{
		cfg:       cfg,
		store:     cfg.Store,
		decisions: boundedcache.New[policyKey, policyDecision](policyDecisionEntries, policyDecisionTTL, nil),
	}
	e.sessions = sessions{
		store:      cfg.Store,
		idle:       cfg.SessionIdle,
		lifetime:   cfg.SessionLifetime,
		touchEvery: min(time.Minute, cfg.SessionIdle/10),
		now:        cfg.Now,
	}
	e.deliveries.init(cfg.MaxDeliveries)
	return e, nil
}

// Caller says who asked, for the limits and the events: the front door and
// the client's address; for a sign-in, the client's User-Agent, of which
// the session keeps only a readable device (verify/device); and for a
// server-to-server call the backend client that the door authenticated.
type Caller struct {
	Door      string
	ClientIP  string
	UserAgent string
	// Client is the id of an authenticated backend client, "" for a
	// browser or app. A client's calls count against its own budgets
	// (Limits.StartsPerClient, VerifiesPerClient) instead of its address's:
	// one backend speaks for many people from one address.
	Client string
}

// budgetKey is who the per-caller budgets count: the backend client, or
// the client network.
func (c Caller) budgetKey() string {
	if c.Client != "" {
		return "client:" + c.Client
	}
	return ClientKey(c.ClientIP)
}

// ChannelConfigured reports whether codes can be sent over channel.
func (e *Engine) ChannelConfigured(channel string) bool { return e.cfg.Senders[channel] != nil }

// CodeLength is the number of digits in a code.
func (e *Engine) CodeLength() int { return e.cfg.CodeLength }

// CodeTTL is how long a code and a link are valid.
func (e *Engine) CodeTTL() time.Duration { return e.cfg.CodeTTL }

func (e *Engine) now() time.Time { return e.cfg.Now() }

// randomBytes returns n bytes from the engine's source of secrets.
func (e *Engine) randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(e.cfg.Rand, b); err != nil {
		// crypto/rand never fails; a test's source that runs dry is a bug.
		panic("verify: random source failed: " + err.Error())
	}
	return b
}

// randomText returns 128 random bits as 26 characters of base32 (A-Z,
// 2-7), as crypto/rand.Text does.
func (e *Engine) randomText() string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(e.randomBytes(16))
}
