package httpkit

import (
	"strings"
	"testing"
)

func TestBackendsCheck(t *testing.T) {
	secret := strings.Repeat("s", 40)
	b := NewBackends(map[string]string{"shop": secret, "blog": strings.Repeat("b", 32)})
	for _, tc := range []struct {
		id, secret string
		want       bool
	}{
		{"shop", secret, true},
		{"shop", secret + "x", false},
		{"shop", secret[:39], false},
		{"shop", "", false},
		{"blog", secret, false},
		{"nobody", secret, false},
		{"", "", false},
		{"SHOP", secret, false},
	} {
		if got := b.Check(tc.id, tc.secret); got != tc.want {
			t.Errorf("Check(%q, %d bytes) = %v, want %v", tc.id, len(tc.secret), got, tc.want)
		}
	}
	var none *Backends
	if none.Check("shop", secret) || none.Len() != 0 {
		t.Fatal("a nil Backends let a client in")
	}
	if empty := NewBackends(nil); empty.Check("", "") {
		t.Fatal("no clients, yet an empty id and secret passed")
	}
}
