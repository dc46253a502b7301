package config

import (
	"encoding/json"
	"testing"
)

// Both forms of require read into the same JSON: roles, then paths.
func TestCaddyfileRequire(t *testing.T) {
	p, err := parse(`passgate {
		role admin email root@example.com
		role ops email *@ops.example.com
		require admin /admin /admin/*
		require ops admin {
			path /reports/* /billing
			path *.pdf
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(p.Require)
	want := `[{"roles":["admin"],"paths":["/admin","/admin/*"]},` +
		`{"roles":["ops","admin"],"paths":["/reports/*","/billing","*.pdf"]}]`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCaddyfileRequireErrors(t *testing.T) {
	const roles = "passgate {\n\trole admin email a@example.com\n"
	wantParseErrors(t, []parseErrorCase{
		{"no arguments", roles + "\trequire\n}", 3, "want <role>... <path>..."},
		{"paths only", roles + "\trequire /admin\n}", 3, "want <role>... <path>..."},
		{"no path", roles + "\trequire admin\n}", 3, "at least one role and one path"},
		{"role after a path", roles + "\trequire admin /admin ops\n}", 3, `"ops": must start with / or *`},
		{"unknown role", roles + "\trequire amdin /admin/*\n}", 3, `no role line gives the role "amdin"`},
		{"placeholder", roles + "\trequire admin /{env.X}/*\n}", 3, "no placeholders"},
		{"unknown option", roles + "\trequire admin {\n\t\tpaths /x\n\t}\n}", 4, `unknown require option "paths"`},
		{"path without paths", roles + "\trequire admin {\n\t\tpath\n\t}\n}", 4, ""},
		{"under base_path", roles + "\trequire admin /auth/*\n}", 3, "/auth is passgate's own"},
		{"a compat mount", roles + "\tcompat nhost\n\trequire admin {\n\t\tpath /x /NHOST/v1/signin/*\n\t}\n}", 4, "passgate's own"},
		{"empty block", roles + "\trequire admin {\n\t}\n}", 3, "at least one role and one path"},
	})
}
