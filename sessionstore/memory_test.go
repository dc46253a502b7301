package sessionstore_test

import (
	"testing"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sessionstore.Store {
		m := sessionstore.NewMemory(nil, 0)
		t.Cleanup(func() { m.Close() })
		return m
	})
}
