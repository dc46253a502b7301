package httpkit

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/passgate/caddy-passgate/verify"
)

// Backends authenticates backend clients: app servers that call a door's
// server-to-server routes with an id and a secret (`client <id> { secret
// <s> }`). A door checks the id and secret it was given with Check and
// then calls the engine with BackendCaller, so that the client's own rate
// limits count the call.
type Backends struct {
	secrets map[string][sha256.Size]byte
}

// noClient is compared against when the id is unknown, so that an unknown
// id costs what a known one does.
var noClient = sha256.Sum256([]byte("passgate: no such client"))

// NewBackends holds the clients' secrets (id -> secret, placeholders
// replaced). It keeps only their SHA-256 digests: comparing digests of
// equal length says nothing of a secret's length.
func NewBackends(secrets map[string]string) *Backends {
	b := &Backends{secrets: make(map[string][sha256.Size]byte, len(secrets))}
	for id, s := range secrets {
		b.secrets[id] = sha256.Sum256([]byte(s))
	}
	return b
}

// Check reports whether secret is the secret of the client id, comparing
// in constant time. A nil Backends, or one without clients, knows nobody.
// Neither value is ever logged.
func (b *Backends) Check(id, secret string) bool {
	want, known := noClient, false
	if b != nil {
		if s, ok := b.secrets[id]; ok {
			want, known = s, true
		}
	}
	got := sha256.Sum256([]byte(secret))
	match := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	return known && match && id != "" && secret != ""
}

// Len is the number of clients.
func (b *Backends) Len() int {
	if b == nil {
		return 0
	}
	return len(b.secrets)
}

// BackendCaller is env.Caller(r) for a call made by the authenticated
// backend client id: the engine counts it against the client's budgets.
func (env *Env) BackendCaller(r *http.Request, id string) verify.Caller {
	c := env.Caller(r)
	c.Client = id
	return c
}
