// Package verify issues one-time sign-in codes, delivers them and checks
// them. It knows nothing of HTTP or Caddy: callers hand it normalised
// identifiers and get back attempts and typed errors.
//
// A code is never stored: the store keeps an HMAC of it, keyed with a
// server secret and bound to the attempt and the identifier, so a code
// sent to one address cannot be used for another. Every check counts a try
// before comparing, atomically in the store, so no amount of concurrency
// yields more than MaxAttempts comparisons for one attempt.
package verify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Defaults of the security floor.
const (
	DefaultCodeLength  = 6
	DefaultCodeTTL     = 10 * time.Minute
	DefaultMaxAttempts = 5
)

var (
	// ErrAttemptNotFound: the attempt is unknown, used, burned or expired.
	ErrAttemptNotFound = errors.New("sign-in attempt not found")
	// ErrTooManyAttempts: this check burned the attempt.
	ErrTooManyAttempts = errors.New("too many wrong codes; the attempt is burned")
	// ErrDeliveryFailed: the attempt's message could not be sent, so
	// nothing signs in with it; a new start is needed.
	ErrDeliveryFailed = errors.New("the code could not be delivered")
	// ErrChannelNotConfigured: no sender for the channel.
	ErrChannelNotConfigured = errors.New("channel not configured")
)

// WrongCodeError is a wrong code on an attempt that has tries left.
type WrongCodeError struct {
	AttemptsLeft int
}

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("wrong code, %d attempts left", e.AttemptsLeft)
}

// Message is what a Sender delivers.
type Message struct {
	// Channel is "email" or "phone".
	Channel string
	// To is the normalised identifier.
	To string
	// Code is the one-time code.
	Code string
	// Link is the absolute magic link, or empty if the request gave no
	// LinkBase. It signs in as the code does, and like it only once.
	Link string
	// ExpiresAt is when the code and the link stop working.
	ExpiresAt time.Time
}

// Sender delivers a code over one channel.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Service issues and checks codes.
type Service struct {
	Store   sessionstore.AttemptStore
	Users   sessionstore.UserStore
	Limiter sessionstore.LimitStore
	Limits  Limits
	Policy  Policy
	// Senders by channel; a channel without one is not configured.
	Senders map[string]Sender
	// Keys for the code MAC: the first signs, all verify, so a secret can be
	// rotated without invalidating codes in flight.
	Keys        [][]byte
	CodeLength  int
	CodeTTL     time.Duration
	MaxAttempts int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnDelivery, if set, is called as each background delivery ends: err
	// is nil once the message went out, or wraps ErrDeliveryFailed. ctx
	// carries the values of Start's context, not its cancellation. Neither
	// channel nor err holds the code or the link (senders' errors must not).
	OnDelivery func(ctx context.Context, channel string, err error)
	// MaxDeliveries bounds the messages being sent at once; 0 means
	// DefaultMaxDeliveries.
	MaxDeliveries int

	deliveries deliveries
	noJitter   bool // tests that make many deliveries (export_test.go)
}

// StartRequest asks for a code to be sent.
type StartRequest struct {
	Channel    string
	Identifier string // normalised
	RedirectTo string
	// CreateUser allows signing in an identifier that has no user yet.
	CreateUser bool
	// ClientIP is the address of the client asking, for per-client limits.
	ClientIP string
	// LinkBase is the absolute URL of the magic-link route
	// (https://host/auth/magic). Empty: the message carries no link.
	LinkBase string
}

// Started describes an attempt to the client. For an identifier that may
// not sign in, it describes an attempt that does not exist, so the answer
// is the same as for one that may.
type Started struct {
	AttemptID   string
	Channel     string
	ExpiresAt   time.Time
	ResendAfter time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Start issues a code for req and hands it to a background delivery. Every
// start takes the same steps before it answers, whether the identifier may
// sign in or not: the limits (taken first, for every identifier alike, so
// that a limit reached says nothing), the policy, the user lookup, a new
// code and link, one stored attempt, and a delivery handed over, which for
// a decoy is a stand-in that sends nothing; so the answer, and its time,
// are the same for both. A delivery that fails is reported by the next Check
// of the attempt (ErrDeliveryFailed), and by OnDelivery.
func (s *Service) Start(ctx context.Context, req StartRequest) (Started, error) {
	sender := s.Senders[req.Channel]
	if sender == nil {
		return Started{}, ErrChannelNotConfigured
	}
	now := s.now().Truncate(time.Millisecond)
	// The client's slot stays taken whatever happens next; the address's
	// slots are given back if nothing is sent to it (a store error here, or
	// a delivery that fails later), so a failure does not also cost a
	// cooldown.
	client := &limiter{store: s.Limiter, now: now}
	if err := client.take(ctx, "starts per client", "ips:"+ClientKey(req.ClientIP), s.Limits.StartsPerIP, s.Limits.StartsPerIPWindow); err != nil {
		return Started{}, err
	}
	lim := &limiter{store: s.Limiter, now: now}
	kept := false // set once the attempt is stored: a delivery or a decoy stands behind it
	defer func() {
		if !kept {
			lim.releaseAll(ctx)
		}
	}()
	// The cooldown and the hourly cap count per address and client network
	// (a network key has no "|"), so no one network can use up an
	// address's hour; the overall cap bounds mail bombing.
	who := req.Channel + ":" + req.Identifier
	whoFrom := ClientKey(req.ClientIP) + "|" + who
	if err := lim.take(ctx, "resend cooldown", "cdn:"+whoFrom, 1, s.Limits.ResendCooldown); err != nil {
		return Started{}, err
	}
	if err := lim.take(ctx, "sends per hour", "shn:"+whoFrom, s.Limits.SendsPerHour, time.Hour); err != nil {
		return Started{}, err
	}
	if err := lim.take(ctx, "sends per hour per address", "sh:"+who, s.Limits.SendsPerHourPerAddress, time.Hour); err != nil {
		return Started{}, err
	}

	started := Started{
		AttemptID:   newAttemptID(),
		Channel:     req.Channel,
		ExpiresAt:   now.Add(s.CodeTTL),
		ResendAfter: now.Add(s.Limits.ResendCooldown),
	}
	send := s.Policy.Allowed(req.Channel, req.Identifier)
	if !req.CreateUser {
		_, err := s.Users.UserByIdentifier(ctx, req.Channel, req.Identifier)
		if errors.Is(err, sessionstore.ErrNotFound) {
			send = false
		} else if err != nil {
			return Started{}, err
		}
	}
	code, err := newCode(s.CodeLength)
	if err != nil {
		return Started{}, err
	}
	var link string
	var tokenHash []byte
	if req.LinkBase != "" {
		var token string
		token, tokenHash = newToken()
		link = magicLink(req.LinkBase, token)
	}
	// Both MACs are made for every start, so that a decoy costs what a real
	// one does. A decoy is stored like a real attempt, so that checking it
	// answers like one (wrong code, tries left), but with random bytes no
	// code has: a decoy never signs anyone in.
	mac := codeMAC(s.Keys[0], started.AttemptID, req.Channel, req.Identifier, code)
	decoyMAC := make([]byte, sha256.Size)
	rand.Read(decoyMAC)
	if !send {
		mac = decoyMAC
	}
	a := sessionstore.Attempt{
		TokenHash:  tokenHash,
		ID:         started.AttemptID,
		Channel:    req.Channel,
		Identifier: req.Identifier,
		CodeMAC:    mac,
		RedirectTo: req.RedirectTo,
		CreateUser: req.CreateUser,
		CreatedAt:  now,
		ExpiresAt:  started.ExpiresAt,
	}
	if err := s.Store.CreateAttempt(ctx, a); err != nil {
		return Started{}, err
	}
	kept = true
	s.deliver(ctx, sender, Message{Channel: req.Channel, To: req.Identifier, Code: code, Link: link, ExpiresAt: a.ExpiresAt}, a.ID, lim, send)
	return started, nil
}

// CheckRequest is a code submitted for an attempt.
type CheckRequest struct {
	AttemptID string
	Code      string
	// Identifier, if not empty, must be the one the code was sent to.
	Identifier string
	ClientIP   string
}

// Check consumes the attempt if the code is right, and returns it. Errors:
// ErrAttemptNotFound, ErrTooManyAttempts, *WrongCodeError,
// ErrDeliveryFailed (the attempt's message could not be sent),
// *RateLimitedError, or a store error.
func (s *Service) Check(ctx context.Context, req CheckRequest) (sessionstore.Attempt, error) {
	lim := &limiter{store: s.Limiter, now: s.now()}
	if err := lim.take(ctx, "verifies per client", "ipv:"+ClientKey(req.ClientIP), s.Limits.VerifiesPerIP, s.Limits.VerifiesPerIPWindow); err != nil {
		return sessionstore.Attempt{}, err
	}
	a, err := s.Store.TryAttempt(ctx, req.AttemptID)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return sessionstore.Attempt{}, ErrAttemptNotFound
	}
	if err != nil {
		return sessionstore.Attempt{}, err
	}
	if a.Failed {
		// Its code never arrived: say so, and count no try against the
		// address, since nothing was compared.
		return sessionstore.Attempt{}, ErrDeliveryFailed
	}
	if a.Tries > s.MaxAttempts {
		// Checks racing the ones that used up the tries. Deleting here
		// could beat a right code still being compared, so leave it: it
		// can never match again and expires with its TTL.
		return sessionstore.Attempt{}, ErrAttemptNotFound
	}
	// Every comparison may be a wrong guess, so each takes a slot of the
	// address's daily budget first, and a right one gives it back: however
	// many checks race, no more than the budget are ever compared.
	wrongKey := "wc:" + a.Channel + ":" + a.Identifier
	wrong := &limiter{store: s.Limiter, now: lim.now}
	if err := wrong.take(ctx, "wrong codes per day", wrongKey, s.Limits.WrongCodesPerDay, day); err != nil {
		return sessionstore.Attempt{}, err
	}
	if s.codeMatches(a, req.Code) && (req.Identifier == "" || req.Identifier == a.Identifier) {
		wrong.releaseAll(ctx)
		won, err := s.Store.DeleteAttempt(ctx, a.ID)
		if err != nil {
			return sessionstore.Attempt{}, err
		}
		if !won {
			return sessionstore.Attempt{}, ErrAttemptNotFound
		}
		return a, nil
	}
	left := s.MaxAttempts - a.Tries
	if left <= 0 {
		if _, err := s.Store.DeleteAttempt(ctx, a.ID); err != nil {
			return sessionstore.Attempt{}, err
		}
		return sessionstore.Attempt{}, ErrTooManyAttempts
	}
	return sessionstore.Attempt{}, &WrongCodeError{AttemptsLeft: left}
}

func (s *Service) codeMatches(a sessionstore.Attempt, code string) bool {
	match := false
	for _, k := range s.Keys {
		// No early exit: the time taken does not say which key matched.
		if hmac.Equal(codeMAC(k, a.ID, a.Channel, a.Identifier, code), a.CodeMAC) {
			match = true
		}
	}
	return match
}

// codeMAC binds a code to its attempt and identifier. Fields are separated
// by NUL, which none of them can contain.
func codeMAC(key []byte, attemptID, channel, identifier, code string) []byte {
	m := hmac.New(sha256.New, key)
	for _, f := range [...]string{"passgate code v1", attemptID, channel, identifier, code} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// newCode returns length uniformly random decimal digits.
func newCode(length int) (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(length)), nil)
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", length, n), nil
}

// newAttemptID returns 128 random bits as text.
func newAttemptID() string {
	return rand.Text()
}

// ValidAttemptID reports whether s has the shape of an attempt id, so that
// junk can be refused before it reaches the store.
func ValidAttemptID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}
