package config

import (
	"strings"
	"testing"
)

func TestCaddyfileClients(t *testing.T) {
	cfg, err := parse(`passgate {
		client shop-backend {
			secret {env.SHOP_CLIENT_SECRET}
		}
		client blog.v2 {
			secret {file./run/secrets/blog}
		}
		limits {
			starts_per_client 100 1m
			verifies_per_client 200 1m
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []ClientConfig{{"shop-backend", "{env.SHOP_CLIENT_SECRET}"}, {"blog.v2", "{file./run/secrets/blog}"}}
	if len(cfg.Clients) != 2 || cfg.Clients[0] != want[0] || cfg.Clients[1] != want[1] {
		t.Fatalf("clients %+v, want %+v", cfg.Clients, want)
	}
	l := cfg.Limits.Limits()
	if l.StartsPerClient != 100 || l.VerifiesPerClient != 200 || l.StartsPerClientWindow.Minutes() != 1 {
		t.Fatalf("client limits %+v", l)
	}
}

func TestCaddyfileClientErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"literal secret", "client shop {\n secret " + strings.Repeat("x", 40) + "\n}", "client shop: the secret must come from a placeholder, {env.X} or {file./path}, not sit in the config, at Testfile:3"},
		{"no secret", "client shop", "client shop: a secret is required (secret {env.CLIENT_SECRET}), at Testfile:2"},
		{"duplicate", "client shop {\n secret {env.A}\n}\nclient shop {\n secret {env.B}\n}", "client shop is configured twice, at Testfile:5"},
		{"bad id", "client sh/op {\n secret {env.A}\n}", "client id \"sh/op\""},
		{"no id", "client {\n secret {env.A}\n}", "wrong argument count"},
		{"two ids", "client a b {\n secret {env.A}\n}", "wrong argument count"},
		{"unknown option", "client shop {\n scopes all\n}", "unknown client option \"scopes\""},
		{"bad limit", "limits {\n starts_per_client 0 1m\n}", "starts_per_client"},
		{"long limit window", "limits {\n verifies_per_client 5 48h\n}", "verifies_per_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("passgate {\n" + tc.in + "\n}")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestClientSecretsReplaced(t *testing.T) {
	t.Setenv("PASSGATE_TEST_CLIENT_OK", strings.Repeat("k", 32))
	t.Setenv("PASSGATE_TEST_CLIENT_SHORT", strings.Repeat("k", 31))
	cfg := &Config{Clients: []ClientConfig{{ID: "ok", Secret: "{env.PASSGATE_TEST_CLIENT_OK}"}}}
	got, err := cfg.ClientSecrets()
	if err != nil || got["ok"] != strings.Repeat("k", 32) {
		t.Fatalf("secrets %v, %v", len(got), err)
	}
	cfg.Clients = append(cfg.Clients, ClientConfig{ID: "short", Secret: "{env.PASSGATE_TEST_CLIENT_SHORT}"})
	if _, err := cfg.ClientSecrets(); err == nil || !strings.Contains(err.Error(), "client short: the secret is 31 bytes; at least 32") {
		t.Fatalf("a 31-byte secret: %v", err)
	} else if strings.Contains(err.Error(), strings.Repeat("k", 31)) {
		t.Fatal("the error shows the secret")
	}
	cfg.Clients = []ClientConfig{{ID: "unset", Secret: "{env.PASSGATE_TEST_CLIENT_UNSET}"}}
	if _, err := cfg.ClientSecrets(); err == nil {
		t.Fatal("an unset placeholder was accepted")
	}
}

// The JSON form keeps the same rules (Check), which never sees the
// Caddyfile.
func TestClientsCheckedInJSON(t *testing.T) {
	cfg := &Config{Clients: []ClientConfig{{ID: "a", Secret: "{env.A}"}, {ID: "a", Secret: "{env.B}"}}}
	if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate in JSON: %v", err)
	}
	cfg = &Config{Clients: []ClientConfig{{ID: "a", Secret: strings.Repeat("x", 64)}}}
	if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("literal in JSON: %v", err)
	}
}
