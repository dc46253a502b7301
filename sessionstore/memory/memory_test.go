package memory_test

import (
	"testing"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/sessionstore/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sessionstore.Store {
		m := memory.New(nil, 0)
		t.Cleanup(func() { m.Close() })
		return m
	})
}
