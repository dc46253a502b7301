package verify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

var (
	// ErrInvalidInput: a request the engine cannot act on (a missing or
	// malformed attempt id or code). Its text says what is wrong.
	ErrInvalidInput = errors.New("invalid input")
	// ErrAttemptNotFound: the attempt is unknown, used, burned or expired.
	ErrAttemptNotFound = errors.New("sign-in attempt not found")
	// ErrTooManyAttempts: this check burned the attempt.
	ErrTooManyAttempts = errors.New("too many wrong codes; the attempt is burned")
	// ErrDeliveryFailed: the attempt's message could not be sent, so
	// nothing signs in with it; a new start is needed.
	ErrDeliveryFailed = errors.New("the code could not be delivered")
	// ErrChannelNotConfigured: no sender for the channel.
	ErrChannelNotConfigured = errors.New("channel not configured")
	// ErrUnavailable wraps every failure of the store: the caller answers
	// "try again shortly", never "no".
	ErrUnavailable = sessionstore.ErrUnavailable
)

// WrongCodeError is a wrong code on an attempt that has tries left.
type WrongCodeError struct {
	AttemptsLeft int
}

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("wrong code, %d attempts left", e.AttemptsLeft)
}

func invalid(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidInput, msg) }

// Message is what a Sender delivers.
type Message struct {
	// Channel is "email" or "phone".
	Channel string
	// To is the normalised identifier.
	To string
	// Code is the one-time code.
	Code string
	// Link is the absolute magic link, or empty if the start asked for
	// none. It signs in as the code does, and like it only once.
	Link string
	// ExpiresAt is when the code and the link stop working.
	ExpiresAt time.Time
}

// Sender delivers a code over one channel.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// NamedSender is a Sender that says what it is ("smtp", "webhook"), for
// the metrics; others count as "other".
type NamedSender interface {
	Sender
	SenderName() string
}

func senderName(s Sender) string {
	if n, ok := s.(NamedSender); ok {
		return n.SenderName()
	}
	return "other"
}

// StartRequest asks for a code to be sent.
type StartRequest struct {
	// Channel is ChannelEmail or ChannelPhone; Identifier the address or
	// number as the person typed it (it is normalised here).
	Channel    string
	Identifier string
	RedirectTo string
	// CreateUser allows signing in an identifier that has no user yet.
	CreateUser bool
	// Link makes the magic link of a token; nil: the message carries no
	// link. Each front door links to its own route.
	Link func(token string) string
	// Data is the front door's own state of the attempt, kept with it and
	// given back by CheckCode, PeekLink and CheckLink; at most
	// MaxAttemptData bytes.
	Data []byte
	// TTL shortens the life of this attempt's code and link below the
	// configured one (a service whose client asks for a shorter expiry);
	// 0, or anything longer, means the configured CodeTTL.
	TTL    time.Duration
	Caller Caller
}

// MaxAttemptData bounds StartRequest.Data.
const MaxAttemptData = 8 << 10

// Started describes an attempt to the client. For an identifier that may
// not sign in, it describes an attempt that does not exist, so the answer
// is the same as for one that may.
type Started struct {
	AttemptID string
	Channel   string
	// Identifier is the normalised form of the one asked for.
	Identifier  string
	ExpiresAt   time.Time
	ResendAfter time.Time
}

// normalize returns the one form of an identifier on its channel.
func normalize(channel, identifier string) (string, error) {
	switch channel {
	case ChannelEmail:
		return NormalizeEmail(identifier)
	case ChannelPhone:
		return NormalizePhone(identifier)
	}
	return "", ErrChannelNotConfigured
}

// Start issues a code for req and hands it to a background delivery. Every
// start takes the same steps before it answers, whether the identifier may
// sign in or not: the limits (taken first, for every identifier alike, so
// that a limit reached says nothing), the policy, the user lookup, a new
// code and link, one stored attempt, and a delivery handed over, which for
// a decoy is a stand-in that sends nothing; so the answer, and its time,
// are the same for both. A delivery that fails is reported by the next
// check of the attempt (ErrDeliveryFailed), and by an event.
//
// Errors: ErrChannelNotConfigured, ErrInvalidIdentifier, ErrInvalidInput
// (Data too large), *RateLimitedError, or ErrUnavailable.
func (e *Engine) Start(ctx context.Context, req StartRequest) (Started, error) {
	sender := e.cfg.Senders[req.Channel]
	if sender == nil {
		return Started{}, ErrChannelNotConfigured
	}
	if len(req.Data) > MaxAttemptData {
		return Started{}, invalid("the attempt's data is too large")
	}
	identifier, err := normalize(req.Channel, req.Identifier)
	if err != nil {
		return Started{}, err
	}
	now := e.now().Truncate(time.Millisecond)
	lims := e.cfg.Limits
	// The client's slot stays taken whatever happens next; the address's
	// slots are given back if nothing is sent to it (a store error here, or
	// a delivery that fails later), so a failure does not also cost a
	// cooldown.
	client := &limiter{store: e.store, now: now}
	n, window := lims.StartsPerIP, lims.StartsPerIPWindow
	if req.Caller.Client != "" {
		n, window = lims.StartsPerClient, lims.StartsPerClientWindow
	}
	if err := client.take(ctx, "starts per client", "ips:"+req.Caller.budgetKey(), n, window); err != nil {
		return Started{}, e.refused(err, req.Caller, req.Channel, "")
	}
	lim := &limiter{store: e.store, now: now}
	kept := false // set once the attempt is stored: a delivery or a decoy stands behind it
	defer func() {
		if !kept {
			lim.releaseAll(ctx)
		}
	}()
	// The cooldown and the hourly cap count per address and client network
	// (a network key has no "|"), so no one network can use up an
	// address's hour; the overall cap bounds mail bombing.
	who := req.Channel + ":" + identifier
	whoFrom := req.Caller.budgetKey() + "|" + who
	if err := lim.take(ctx, "resend cooldown", "cdn:"+whoFrom, 1, lims.ResendCooldown); err != nil {
		return Started{}, e.refused(err, req.Caller, req.Channel, "")
	}
	if err := lim.take(ctx, "sends per hour", "shn:"+whoFrom, lims.SendsPerHour, time.Hour); err != nil {
		return Started{}, e.refused(err, req.Caller, req.Channel, "")
	}
	if err := lim.take(ctx, "sends per hour per address", "sh:"+who, lims.SendsPerHourPerAddress, time.Hour); err != nil {
		return Started{}, e.refused(err, req.Caller, req.Channel, "")
	}

	ttl := e.cfg.CodeTTL
	if req.TTL > 0 && req.TTL < ttl {
		ttl = req.TTL
	}
	started := Started{
		AttemptID:   e.randomText(),
		Channel:     req.Channel,
		Identifier:  identifier,
		ExpiresAt:   now.Add(ttl),
		ResendAfter: now.Add(lims.ResendCooldown),
	}
	// A blocked user is answered as one the policy does not allow: the
	// same 200 and nothing sent, so that a start says nothing of who is
	// blocked. Every start reads the user, so all cost the same.
	send := e.cfg.Policy.Allowed(req.Channel, identifier)
	u, err := e.store.UserByIdentifier(ctx, req.Channel, identifier)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		send = send && req.CreateUser
	case err != nil:
		return Started{}, err
	case u.Blocked:
		send = false
	}
	code, err := e.newCode()
	if err != nil {
		return Started{}, err
	}
	var link string
	var tokenHash []byte
	if req.Link != nil {
		token := e.newLinkToken()
		tokenHash = TokenHash(token)
		link = req.Link(token)
	}
	// Both MACs are made for every start, so that a decoy costs what a real
	// one does. A decoy is stored like a real attempt, so that checking it
	// answers like one (wrong code, tries left), but with random bytes no
	// code has: a decoy never signs anyone in.
	mac := codeMAC(e.cfg.Keys[0], started.AttemptID, req.Channel, identifier, code)
	decoyMAC := e.randomBytes(sha256.Size)
	if !send {
		mac = decoyMAC
	}
	a := sessionstore.Attempt{
		TokenHash:  tokenHash,
		ID:         started.AttemptID,
		Channel:    req.Channel,
		Identifier: identifier,
		CodeMAC:    mac,
		RedirectTo: req.RedirectTo,
		CreateUser: req.CreateUser,
		CreatedAt:  now,
		ExpiresAt:  started.ExpiresAt,
		Data:       req.Data,
	}
	if err := e.store.CreateAttempt(ctx, a); err != nil {
		return Started{}, err
	}
	kept = true
	e.emit(Event{Kind: EventStarted, Caller: req.Caller, Channel: req.Channel})
	e.deliver(ctx, sender, Message{Channel: req.Channel, To: identifier, Code: code, Link: link, ExpiresAt: a.ExpiresAt},
		a.ID, lim, send, req.Caller)
	return started, nil
}

// CheckRequest is a code submitted for an attempt: the one named by
// AttemptID, or, without one, the latest sent to Identifier (as GoTrue's
// and Nhost's verify calls name the address, not an attempt).
type CheckRequest struct {
	AttemptID string
	// Code as typed; white space in it ("123 456", as pasted) is dropped.
	Code string
	// Channel and Identifier, if Identifier is not empty, must be the
	// ones the code was sent to (the identifier as typed: it is normalised
	// here).
	Channel    string
	Identifier string
	Caller     Caller
}

// maxCodeLen bounds what is compared at all.
const maxCodeLen = 32

// CheckCode consumes the attempt if the code is right, and returns it.
// Errors: ErrInvalidInput, ErrInvalidIdentifier, ErrAttemptNotFound,
// ErrTooManyAttempts, *WrongCodeError, ErrDeliveryFailed (the attempt's
// message could not be sent), *RateLimitedError, or ErrUnavailable.
func (e *Engine) CheckCode(ctx context.Context, req CheckRequest) (Attempt, error) {
	code := strings.Join(strings.Fields(req.Code), "")
	switch {
	case req.AttemptID == "" && req.Identifier == "" || code == "":
		return Attempt{}, invalid("attempt_id and code are required")
	case len(code) > maxCodeLen:
		return Attempt{}, invalid("code is too long")
	case req.AttemptID != "" && !ValidAttemptID(req.AttemptID):
		return Attempt{}, e.failed(ErrAttemptNotFound, req.Caller, "", MethodCode)
	}
	var identifier string
	if req.Identifier != "" {
		var err error
		if identifier, err = normalize(req.Channel, req.Identifier); err != nil {
			return Attempt{}, err
		}
	}
	a, err := e.checkCode(ctx, req.AttemptID, code, req.Channel, identifier, req.Caller)
	if err != nil {
		return Attempt{}, e.failed(err, req.Caller, a.Channel, MethodCode)
	}
	return a, nil
}

// checkCode is CheckCode on a well-formed request. On an error it returns
// what it knows of the attempt, for the event.
func (e *Engine) checkCode(ctx context.Context, id, code, channel, identifier string, caller Caller) (Attempt, error) {
	lims := e.cfg.Limits
	lim := &limiter{store: e.store, now: e.now()}
	n, window := lims.VerifiesPerIP, lims.VerifiesPerIPWindow
	if caller.Client != "" {
		n, window = lims.VerifiesPerClient, lims.VerifiesPerClientWindow
	}
	if err := lim.take(ctx, "verifies per client", "ipv:"+caller.budgetKey(), n, window); err != nil {
		return Attempt{}, err
	}
	if id == "" {
		latest, err := e.store.LatestAttempt(ctx, channel, identifier)
		if errors.Is(err, sessionstore.ErrNotFound) {
			return Attempt{Channel: channel}, ErrAttemptNotFound
		}
		if err != nil {
			return Attempt{}, err
		}
		id = latest.ID
	}
	a, err := e.store.TryAttempt(ctx, id)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return Attempt{}, ErrAttemptNotFound
	}
	if err != nil {
		return Attempt{}, err
	}
	if !signInChannel(a.Channel) {
		return Attempt{}, ErrAttemptNotFound
	}
	known := Attempt{Channel: a.Channel}
	if a.Failed {
		// Its code never arrived: say so, and count no try against the
		// address, since nothing was compared.
		return known, ErrDeliveryFailed
	}
	if a.Tries > e.cfg.MaxAttempts {
		// Checks racing the ones that used up the tries. Deleting here
		// could beat a right code still being compared, so leave it: it
		// can never match again and expires with its TTL.
		return known, ErrAttemptNotFound
	}
	// Every comparison may be a wrong guess, so each takes a slot of the
	// address's daily budget first, and a right one gives it back: however
	// many checks race, no more than the budget are ever compared.
	wrongKey := "wc:" + a.Channel + ":" + a.Identifier
	wrong := &limiter{store: e.store, now: lim.now}
	if err := wrong.take(ctx, "wrong codes per day", wrongKey, lims.WrongCodesPerDay, day); err != nil {
		return known, err
	}
	if e.codeMatches(a, code) && (identifier == "" || identifier == a.Identifier) {
		wrong.releaseAll(ctx)
		won, err := e.store.DeleteAttempt(ctx, a.ID)
		if err != nil {
			return known, err
		}
		if !won {
			return known, ErrAttemptNotFound
		}
		return a, nil
	}
	left := e.cfg.MaxAttempts - a.Tries
	if left <= 0 {
		if _, err := e.store.DeleteAttempt(ctx, a.ID); err != nil {
			return known, err
		}
		return known, ErrTooManyAttempts
	}
	return known, &WrongCodeError{AttemptsLeft: left}
}

// refused emits the event for a start or a check that a limit refused, and
// returns err.
func (e *Engine) refused(err error, caller Caller, channel, method string) error {
	var limited *RateLimitedError
	if errors.As(err, &limited) {
		e.emit(Event{Kind: EventRateLimited, Caller: caller, Channel: channel, Method: method,
			Limit: limited.Limit, RetryAfter: limited.RetryAfter})
	}
	return err
}

// failed emits the event for a check of a code or link that did not sign
// in, and returns err. Store failures are not refusals: no event.
func (e *Engine) failed(err error, caller Caller, channel, method string) error {
	var wrong *WrongCodeError
	reason := ""
	switch {
	case errors.As(err, &wrong):
		reason = ReasonWrongCode
	case errors.Is(err, ErrTooManyAttempts):
		reason = ReasonTooManyAttempts
	case errors.Is(err, ErrAttemptNotFound):
		reason = ReasonNotFound
	case errors.Is(err, ErrDeliveryFailed):
		reason = ReasonDeliveryFailed
	case errors.Is(err, ErrUserBlocked):
		reason = ReasonUserBlocked
	default:
		return e.refused(err, caller, channel, method)
	}
	e.emit(Event{Kind: EventSignInFailed, Caller: caller, Channel: channel, Method: method, Reason: reason, Err: err})
	return err
}

func (e *Engine) codeMatches(a Attempt, code string) bool {
	match := false
	for _, k := range e.cfg.Keys {
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

// newCode returns CodeLength uniformly random decimal digits.
func (e *Engine) newCode() (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(e.cfg.CodeLength)), nil)
	n, err := rand.Int(e.cfg.Rand, max)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", e.cfg.CodeLength, n), nil
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
