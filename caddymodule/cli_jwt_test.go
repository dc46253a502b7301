package caddymodule_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateJWTKeys(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	site := func(jwt string) string {
		return ":0 {\n\tpassgate {\n\t\tjwt {\n" + jwt + "\n\t\t}\n\t}\n\trespond ok\n}\n"
	}
	for _, tc := range []struct {
		name, caddyfile, cmd, want string
		ok                         bool
	}{
		{"derived keys", site("\t\t\tissuer https://auth.example.com"), "validate", "Valid configuration", true},
		{"missing key file", site("\t\t\tkey k1 " + filepath.Join(dir, "nope.pem")), "validate", "jwt key k1", false},
		{"not PEM", site("\t\t\tkey k1 {file." + notPEM + "}"), "validate", "no PEM block", false},
		{"ttl names the line", site("\t\t\taccess_ttl 3h"), "adapt", "Caddyfile:4", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCaddy(t, tc.caddyfile, tc.cmd)
			if (err == nil) != tc.ok || !strings.Contains(out, tc.want) || strings.Contains(out, "panic") {
				t.Fatalf("%s: err %v, output lacks %q:\n%s", tc.cmd, err, tc.want, out)
			}
		})
	}
}
