// Package admin is passgate's part of Caddy's admin API (module
// admin.api.passgate): an operator lists a user's sessions, ends them all,
// and blocks or unblocks the user, under /passgate/ on Caddy's admin
// endpoint, so it is protected as the rest of that API is. It also adds
// the `caddy passgate` command, which calls those routes.
//
// The passgate handlers of the running config register their engines
// here (Provision) and leave (Cleanup); an operation goes to every store
// they use, once per store, or to the one its ?store= names.
package admin

import (
	"slices"
	"sync"

	"github.com/passgate/caddy-passgate/verify"
)

// Entry is one passgate handler's engine, as registered.
type Entry struct {
	// key names the store: handlers with the same key share users and
	// sessions, so one of them speaks for all.
	key string
	// Store is the store's name in answers and in ?store=: its backend
	// and key prefix ("memory passgate:", "redis passgate:").
	Store  string
	engine *verify.Engine
}

var registry struct {
	mu      sync.Mutex
	entries []*Entry // in the order registered: the newest config last
}

// Register adds a passgate handler's engine, whose store key identifies
// the store it uses and label names it to operators. Unregister it at
// Cleanup.
func Register(key, label string, e *verify.Engine) *Entry {
	en := &Entry{key: key, Store: label, engine: e}
	registry.mu.Lock()
	registry.entries = append(registry.entries, en)
	registry.mu.Unlock()
	return en
}

// Unregister removes an entry; nil is none.
func Unregister(en *Entry) {
	if en == nil {
		return
	}
	registry.mu.Lock()
	registry.entries = slices.DeleteFunc(registry.entries, func(x *Entry) bool { return x == en })
	registry.mu.Unlock()
}

// stores returns one entry per store, the newest registered of each (a
// reload provisions the new config before it cleans up the old one), in
// order of their store's name; only those named store if it is not "".
func stores(store string) []*Entry {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	var out []*Entry
	for i := len(registry.entries) - 1; i >= 0; i-- {
		en := registry.entries[i]
		if store != "" && en.Store != store {
			continue
		}
		if !slices.ContainsFunc(out, func(x *Entry) bool { return x.key == en.key }) {
			out = append(out, en)
		}
	}
	slices.SortStableFunc(out, func(a, b *Entry) int {
		switch {
		case a.Store < b.Store:
			return -1
		case a.Store > b.Store:
			return 1
		}
		return 0
	})
	return out
}
