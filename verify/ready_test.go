package verify_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
)

// downStore is a store whose ping fails while down is set.
type downStore struct {
	sessionstore.Store
	down atomic.Bool
}

func (d *downStore) Ping(ctx context.Context) error {
	if d.down.Load() {
		return errors.Join(sessionstore.ErrUnavailable, errors.New("connection refused"))
	}
	return d.Store.Ping(ctx)
}

// Ready follows the store's ping and emits an event on each change only:
// a first check that finds it up emits nothing, one that finds it down
// does.
func TestReadyEmitsChangesOnly(t *testing.T) {
	st := &downStore{Store: memory.New(nil, 0)}
	heard := &events{}
	s, _, _ := newService(t, withStore(st), withListener(heard))
	ctx := context.Background()
	caller := verify.Caller{Door: "native", ClientIP: "192.0.2.7"}
	check := func(wantErr bool) {
		t.Helper()
		err := s.Ready(ctx, caller)
		if (err != nil) != wantErr || err != nil && !errors.Is(err, verify.ErrUnavailable) {
			t.Fatalf("Ready: %v, want an error %v", err, wantErr)
		}
	}
	check(false)
	check(false)
	st.down.Store(true)
	check(true)
	check(true)
	st.down.Store(false)
	check(false)
	check(false)
	got := heard.take()
	if want := []verify.EventKind{verify.EventStoreDown, verify.EventStoreUp}; !slices.Equal(kinds(got), want) {
		t.Fatalf("events %v, want %v", kinds(got), want)
	}
	if got[0].Err == nil || got[0].Caller != caller || got[1].Err != nil {
		t.Fatalf("events %+v", got)
	}

	// A first check that finds the store down says so.
	s2, _, _ := newService(t, withStore(st), withListener(heard))
	st.down.Store(true)
	if s2.Ready(ctx, caller) == nil {
		t.Fatal("Ready with the store down: nil")
	}
	if k := kinds(heard.take()); !slices.Equal(k, []verify.EventKind{verify.EventStoreDown}) {
		t.Fatalf("first check, store down: events %v", k)
	}
}
