package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// The three ways to reach Redis, said in the Caddyfile, and the JSON they
// adapt to: the mode is the syntax's, never the number of addresses'.
func TestStoreCaddyfile(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"url", `store redis rediss://redis.internal:6380/1 {
			username passgate
			password {env.REDIS_PASSWORD}
			tls {
				ca /etc/redis/ca.pem
				server_name redis.internal
				client_cert /etc/passgate/redis.pem /etc/passgate/redis.key
			}
			timeout 1s
		}`, `{"backend":"redis","url":"rediss://redis.internal:6380/1","username":"passgate","password":"{env.REDIS_PASSWORD}",` +
			`"tls":{"ca":"/etc/redis/ca.pem","server_name":"redis.internal","client_cert":"/etc/passgate/redis.pem","client_key":"/etc/passgate/redis.key"},` +
			`"timeout":1000000000}`},
		{"sentinel", `store redis sentinel mymaster 10.0.0.1:26379 10.0.0.2:26379 {
			password {env.REDIS_PASSWORD}
			sentinel_password {env.SENTINEL_PASSWORD}
			prefix app:
		}`, `{"backend":"redis","mode":"sentinel","master":"mymaster","addrs":["10.0.0.1:26379","10.0.0.2:26379"],` +
			`"password":"{env.REDIS_PASSWORD}","sentinel_password":"{env.SENTINEL_PASSWORD}","prefix":"app:"}`},
		{"sentinel with one sentinel", `store redis sentinel mymaster [::1]:26379`,
			`{"backend":"redis","mode":"sentinel","master":"mymaster","addrs":["[::1]:26379"]}`},
		{"cluster", `store redis cluster 10.0.0.1:6379 10.0.0.2:6379 10.0.0.3:6379 {
			tls
		}`, `{"backend":"redis","mode":"cluster","addrs":["10.0.0.1:6379","10.0.0.2:6379","10.0.0.3:6379"],"tls":{}}`},
		{"cluster with one seed", `store redis cluster redis.internal:6379`,
			`{"backend":"redis","mode":"cluster","addrs":["redis.internal:6379"]}`},
		{"addresses from the environment", `store redis cluster {env.REDIS_NODE}`,
			`{"backend":"redis","mode":"cluster","addrs":["{env.REDIS_NODE}"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parse("passgate {\n" + tc.in + "\n}")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(p.Store)
			if string(got) != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
			if err := p.Store.validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
		})
	}
}

func TestStoreCaddyfileErrors(t *testing.T) {
	wantParseErrors(t, []parseErrorCase{
		{"sentinel without anything", "passgate {\n\tstore redis sentinel\n}", 2, "<master name> <host:port>"},
		{"sentinel without sentinels", "passgate {\n\tstore redis sentinel mymaster\n}", 2, "<master name> <host:port>"},
		{"cluster without nodes", "passgate {\n\tstore redis cluster\n}", 2, "<host:port>"},
		{"cluster node without port", "passgate {\n\tstore redis cluster 10.0.0.1\n}", 2, `address "10.0.0.1": want host:port`},
		{"cluster node bad port", "passgate {\n\tstore redis cluster 10.0.0.1:99999\n}", 2, "want host:port"},
		{"sentinel address without host", "passgate {\n\tstore redis sentinel m :26379\n}", 2, "want host:port"},
		{"url and more", "passgate {\n\tstore redis redis://a:6379 redis://b:6379\n}", 2, ""},
		{"sentinel_password on a cluster", "passgate {\n\tstore redis cluster a:1 {\n\t\tprefix x:\n\t\tsentinel_password p\n\t}\n}", 4, "sentinel_password is for store redis sentinel"},
		{"sentinel_password with a url", "passgate {\n\tstore redis redis://a:1 {\n\t\tsentinel_password p\n\t}\n}", 3, "sentinel_password is for store redis sentinel"},
		{"password twice", "passgate {\n\tstore redis redis://:pw@a:1 {\n\t\ttimeout 1s\n\t\tpassword p\n\t}\n}", 4, "give it once"},
		{"tls with redis://", "passgate {\n\tstore redis redis://a:1 {\n\t\ttls\n\t}\n}", 3, "rediss://"},
		{"tls client_cert without key", "passgate {\n\tstore redis cluster a:1 {\n\t\ttls {\n\t\t\tclient_cert c.pem\n\t\t}\n\t}\n}", 4, "client_cert: want <certificate file> <key file>"},
		{"tls unknown option", "passgate {\n\tstore redis cluster a:1 {\n\t\ttls {\n\t\t\tinsecure_skip_verify\n\t\t}\n\t}\n}", 4, "unknown store tls option"},
		{"tls argument", "passgate {\n\tstore redis cluster a:1 {\n\t\ttls on\n\t}\n}", 3, ""},
		{"memory with a password", "passgate {\n\tstore memory {\n\t\tpassword p\n\t}\n}", 3, "store memory has no password"},
		{"memory with tls", "passgate {\n\tstore memory {\n\t\ttls\n\t}\n}", 3, "store memory has no tls"},
		{"unknown redis option", "passgate {\n\tstore redis cluster a:1 {\n\t\tdb 2\n\t}\n}", 3, "unknown store option"},
		{"password without value", "passgate {\n\tstore redis cluster a:1 {\n\t\tpassword\n\t}\n}", 3, ""},
	})
}

// A JSON config goes through the same rules (Validate).
func TestStoreConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  StoreConfig
		want string
	}{
		{"redis without anything", StoreConfig{Backend: "redis"}, "a URL is required"},
		{"unknown mode", StoreConfig{Backend: "redis", Mode: "ring", Addrs: []string{"a:1"}}, "unknown mode"},
		{"sentinel without master", StoreConfig{Backend: "redis", Mode: "sentinel", Addrs: []string{"a:1"}}, "master's name"},
		{"sentinel with a url", StoreConfig{Backend: "redis", Mode: "sentinel", Master: "m", Addrs: []string{"a:1"}, URL: "redis://a:1"}, "no URL"},
		{"cluster with a master", StoreConfig{Backend: "redis", Mode: "cluster", Master: "m", Addrs: []string{"a:1"}}, "no URL or master"},
		{"url with addresses", StoreConfig{Backend: "redis", URL: "redis://a:1", Addrs: []string{"b:1"}}, "no master or addresses"},
		{"memory with addresses", StoreConfig{Backend: "memory", Addrs: []string{"a:1"}}, "only prefix"},
		{"unknown backend", StoreConfig{Backend: "etcd"}, "unknown store"},
		{"key without certificate", StoreConfig{Backend: "redis", Mode: "cluster", Addrs: []string{"a:1"}, TLS: &StoreTLS{ClientKey: "k.pem"}}, "both the certificate and the key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate: %v, want %q", err, tc.want)
			}
		})
	}
	// A password never appears in an error.
	cfg := StoreConfig{Backend: "redis", URL: "redis://:s3cret-pw@a:1/x?bad=%zz"}
	if err := cfg.validate(); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("validate of a bad URL with a password: %v", err)
	}
}
