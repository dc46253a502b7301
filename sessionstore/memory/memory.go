// Package memory is a sessionstore.Store held in one process.
package memory

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Store is a sessionstore.Store held in this process. It suits a single
// instance and development: its state is lost when the process exits.
// Expired records are dropped when read and by a periodic sweep, so memory
// stays bounded by the live records.
type Store struct {
	now func() time.Time

	mu         sync.Mutex
	attempts   map[string]memAttempt
	tokens     map[string]string            // string(TokenHash) -> attempt id
	latest     map[identity]string          // -> id of the attempt created last
	users      map[string]sessionstore.User // by id
	identities map[identity]string          // -> user id
	sessions   map[string]memSession
	byUser     map[string]map[string]struct{} // user id -> session ids
	limits     map[string][]memEvent          // limit key -> events in time order
	refresh    map[string]memRefresh          // by token hash

	stop chan struct{}
	done chan struct{}
}

// identity is a channel and an identifier on it.
type identity struct{ channel, identifier string }

type memAttempt struct {
	a     sessionstore.Attempt
	until time.Time
}

type memSession struct {
	s     sessionstore.Session
	until time.Time
}

// New returns an empty memory store that sweeps expired records every
// sweepEvery (no sweep if zero). now may be nil for the system clock.
// Call Close to stop the sweep.
func New(now func() time.Time, sweepEvery time.Duration) *Store {
	if now == nil {
		now = time.Now
	}
	m := &Store{
		now:        now,
		attempts:   make(map[string]memAttempt),
		tokens:     make(map[string]string),
		latest:     make(map[identity]string),
		users:      make(map[string]sessionstore.User),
		identities: make(map[identity]string),
		sessions:   make(map[string]memSession),
		byUser:     make(map[string]map[string]struct{}),
		limits:     make(map[string][]memEvent),
		refresh:    make(map[string]memRefresh),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if sweepEvery > 0 {
		go m.sweepLoop(sweepEvery)
	} else {
		close(m.done)
	}
	return m
}

// Close stops the sweep. The store stays usable.
func (m *Store) Close() error {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
	return nil
}

func (m *Store) sweepLoop(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweep()
		}
	}
}

func (m *Store) sweep() {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, a := range m.attempts {
		if !now.Before(a.until) {
			m.dropAttemptLocked(id)
		}
	}
	for k, id := range m.latest {
		if _, ok := m.attempts[id]; !ok {
			delete(m.latest, k)
		}
	}
	for id, s := range m.sessions {
		if !now.Before(s.until) {
			m.dropSessionLocked(id, s.s.UserID)
		}
	}
	// Limits keep no window of their own: an event a day old is past every
	// window in use, so a key whose last event is older can go.
	for k, events := range m.limits {
		if len(events) == 0 || now.Sub(events[len(events)-1].at) > maxLimitWindow {
			delete(m.limits, k)
		}
	}
	m.sweepRefreshLocked(now)
}

// maxLimitWindow is the longest window the memory store keeps events for;
// caddymodule accepts windows of at most a day.
const maxLimitWindow = 48 * time.Hour

// CreateAttempt implements sessionstore.AttemptStore.
func (m *Store) CreateAttempt(_ context.Context, a sessionstore.Attempt) error {
	a = cloneAttempt(a)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts[a.ID] = memAttempt{a: a, until: a.ExpiresAt}
	if len(a.TokenHash) > 0 {
		m.tokens[string(a.TokenHash)] = a.ID
	}
	m.latest[identity{a.Channel, a.Identifier}] = a.ID
	return nil
}

// LatestAttempt implements sessionstore.AttemptStore.
func (m *Store) LatestAttempt(_ context.Context, channel, identifier string) (sessionstore.Attempt, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := identity{channel, identifier}
	id, ok := m.latest[k]
	if !ok {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	rec, ok := m.attempts[id]
	if !ok || !now.Before(rec.until) {
		m.dropAttemptLocked(id)
		delete(m.latest, k)
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	return cloneAttempt(rec.a), nil
}

// AttemptByToken implements sessionstore.AttemptStore.
func (m *Store) AttemptByToken(_ context.Context, tokenHash []byte) (sessionstore.Attempt, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(tokenHash) == 0 {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	id, ok := m.tokens[string(tokenHash)]
	if !ok {
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	rec, ok := m.attempts[id]
	if !ok || !now.Before(rec.until) {
		m.dropAttemptLocked(id)
		delete(m.tokens, string(tokenHash))
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	return cloneAttempt(rec.a), nil
}

// dropAttemptLocked removes an attempt and its token index.
func (m *Store) dropAttemptLocked(id string) {
	if rec, ok := m.attempts[id]; ok && len(rec.a.TokenHash) > 0 {
		delete(m.tokens, string(rec.a.TokenHash))
	}
	delete(m.attempts, id)
}

func cloneAttempt(a sessionstore.Attempt) sessionstore.Attempt {
	a.CodeMAC = slices.Clone(a.CodeMAC)
	a.TokenHash = slices.Clone(a.TokenHash)
	a.Data = slices.Clone(a.Data)
	return a
}

// TryAttempt implements sessionstore.AttemptStore.
func (m *Store) TryAttempt(_ context.Context, id string) (sessionstore.Attempt, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.attempts[id]
	if !ok || !now.Before(rec.until) {
		m.dropAttemptLocked(id)
		return sessionstore.Attempt{}, sessionstore.ErrNotFound
	}
	if !rec.a.Failed {
		rec.a.Tries++
		m.attempts[id] = rec
	}
	return cloneAttempt(rec.a), nil
}

// DeleteAttempt implements sessionstore.AttemptStore.
func (m *Store) DeleteAttempt(_ context.Context, id string) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.attempts[id]
	m.dropAttemptLocked(id)
	return ok && now.Before(rec.until), nil
}

// FailAttempt implements sessionstore.AttemptStore.
func (m *Store) FailAttempt(_ context.Context, id string) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.attempts[id]
	if !ok || !now.Before(rec.until) {
		m.dropAttemptLocked(id)
		return nil
	}
	if len(rec.a.TokenHash) > 0 {
		delete(m.tokens, string(rec.a.TokenHash))
	}
	rec.a.CodeMAC, rec.a.TokenHash, rec.a.Failed = nil, nil, true
	m.attempts[id] = rec
	return nil
}

// UserByIdentifier implements sessionstore.UserStore.
func (m *Store) UserByIdentifier(_ context.Context, channel, identifier string) (sessionstore.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.identities[identity{channel, identifier}]
	if !ok {
		return sessionstore.User{}, sessionstore.ErrNotFound
	}
	return cloneUser(m.users[id]), nil
}

// User implements sessionstore.UserStore.
func (m *Store) User(_ context.Context, id string) (sessionstore.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return sessionstore.User{}, sessionstore.ErrNotFound
	}
	return cloneUser(u), nil
}

// RecordSignIn implements sessionstore.UserStore.
func (m *Store) RecordSignIn(_ context.Context, channel, identifier, newID string, roles []string, at time.Time) (sessionstore.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := identity{channel, identifier}
	id, ok := m.identities[key]
	if !ok {
		id = newID
		m.identities[key] = id
		u := sessionstore.User{ID: id, CreatedAt: at}
		u.SetIdentifier(channel, identifier)
		m.users[id] = u
	}
	u := m.users[id]
	if u.Blocked {
		return cloneUser(u), nil
	}
	u.Roles = slices.Clone(roles)
	u.LastSignInAt = at
	m.users[id] = u
	return cloneUser(u), nil
}

// SetBlocked implements sessionstore.UserStore: the mark and the removal
// in one step.
func (m *Store) SetBlocked(ctx context.Context, id string, blocked bool) (int, error) {
	m.mu.Lock()
	u, ok := m.users[id]
	if ok {
		u.Blocked = blocked
		m.users[id] = u
	}
	m.mu.Unlock()
	if !ok {
		return 0, sessionstore.ErrNotFound
	}
	if !blocked {
		return 0, nil
	}
	return m.DeleteUserSessions(ctx, id)
}

// SetUserMetadata implements sessionstore.UserStore.
func (m *Store) SetUserMetadata(_ context.Context, id string, metadata []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return sessionstore.ErrNotFound
	}
	u.Metadata = slices.Clone(metadata)
	m.users[id] = u
	return nil
}

// ownSession is what a store keeps of a session: identity and roles are
// its user's, joined on read.
func ownSession(s sessionstore.Session) sessionstore.Session {
	s.Email, s.Phone, s.Roles = "", "", nil
	s.Device, s.Network = noComma(s.Device), noComma(s.Network)
	return s
}

// CreateSession implements sessionstore.SessionStore.
func (m *Store) CreateSession(_ context.Context, s sessionstore.Session, until time.Time) error {
	s = ownSession(s)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = memSession{s: s, until: until}
	set := m.byUser[s.UserID]
	if set == nil {
		set = make(map[string]struct{})
		m.byUser[s.UserID] = set
	}
	set[s.ID] = struct{}{}
	return nil
}

// Session implements sessionstore.SessionStore.
func (m *Store) Session(_ context.Context, id string) (sessionstore.Session, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.sessions[id]
	if !ok {
		return sessionstore.Session{}, sessionstore.ErrNotFound
	}
	if !now.Before(rec.until) {
		m.dropSessionLocked(id, rec.s.UserID)
		return sessionstore.Session{}, sessionstore.ErrNotFound
	}
	u, ok := m.users[rec.s.UserID]
	if !ok {
		return sessionstore.Session{}, sessionstore.ErrNotFound
	}
	s := rec.s
	s.Email, s.Phone, s.Roles = u.Email, u.Phone, slices.Clone(u.Roles)
	return s, nil
}

// TouchSession implements sessionstore.SessionStore.
func (m *Store) TouchSession(_ context.Context, s sessionstore.Session, until time.Time) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.sessions[s.ID]
	if !ok || !now.Before(rec.until) {
		return sessionstore.ErrNotFound
	}
	s = ownSession(s)
	s.Device, s.Network = rec.s.Device, rec.s.Network
	m.sessions[s.ID] = memSession{s: s, until: until}
	return nil
}

// DeleteSession implements sessionstore.SessionStore.
func (m *Store) DeleteSession(_ context.Context, id, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropSessionLocked(id, userID)
	return nil
}

// DeleteUserSessions implements sessionstore.SessionStore.
func (m *Store) DeleteUserSessions(_ context.Context, userID string) (int, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id := range m.byUser[userID] {
		if rec, ok := m.sessions[id]; ok && now.Before(rec.until) {
			n++
		}
		delete(m.sessions, id)
	}
	delete(m.byUser, userID)
	return n, nil
}

// UserSessions implements sessionstore.SessionStore.
func (m *Store) UserSessions(_ context.Context, userID string) ([]sessionstore.Session, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[userID]
	if !ok {
		return nil, nil
	}
	var out []sessionstore.Session
	for id := range m.byUser[userID] {
		rec, ok := m.sessions[id]
		if !ok || !now.Before(rec.until) {
			continue
		}
		s := rec.s
		s.Email, s.Phone, s.Roles = u.Email, u.Phone, slices.Clone(u.Roles)
		out = append(out, s)
	}
	sessionstore.SortSessions(out)
	return out, nil
}

func (m *Store) dropSessionLocked(id, userID string) {
	delete(m.sessions, id)
	if set := m.byUser[userID]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(m.byUser, userID)
		}
	}
}

// noComma is what every store keeps of a session's Device and Network.
func noComma(s string) string { return strings.ReplaceAll(s, ",", "") }

func cloneUser(u sessionstore.User) sessionstore.User {
	u.Roles = slices.Clone(u.Roles)
	u.Metadata = slices.Clone(u.Metadata)
	return u
}

var _ sessionstore.Store = (*Store)(nil)

// Ping answers at once: the memory store is always there.
func (m *Store) Ping(context.Context) error { return nil }
