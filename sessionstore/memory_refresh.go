package sessionstore

import (
	"context"
	"slices"
	"time"
)

type memRefresh struct {
	rt      RefreshToken
	rotated bool
}

// CreateRefresh implements RefreshStore.
func (m *Memory) CreateRefresh(_ context.Context, rt RefreshToken) error {
	rt.AMR = slices.Clone(rt.AMR)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refresh[rt.Hash] = memRefresh{rt: rt}
	return nil
}

// Refresh implements RefreshStore.
func (m *Memory) Refresh(_ context.Context, hash string) (RefreshToken, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.refresh[hash]
	if !ok || !now.Before(rec.rt.ExpiresAt) {
		return RefreshToken{}, ErrNotFound
	}
	rt := rec.rt
	rt.AMR = slices.Clone(rt.AMR)
	return rt, nil
}

// RotateRefresh implements RefreshStore.
func (m *Memory) RotateRefresh(_ context.Context, oldHash, newHash string) (RefreshToken, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.refresh[oldHash]
	if !ok || !now.Before(rec.rt.ExpiresAt) {
		delete(m.refresh, oldHash)
		return RefreshToken{}, ErrNotFound
	}
	old := rec.rt
	old.AMR = slices.Clone(old.AMR)
	if rec.rotated {
		m.dropSessionLocked(old.SessionID, old.UserID)
		return old, ErrRefreshReused
	}
	if sess, ok := m.sessions[old.SessionID]; !ok || !now.Before(sess.until) {
		return RefreshToken{}, ErrNotFound
	}
	// The rotated token stays, marked, until the chain ends: presenting it
	// again is the sign of a stolen token.
	rec.rotated = true
	m.refresh[oldHash] = rec
	next := old
	next.Hash = newHash
	m.refresh[newHash] = memRefresh{rt: next}
	next.AMR = slices.Clone(next.AMR)
	return next, nil
}

func (m *Memory) sweepRefreshLocked(now time.Time) {
	for h, rec := range m.refresh {
		if !now.Before(rec.rt.ExpiresAt) {
			delete(m.refresh, h)
		}
	}
}
