package config

import (
	"encoding/json"
	"testing"
)

func TestCaddyfileJWT(t *testing.T) {
	p, err := parse(`passgate {
		jwt {
			issuer https://auth.example.com
			audience api.example.com
			access_ttl 5m
			key new-2026 {file./etc/passgate/jwt-new.pem}
			key old-2025 /etc/passgate/jwt-old.pub.pem
		}
		headers {
			assertion X-Passgate-Assertion
			pass_credentials
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(struct {
		JWT     *JWTConfig
		Headers HeadersConfig
	}{p.JWT, p.Headers})
	want := `{"JWT":{"issuer":"https://auth.example.com","audience":"api.example.com","access_ttl":300000000000,` +
		`"keys":[{"id":"new-2026","pem":"{file./etc/passgate/jwt-new.pem}"},{"id":"old-2025","pem":"/etc/passgate/jwt-old.pub.pem"}]},` +
		`"Headers":{"assertion":"X-Passgate-Assertion","pass_credentials":true}}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCaddyfileJWTErrorsNameTheLine(t *testing.T) {
	wantParseErrors(t, []parseErrorCase{
		{"unknown option", "passgate {\n\tjwt {\n\t\talg HS256\n\t}\n}", 3, "unknown jwt option"},
		{"ttl too long", "passgate {\n\tjwt {\n\t\taccess_ttl 2h\n\t}\n}", 3, "at most 1h"},
		{"ttl not a duration", "passgate {\n\tjwt {\n\t\taccess_ttl soon\n\t}\n}", 3, "bad duration"},
		{"key without file", "passgate {\n\tjwt {\n\t\tkey k1\n\t}\n}", 3, "jwt key"},
		{"bad kid", "passgate {\n\tjwt {\n\t\tkey a/b /x.pem\n\t}\n}", 3, "key id"},
		{"duplicate kid", "passgate {\n\tjwt {\n\t\tkey k /a.pem\n\t\tkey k /b.pem\n\t}\n}", 4, "used twice"},
		{"issuer twice on a line", "passgate {\n\tjwt {\n\t\tissuer a b\n\t}\n}", 3, ""},
		{"arg on block", "passgate {\n\tjwt x {\n\t}\n}", 2, ""},
		{"bad assertion header", "passgate {\n\theaders {\n\t\tassertion X:A\n\t}\n}", 3, "header name"},
		{"pass_credentials takes no value", "passgate {\n\theaders {\n\t\tpass_credentials yes\n\t}\n}", 3, ""},
	})
}
