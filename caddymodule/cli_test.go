package caddymodule_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

func runCaddy(t *testing.T, caddyfile string, args ...string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.CaddyBinary(t), append(args, "--adapter", "caddyfile", "--config", path)...)
	cmd.Env = append(os.Environ(), "PASSGATE_SECRET=0123456789abcdef0123456789abcdef", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// `caddy validate` provisions everything but must not need Redis.
func TestValidateWithUnreachableRedis(t *testing.T) {
	out, err := runCaddy(t, `{
	admin off
}
:0 {
	passgate {
		secret {env.PASSGATE_SECRET}
		store redis redis://127.0.0.1:1/0
		email log
		allow email *@example.com
	}
	respond ok
}
`, "validate")
	if err != nil || !strings.Contains(out, "Valid configuration") {
		t.Fatalf("validate: %v\n%s", err, out)
	}
}

func TestValidateExampleCaddyfile(t *testing.T) {
	b, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runCaddy(t, string(b), "validate"); err != nil || !strings.Contains(out, "Valid configuration") {
		t.Fatalf("validate Caddyfile.example: %v\n%s", err, out)
	}
}

func TestBadConfigErrorsAreClear(t *testing.T) {
	for _, tc := range []struct {
		name, caddyfile, cmd, want string
	}{
		{"adapt names the line", ":0 {\n\tpassgate {\n\t\tcode {\n\t\t\tlength 4\n\t\t}\n\t}\n}\n", "adapt", "Caddyfile:4"},
		{"validate names the line", ":0 {\n\tpassgate {\n\t\tallow email\n\t}\n}\n", "validate", "Caddyfile:3"},
		{"short secret from env", ":0 {\n\tpassgate {\n\t\tsecret {env.PASSGATE_SHORT}\n\t}\n}\n", "validate", "secret 1"},
		{"redis without secret", ":0 {\n\tpassgate {\n\t\tstore redis redis://127.0.0.1:1\n\t}\n}\n", "validate", "a secret is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCaddy(t, tc.caddyfile, tc.cmd)
			if err == nil {
				t.Fatalf("%s accepted bad config:\n%s", tc.cmd, out)
			}
			if !strings.Contains(out, tc.want) || strings.Contains(out, "panic") {
				t.Fatalf("%s output lacks %q:\n%s", tc.cmd, tc.want, out)
			}
		})
	}
}
