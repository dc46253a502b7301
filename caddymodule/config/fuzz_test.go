package config

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Seeds are in testdata/fuzz/<FuzzName>/ as well as here.

// The Caddyfile parser never panics, and what it accepts serialises.
func FuzzCaddyfile(f *testing.F) {
	for _, s := range []string{
		"secret {env.X}\nstore redis redis://127.0.0.1:6379 {\nprefix p:\n}",
		"allow email *@example.com\nrole admin email a@example.com",
		"code {\nlength 8\n}\nsession {\nidle 1h\n}\nlimits {\nstarts_per_ip 5 1m\n}",
		"headers {\nemail off\n}\ncookie {\ninsecure\n}",
		"jwt {\nkey k1 {file./x.pem}\n}\npage {\ncolor \"#112233\"\n}",
		"email smtp 127.0.0.1:25 {\nfrom a@b.c\ntls starttls\n}\nsms webhook https://x/y {\nsecret {env.S}\n}",
		"role a email *\nrequire a /x /y/*\nrequire a {\npath *.pdf\n}",
		"{\n}", "}", "public", "store redis", "require", "require a {\n}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		// Tokenised as Caddy's adapter does, which refuses what does not
		// tokenise before any directive sees it (NewTestDispenser would
		// exit the process instead).
		tokens, err := caddyfile.Tokenize([]byte("passgate {\n"+body+"\n}"), "Caddyfile")
		if err != nil {
			return
		}
		p := new(Config)
		err = p.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
		if err != nil {
			return
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("accepted config does not serialise: %v", err)
		}
	})
}
