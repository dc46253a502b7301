package memory

import (
	"context"
	"slices"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
)

type memRefresh struct {
	rt      sessionstore.RefreshToken
	rotated bool
	next    string    // hash of the token it was rotated to
	spentAt time.Time // when it was rotated
}

// CreateRefresh implements sessionstore.RefreshStore.
func (m *Store) CreateRefresh(_ context.Context, rt sessionstore.RefreshToken) error {
	rt.AMR = slices.Clone(rt.AMR)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refresh[rt.Hash] = memRefresh{rt: rt}
	return nil
}

// Refresh implements sessionstore.RefreshStore.
func (m *Store) Refresh(_ context.Context, hash string) (sessionstore.RefreshToken, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.refresh[hash]
	if !ok || !now.Before(rec.rt.ExpiresAt) {
		return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
	}
	rt := rec.rt
	rt.AMR = slices.Clone(rt.AMR)
	return rt, nil
}

// RotateRefresh implements sessionstore.RefreshStore.
func (m *Store) RotateRefresh(_ context.Context, oldHash, newHash string, now time.Time) (sessionstore.RefreshToken, error) {
	if sessionstore.RefreshChain(oldHash) != sessionstore.RefreshChain(newHash) {
		return sessionstore.RefreshToken{}, sessionstore.ErrOtherChain
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.refresh[oldHash]
	if !ok || !now.Before(rec.rt.ExpiresAt) {
		delete(m.refresh, oldHash)
		return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
	}
	old := rec.rt
	old.AMR = slices.Clone(old.AMR)
	if rec.rotated {
		if next, ok := m.refresh[newHash]; ok && rec.next == newHash && !next.rotated &&
			withinGrace(now, rec.spentAt) {
			if sess, ok := m.sessions[old.SessionID]; !ok || !now.Before(sess.until) {
				return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
			}
			rt := next.rt
			rt.AMR = slices.Clone(rt.AMR)
			return rt, nil
		}
		m.dropSessionLocked(old.SessionID, old.UserID)
		return old, sessionstore.ErrRefreshReused
	}
	if sess, ok := m.sessions[old.SessionID]; !ok || !now.Before(sess.until) {
		return sessionstore.RefreshToken{}, sessionstore.ErrNotFound
	}
	// The rotated token stays, marked, until the chain ends: presenting it
	// again is the sign of a stolen token, unless it is this rotation
	// asked again within the grace.
	rec.rotated, rec.next, rec.spentAt = true, newHash, now
	m.refresh[oldHash] = rec
	next := old
	next.Hash = newHash
	m.refresh[newHash] = memRefresh{rt: next}
	next.AMR = slices.Clone(next.AMR)
	return next, nil
}

// withinGrace says whether a rotation at spentAt may be asked again at
// now. Instances' clocks differ a little, so a retry that seems to come
// before the rotation counts as within it too.
func withinGrace(now, spentAt time.Time) bool {
	d := now.Sub(spentAt)
	return d > -sessionstore.RefreshRetryGrace && d < sessionstore.RefreshRetryGrace
}

func (m *Store) sweepRefreshLocked(now time.Time) {
	for h, rec := range m.refresh {
		if !now.Before(rec.rt.ExpiresAt) {
			delete(m.refresh, h)
		}
	}
}
