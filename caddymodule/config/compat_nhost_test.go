package config

import (
	"encoding/json"
	"testing"

	"github.com/passgate/caddy-passgate/caddymodule/nhost"
)

// compat nhost: the mount must end in /v1, said at config time with the
// reason; the options are checked where they stand.
func TestCaddyfileCompatNhost(t *testing.T) {
	wantParseErrors(t, []parseErrorCase{
		{"mount without /v1", "passgate {\n\tcompat nhost /nhost\n}", 2, "must end in /v1: @nhost/nhost-js skips its refresh"},
		{"mount with /v2", "passgate {\n\tcompat nhost /auth/v2\n}", 2, "must end in /v1"},
		{"mount with v1 inside", "passgate {\n\tcompat nhost /v1/auth\n}", 2, "must end in /v1"},
		// Named at the compat line: the door's settings are checked as one.
		{"role read as an array", "passgate {\n\tcompat nhost {\n\t\tdefault_role {a,b}\n\t}\n}", 2, "default_role"},
		{"role with a space", "passgate {\n\tcompat nhost {\n\t\tdefault_role \"a b\"\n\t}\n}", 2, "default_role"},
		{"role missing", "passgate {\n\tcompat nhost {\n\t\tdefault_role\n\t}\n}", 3, ""},
		{"unknown option", "passgate {\n\tcompat nhost {\n\t\tclient_url https://x\n\t}\n}", 3, "unknown compat nhost option"},
		{"same mount twice", "passgate {\n\tcompat nhost\n\tcompat nhost /nhost/v1\n}", 3, "already another door's"},
	})
	p, err := parse("passgate {\n\tcompat nhost\n\tcompat nhost /api/v1 {\n\t\tdefault_role member\n\t\tissuer https://auth.example.com\n\t}\n}")
	if err != nil {
		t.Fatal(err)
	}
	var second nhost.Config
	if err := json.Unmarshal(p.Compat[1].Options, &second); err != nil {
		t.Fatal(err)
	}
	if len(p.Compat) != 2 || p.Compat[0].Path != "" || p.Compat[0].Options != nil || p.Compat[1].Path != "/api/v1" ||
		second != (nhost.Config{DefaultRole: "member", Issuer: "https://auth.example.com"}) {
		t.Fatalf("parsed %+v", p.Compat)
	}
}
